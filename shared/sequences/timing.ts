import { instantOfWallTime, wallClockOf } from '../sla/business-time.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A wait step may last at most this long (Step Functions' standard executions end after a year). */
export const MAX_WAIT_MS = 180 * DAY;

/**
 * ISO 8601 durations in weeks, days, hours, minutes and seconds (`P2D`, `PT30S`, `P1DT12H`, `P1W`). Years and months
 * are refused: their length depends on the calendar, and "wait 30 days" says what it means.
 */
const DURATION = /^P(?!$)(?:(\d{1,3})W)?(?:(\d{1,3})D)?(?:T(?=\d)(?:(\d{1,4})H)?(?:(\d{1,6})M)?(?:(\d{1,8})S)?)?$/;

/** Milliseconds of a duration, or undefined when it is not one we accept. */
export function durationMs(duration: string): number | undefined {
  const m = DURATION.exec(duration);
  if (!m) return undefined;
  const [w, d, h, min, s] = m.slice(1).map((v) => Number(v ?? 0)) as [number, number, number, number, number];
  return w * 7 * DAY + d * DAY + h * HOUR + min * MINUTE + s * SECOND;
}

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/**
 * The first instant after `from` that is one of `weekdays` at local `time` ("09:00") in `timeZone`. DST as the
 * campaign schedule resolves it: a time skipped by a spring-forward gap moves forward by the gap, a repeated one is
 * its first occurrence. Always within 8 local days.
 */
export function nextWeekdayTime(from: number, weekdays: readonly Weekday[], time: string, timeZone: string): number {
  const [hour, minute] = time.split(':').map(Number) as [number, number];
  const today = Math.floor(wallClockOf(from, timeZone) / DAY) * DAY;
  const wanted = new Set(weekdays.map((w) => WEEKDAYS.indexOf(w)));
  for (let day = 0; day <= 7; day++) {
    const wall = today + day * DAY + hour * HOUR + minute * MINUTE;
    if (!wanted.has(new Date(wall).getUTCDay())) continue;
    const instant = instantOfWallTime(wall, timeZone);
    if (instant > from) return instant;
  }
  throw new RangeError('no weekday given');
}
