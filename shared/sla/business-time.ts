/**
 * Business-hours arithmetic on a calendar with an IANA time zone, weekly hours and holidays. Pure: no I/O, only
 * `Intl` for the zone's offsets (no date library: Node's Intl carries the tz database, and Lambda's Node has it too).
 *
 * Model: each local date of the zone has zero or more business intervals (its weekday's hours, none on a holiday),
 * each turned into a pair of UTC instants. Wall times are resolved like Temporal's `disambiguation: 'compatible'`: a
 * time skipped by a spring-forward gap moves forward by the gap (02:30 → 03:30 in Berlin), a repeated fall-back time
 * is its first occurrence. So an interval spanning a change lasts its real elapsed time (00:00-24:00 is 23 hours on
 * spring-forward day), and business minutes are always real elapsed minutes inside business hours.
 */

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** Local wall times "HH:MM"; `end` may be "24:00" (the end of the day). Within a day: start < end, sorted, disjoint. */
export interface HoursInterval {
  start: string;
  end: string;
}

export interface Holiday {
  /** Local date YYYY-MM-DD. */
  date: string;
  /** Every year on the same month and day (29 February only in leap years). */
  recurring?: boolean | undefined;
}

export interface BusinessCalendarRules {
  timeZone: string;
  weeklyHours: Partial<Record<Weekday, readonly HoursInterval[]>>;
  holidays?: readonly Holiday[] | undefined;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
/**
 * How far ahead `addBusinessMillis` looks (about ten years of local days): a calendar without hours, or a target
 * longer than its hours give in ten years, ends the search instead of looping (bounded work per call).
 */
export const MAX_HORIZON_DAYS = 3660;
/** Instants the arithmetic accepts: Intl and Date.UTC agree on years 1000-9999. */
const MIN_INSTANT = Date.UTC(1000, 0, 1);
const MAX_INSTANT = Date.UTC(9999, 0, 1);

export class NoBusinessHoursError extends Error {
  constructor() {
    super(`The calendar does not give that much business time within ${MAX_HORIZON_DAYS} days.`);
  }
}

function checkInstant(instant: number): void {
  if (!(instant >= MIN_INSTANT && instant <= MAX_INSTANT)) throw new RangeError('Instants must be in years 1000-9999.');
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** True when Intl knows the zone (IANA names and aliases such as "UTC"); never throws. */
export function isValidTimeZone(timeZone: string): boolean {
  if (typeof timeZone !== 'string' || timeZone.length === 0 || timeZone.length > 64) return false;
  try {
    formatterOf(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The zone's wall-clock time at `instant`, as milliseconds of a UTC date with the same fields. */
export function wallClockOf(instant: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const part of formatterOf(timeZone).formatToParts(instant)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  // Intl drops milliseconds; offsets are whole seconds, so they carry over unchanged.
  return wall + (((instant % 1000) + 1000) % 1000);
}

const offsetAt = (instant: number, timeZone: string) => wallClockOf(instant, timeZone) - instant;

/**
 * The instant of a local wall time (`wall`: milliseconds of a UTC date with the same fields). Zones change offset at
 * most once within a day either side, so the candidates are the wall time at the offsets a day before and after.
 */
export function instantOfWallTime(wall: number, timeZone: string): number {
  const before = wall - offsetAt(wall - DAY, timeZone);
  const after = wall - offsetAt(wall + DAY, timeZone);
  const valid = [before, after].filter((t) => wallClockOf(t, timeZone) === wall);
  if (valid.length > 0) return Math.min(...valid); // a repeated (fall-back) time: its first occurrence
  // Skipped by a gap: keep the offset from before the change, which lands after the gap by its length.
  return before;
}

/** Local calendar day (days since 1970-01-01) of an instant in the zone. */
const localDayOf = (instant: number, timeZone: string) => Math.floor(wallClockOf(instant, timeZone) / DAY);

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** A calendar prepared for repeated use: holidays as sets, intervals in minutes of the day. */
interface Prepared {
  timeZone: string;
  byWeekday: Array<Array<[number, number]>>;
  dates: Set<string>;
  monthDays: Set<string>;
  days: Map<number, Array<[number, number]>>;
}

/** Keyed by the calendar object, so treat a calendar as immutable once used (services read a fresh one each time). */
const prepared = new WeakMap<BusinessCalendarRules, Prepared>();

function prepare(calendar: BusinessCalendarRules): Prepared {
  let p = prepared.get(calendar);
  if (!p) {
    p = {
      timeZone: calendar.timeZone,
      byWeekday: WEEKDAYS.map((day) =>
        (calendar.weeklyHours[day] ?? [])
          .map((i): [number, number] => [minutesOf(i.start), minutesOf(i.end)])
          .sort((a, b) => a[0] - b[0]),
      ),
      dates: new Set((calendar.holidays ?? []).filter((h) => !h.recurring).map((h) => h.date)),
      monthDays: new Set((calendar.holidays ?? []).filter((h) => h.recurring).map((h) => h.date.slice(5))),
      days: new Map(),
    };
    prepared.set(calendar, p);
  }
  return p;
}

/** The business intervals of a local day as [start, end) instants (ms), in order; none on a holiday. */
function intervalsOfDay(p: Prepared, day: number): Array<[number, number]> {
  const cached = p.days.get(day);
  if (cached) return cached;
  const date = new Date(day * DAY).toISOString().slice(0, 10);
  const result: Array<[number, number]> = [];
  if (!p.dates.has(date) && !p.monthDays.has(date.slice(5))) {
    const weekday = new Date(day * DAY).getUTCDay();
    // A wall time moved forward by a spring-forward gap may pass the next interval's start: never count twice.
    let previousEnd = Number.NEGATIVE_INFINITY;
    for (const [startMinute, endMinute] of p.byWeekday[weekday]!) {
      const start = Math.max(instantOfWallTime(day * DAY + startMinute * MINUTE, p.timeZone), previousEnd);
      const end = instantOfWallTime(day * DAY + endMinute * MINUTE, p.timeZone);
      if (end > start) {
        result.push([start, end]);
        previousEnd = end;
      }
    }
  }
  if (p.days.size > 20_000) p.days.clear(); // bounded memory for a long-lived container
  p.days.set(day, result);
  return result;
}

/**
 * The instant at which `minutes` of business time have passed since `start`. A target reached exactly at closing time
 * is that closing time (a 4-hour target from 13:00 on a 09:00-17:00 day is 17:00, not the next morning); 0 minutes
 * gives the first business instant at or after `start`. Minutes may be fractional; they must be finite and ≥ 0.
 */
export function addBusinessMinutes(calendar: BusinessCalendarRules, start: Date, minutes: number): Date {
  if (!Number.isFinite(minutes) || minutes < 0) throw new RangeError('minutes must be a finite number ≥ 0.');
  return new Date(addBusinessMillis(calendar, start.getTime(), Math.round(minutes * MINUTE)));
}

/** `addBusinessMinutes` in whole milliseconds (exact integer arithmetic, for callers that subtract and add again). */
export function addBusinessMillis(calendar: BusinessCalendarRules, from: number, millis: number): number {
  checkInstant(from);
  const p = prepare(calendar);
  let remaining = millis;
  // Start a day early: the previous local day's intervals may end after `from` (never by much, but cheap to check).
  const first = localDayOf(from, p.timeZone) - 1;
  for (let day = first; day <= first + MAX_HORIZON_DAYS; day++) {
    for (const [s, e] of intervalsOfDay(p, day)) {
      if (e <= from) continue;
      const begin = Math.max(s, from);
      const available = e - begin;
      if (remaining <= available) return begin + remaining;
      remaining -= available;
    }
  }
  throw new NoBusinessHoursError();
}

/**
 * Business minutes between two instants (negative when `b` is before `a`): the real time inside business intervals.
 * The inverse of `addBusinessMinutes`: `businessMinutesBetween(c, a, addBusinessMinutes(c, a, m)) === m`.
 */
export function businessMinutesBetween(calendar: BusinessCalendarRules, a: Date, b: Date): number {
  return businessMillisBetween(calendar, a.getTime(), b.getTime()) / MINUTE;
}

/** `businessMinutesBetween` in whole milliseconds. */
export function businessMillisBetween(calendar: BusinessCalendarRules, from: number, to: number): number {
  if (to < from) return -businessMillisBetween(calendar, to, from);
  checkInstant(from);
  checkInstant(to);
  const p = prepare(calendar);
  let total = 0;
  const last = localDayOf(to, p.timeZone);
  for (let day = localDayOf(from, p.timeZone) - 1; day <= last; day++) {
    for (const [s, e] of intervalsOfDay(p, day)) {
      const overlap = Math.min(e, to) - Math.max(s, from);
      if (overlap > 0) total += overlap;
    }
  }
  return total;
}

/** Whether `instant` is inside business hours (closing time included, as `addBusinessMinutes` may land on it). */
export function isWithinBusinessHours(calendar: BusinessCalendarRules, instant: Date): boolean {
  const p = prepare(calendar);
  const t = instant.getTime();
  const day = localDayOf(t, p.timeZone);
  return [day - 1, day].some((d) => intervalsOfDay(p, d).some(([s, e]) => s <= t && t <= e));
}
