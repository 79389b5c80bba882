import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addBusinessMinutes,
  type BusinessCalendarRules,
  businessMinutesBetween,
  type HoursInterval,
  instantOfWallTime,
  isValidTimeZone,
  isWithinBusinessHours,
  MAX_HORIZON_DAYS,
  NoBusinessHoursError,
  WEEKDAYS,
} from './business-time.ts';

const nineToFive: HoursInterval[] = [{ start: '09:00', end: '17:00' }];
const weekdays = (hours: HoursInterval[]) => ({ mon: hours, tue: hours, wed: hours, thu: hours, fri: hours });
const allWeek = (hours: HoursInterval[]) => ({ ...weekdays(hours), sat: hours, sun: hours });

const berlin: BusinessCalendarRules = {
  timeZone: 'Europe/Berlin',
  weeklyHours: weekdays(nineToFive),
  holidays: [{ date: '2020-12-25', recurring: true }, { date: '2020-12-26', recurring: true }, { date: '2027-01-01' }],
};
const newYork: BusinessCalendarRules = { timeZone: 'America/New_York', weeklyHours: weekdays(nineToFive) };
const berlinAlways: BusinessCalendarRules = {
  timeZone: 'Europe/Berlin',
  weeklyHours: allWeek([{ start: '00:00', end: '24:00' }]),
};
const newYorkAlways: BusinessCalendarRules = {
  timeZone: 'America/New_York',
  weeklyHours: allWeek([{ start: '00:00', end: '24:00' }]),
};

const at = (iso: string) => new Date(iso);
const add = (c: BusinessCalendarRules, iso: string, minutes: number) => addBusinessMinutes(c, at(iso), minutes);

describe('addBusinessMinutes, hand-checked', () => {
  it('a ticket opened Friday 17:30 with a 4-hour target lands Monday 13:00', () => {
    // Fri 2026-11-27 17:30 CET (+01:00) = 16:30Z is after closing: nothing counts until Mon 2026-11-30 09:00 CET;
    // 09:00 + 4 h = 13:00 CET = 12:00Z.
    expect(add(berlin, '2026-11-27T16:30:00Z', 240).toISOString()).toBe('2026-11-30T12:00:00.000Z');
  });

  it('within one day, and a target reached exactly at closing time is that closing time', () => {
    // Tue 2026-12-01 10:15 CET + 90 min = 11:45 CET (10:45Z).
    expect(add(berlin, '2026-12-01T09:15:00Z', 90).toISOString()).toBe('2026-12-01T10:45:00.000Z');
    // 13:00 CET + 4 h = 17:00 CET (16:00Z), the close, not the next morning.
    expect(add(berlin, '2026-12-01T12:00:00Z', 240).toISOString()).toBe('2026-12-01T16:00:00.000Z');
    // One minute more: 17:00 is the close, so the last minute is Wed 09:00-09:01 CET (08:01Z).
    expect(add(berlin, '2026-12-01T12:00:00Z', 241).toISOString()).toBe('2026-12-02T08:01:00.000Z');
  });

  it('before opening, the clock starts at opening; 0 minutes is the next business instant', () => {
    // Wed 2026-12-02 07:00 CET: opens 09:00 CET (08:00Z); + 30 min = 08:30Z.
    expect(add(berlin, '2026-12-02T06:00:00Z', 30).toISOString()).toBe('2026-12-02T08:30:00.000Z');
    expect(add(berlin, '2026-12-02T06:00:00Z', 0).toISOString()).toBe('2026-12-02T08:00:00.000Z');
    // Inside hours, 0 minutes is the start itself.
    expect(add(berlin, '2026-12-02T10:00:00Z', 0).toISOString()).toBe('2026-12-02T10:00:00.000Z');
  });

  it('skips a holiday and the weekend after it (Christmas, recurring yearly)', () => {
    // Thu 2026-12-24 16:00 CET (15:00Z): 60 min until 17:00. Fri 25 is a recurring holiday, Sat 26 is one too (and a
    // Saturday), Sun 27 has no hours. Mon 28 09:00 CET + the remaining 180 min = 12:00 CET = 11:00Z.
    expect(add(berlin, '2026-12-24T15:00:00Z', 240).toISOString()).toBe('2026-12-28T11:00:00.000Z');
    // A one-off holiday: Fri 2027-01-01. Thu 2026-12-31 16:30 CET: 30 min; Fri off; Mon 2027-01-04 09:00 CET + 30 min
    // = 09:30 CET = 08:30Z.
    expect(add(berlin, '2026-12-31T15:30:00Z', 60).toISOString()).toBe('2027-01-04T08:30:00.000Z');
  });

  it('spring forward in Berlin (Sun 2027-03-28, 02:00 CET → 03:00 CEST): Friday is +01:00, Monday +02:00', () => {
    // Fri 2027-03-26 15:00 CET (14:00Z): 120 min until 17:00 CET. Mon 2027-03-29 09:00 CEST (07:00Z) + 120 min
    // = 11:00 CEST = 09:00Z.
    expect(add(berlin, '2027-03-26T14:00:00Z', 240).toISOString()).toBe('2027-03-29T09:00:00.000Z');
    // Round the clock: 24 business hours are 24 real hours, from Sat 12:00 CET (11:00Z) to Sun 11:00Z, which the
    // wall clock shows as 13:00 CEST because its 02:00-03:00 never happened.
    expect(add(berlinAlways, '2027-03-27T11:00:00Z', 1440).toISOString()).toBe('2027-03-28T11:00:00.000Z');
    // Sunday 2027-03-28 has 23 real hours: 00:00 CET (2027-03-27T23:00Z) to 24:00 CEST (2027-03-28T22:00Z).
    expect(businessMinutesBetween(berlinAlways, at('2027-03-27T23:00:00Z'), at('2027-03-28T22:00:00Z'))).toBe(23 * 60);
  });

  it('fall back in Berlin (Sun 2026-10-25, 03:00 CEST → 02:00 CET): that Sunday has 25 hours', () => {
    // 00:00 CEST (2026-10-24T22:00Z) to 24:00 CET (2026-10-25T23:00Z) = 25 h.
    expect(businessMinutesBetween(berlinAlways, at('2026-10-24T22:00:00Z'), at('2026-10-25T23:00:00Z'))).toBe(25 * 60);
    // Fri 2026-10-23 16:00 CEST (14:00Z): 60 min; Mon 2026-10-26 09:00 CET (08:00Z) + 60 min = 09:00Z.
    expect(add(berlin, '2026-10-23T14:00:00Z', 120).toISOString()).toBe('2026-10-26T09:00:00.000Z');
  });

  it('fall back in New York (Sun 2026-11-01, 02:00 EDT → 01:00 EST)', () => {
    // Fri 2026-10-30 15:00 EDT (-04:00) = 19:00Z: 120 min until 17:00 EDT. Mon 2026-11-02 09:00 EST (-05:00) = 14:00Z,
    // + 120 min = 16:00Z (11:00 EST).
    expect(add(newYork, '2026-10-30T19:00:00Z', 240).toISOString()).toBe('2026-11-02T16:00:00.000Z');
    // Round the clock: Sat 12:00 EDT (16:00Z) + 24 h = Sun 16:00Z, shown as 11:00 EST (01:00-02:00 happened twice).
    expect(add(newYorkAlways, '2026-10-31T16:00:00Z', 1440).toISOString()).toBe('2026-11-01T16:00:00.000Z');
  });

  it('spring forward in New York (Sun 2027-03-14, 02:00 EST → 03:00 EDT)', () => {
    // Fri 2027-03-12 16:00 EST (21:00Z): 60 min. Mon 2027-03-15 09:00 EDT (13:00Z) + 180 min = 16:00Z (12:00 EDT).
    expect(add(newYork, '2027-03-12T21:00:00Z', 240).toISOString()).toBe('2027-03-15T16:00:00.000Z');
  });

  it('a night interval across the change counts real time (Sun 01:00-04:00 is 2 h in spring, 4 h in autumn)', () => {
    const sundayNights: BusinessCalendarRules = {
      timeZone: 'Europe/Berlin',
      weeklyHours: { sun: [{ start: '01:00', end: '04:00' }] },
    };
    // 2027-03-28: 01:00 CET = 00:00Z, 04:00 CEST = 02:00Z.
    expect(businessMinutesBetween(sundayNights, at('2027-03-27T12:00:00Z'), at('2027-03-28T12:00:00Z'))).toBe(120);
    // 2026-10-25: 01:00 CEST = 2026-10-24T23:00Z, 04:00 CET = 03:00Z.
    expect(businessMinutesBetween(sundayNights, at('2026-10-24T12:00:00Z'), at('2026-10-25T12:00:00Z'))).toBe(240);
    // From Saturday noon, 150 min: 120 this Sunday, then the next Sunday 2027-04-04 01:00 CEST (2027-04-03T23:00Z)
    // + 30 min = 23:30Z.
    expect(add(sundayNights, '2027-03-27T12:00:00Z', 150).toISOString()).toBe('2027-04-03T23:30:00.000Z');
  });

  it('never counts twice when a skipped wall time moves an interval onto the next one', () => {
    // Sun 2027-03-28 in Berlin, 01:00-02:45 and 03:00-04:00: 02:45 does not exist and becomes 03:45 CEST, past the
    // second interval's 03:00 CEST. Together they cover 01:00 CET (00:00Z) to 04:00 CEST (02:00Z): 120 min, not 165.
    const overlapping: BusinessCalendarRules = {
      timeZone: 'Europe/Berlin',
      weeklyHours: {
        sun: [
          { start: '01:00', end: '02:45' },
          { start: '03:00', end: '04:00' },
        ],
      },
    };
    expect(businessMinutesBetween(overlapping, at('2027-03-27T12:00:00Z'), at('2027-03-28T12:00:00Z'))).toBe(120);
    expect(add(overlapping, '2027-03-27T12:00:00Z', 120).toISOString()).toBe('2027-03-28T02:00:00.000Z');
  });

  it('resolves skipped and repeated wall times like Temporal "compatible"', () => {
    // 2027-03-28 02:30 does not exist in Berlin: it becomes 03:30 CEST = 01:30Z.
    expect(new Date(instantOfWallTime(Date.UTC(2027, 2, 28, 2, 30), 'Europe/Berlin')).toISOString()).toBe(
      '2027-03-28T01:30:00.000Z',
    );
    // 2026-10-25 02:30 happens twice in Berlin: the first, 02:30 CEST = 00:30Z.
    expect(new Date(instantOfWallTime(Date.UTC(2026, 9, 25, 2, 30), 'Europe/Berlin')).toISOString()).toBe(
      '2026-10-25T00:30:00.000Z',
    );
  });

  it('split days and shifts across midnight (22:00-24:00 then 00:00-02:00)', () => {
    const split: BusinessCalendarRules = {
      timeZone: 'Europe/Berlin',
      weeklyHours: weekdays([
        { start: '09:00', end: '12:30' },
        { start: '13:30', end: '18:00' },
      ]),
    };
    // Tue 2026-12-01 12:00 CET (11:00Z): 30 min to 12:30, lunch, 13:30 + 30 min = 14:00 CET = 13:00Z.
    expect(add(split, '2026-12-01T11:00:00Z', 60).toISOString()).toBe('2026-12-01T13:00:00.000Z');
    const nights: BusinessCalendarRules = {
      timeZone: 'Asia/Kolkata', // +05:30, no DST
      weeklyHours: { fri: [{ start: '22:00', end: '24:00' }], sat: [{ start: '00:00', end: '02:00' }] },
    };
    // Fri 2026-12-04 23:00 IST (17:30Z): 60 min to midnight, then Sat 00:00 + 60 = 01:00 IST = 2026-12-04T19:30Z.
    expect(add(nights, '2026-12-04T17:30:00Z', 120).toISOString()).toBe('2026-12-04T19:30:00.000Z');
    expect(businessMinutesBetween(nights, at('2026-12-04T17:30:00Z'), at('2026-12-04T19:30:00Z'))).toBe(120);
  });
});

describe('businessMinutesBetween, hand-checked', () => {
  it('Friday 16:00 to Monday 10:00 is 2 business hours; the order of the arguments gives the sign', () => {
    // Fri 2026-11-27 16:00 CET (15:00Z) to 17:00: 60; Mon 2026-11-30 09:00-10:00 CET: 60.
    expect(businessMinutesBetween(berlin, at('2026-11-27T15:00:00Z'), at('2026-11-30T09:00:00Z'))).toBe(120);
    expect(businessMinutesBetween(berlin, at('2026-11-30T09:00:00Z'), at('2026-11-27T15:00:00Z'))).toBe(-120);
    expect(businessMinutesBetween(berlin, at('2026-11-28T10:00:00Z'), at('2026-11-29T10:00:00Z'))).toBe(0);
  });
});

describe('validation and limits', () => {
  it('knows IANA zones through Intl and refuses others without throwing', () => {
    for (const zone of ['Europe/Berlin', 'America/New_York', 'UTC', 'Asia/Kolkata'])
      expect(isValidTimeZone(zone)).toBe(true);
    for (const zone of ['Mars/Olympus', '', 'Europe/Berlin ', '../etc', '+25:00'])
      expect(isValidTimeZone(zone)).toBe(false);
  });

  it('refuses negative or non-finite minutes and gives up on a calendar without hours', () => {
    expect(() => add(berlin, '2026-12-01T10:00:00Z', -1)).toThrow(RangeError);
    expect(() => add(berlin, '2026-12-01T10:00:00Z', Number.NaN)).toThrow(RangeError);
    expect(() => add({ timeZone: 'UTC', weeklyHours: {} }, '2026-12-01T10:00:00Z', 1)).toThrow(NoBusinessHoursError);
  });
});

// ---- properties ---------------------------------------------------------------------------------------------------

const ZONES = [
  'Europe/Berlin',
  'America/New_York',
  'America/Los_Angeles',
  'Australia/Sydney',
  'Asia/Kolkata',
  'UTC',
  'America/Santiago',
  'Pacific/Chatham',
];

const hhmm = (m: number) =>
  m === 1440 ? '24:00' : `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

/** One day's hours: up to three disjoint intervals on a 15-minute grid (so they also hit the 02:00-03:00 changes). */
const dayHours = fc
  .uniqueArray(fc.integer({ min: 0, max: 96 }), { minLength: 0, maxLength: 6 })
  .map((points) => points.sort((a, b) => a - b))
  .map((points) => {
    const intervals: HoursInterval[] = [];
    for (let i = 0; i + 1 < points.length; i += 2) {
      intervals.push({ start: hhmm(points[i]! * 15), end: hhmm(points[i + 1]! * 15) });
    }
    return intervals;
  });

const calendarArb = fc
  .record({
    timeZone: fc.constantFrom(...ZONES),
    hours: fc.array(dayHours, { minLength: 7, maxLength: 7 }),
    holidays: fc.array(
      fc.record({
        date: fc.date({ min: new Date('2024-01-01'), max: new Date('2028-12-31'), noInvalidDate: true }),
        recurring: fc.boolean(),
      }),
      { maxLength: 10 },
    ),
  })
  .filter(({ hours }) => hours.some((h) => h.length > 0))
  .map(
    ({ timeZone, hours, holidays }): BusinessCalendarRules => ({
      timeZone,
      weeklyHours: Object.fromEntries(WEEKDAYS.map((day, i) => [day, hours[i]!])),
      holidays: holidays.map((h) => ({ date: h.date.toISOString().slice(0, 10), recurring: h.recurring })),
    }),
  );

/**
 * `addBusinessMinutes`, or undefined when the calendar is too thin to give that much within the search horizon (a
 * random calendar may have a quarter of an hour a week): then the horizon must indeed hold less than was asked.
 */
function addOrUnreachable(calendar: BusinessCalendarRules, start: Date, minutes: number): Date | undefined {
  try {
    return addBusinessMinutes(calendar, start, minutes);
  } catch (error) {
    if (!(error instanceof NoBusinessHoursError)) throw error;
    const horizonEnd = new Date(start.getTime() + (MAX_HORIZON_DAYS - 2) * 86_400_000);
    expect(businessMinutesBetween(calendar, start, horizonEnd)).toBeLessThan(minutes);
    return undefined;
  }
}

const instantArb = fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2028, 0, 1) }).map((ms) => new Date(ms));

// Heavy pure computation: on a loaded machine 150 runs can take longer than vitest's 5-second default.
describe('properties', { timeout: 120_000 }, () => {
  it('measuring what was added gives the minutes back, and the result is inside business hours', () => {
    fc.assert(
      fc.property(calendarArb, instantArb, fc.integer({ min: 0, max: 20_000 }), (calendar, start, minutes) => {
        const due = addOrUnreachable(calendar, start, minutes);
        if (!due) return;
        expect(due.getTime()).toBeGreaterThanOrEqual(start.getTime());
        expect(businessMinutesBetween(calendar, start, due)).toBe(minutes);
        expect(isWithinBusinessHours(calendar, due)).toBe(true);
      }),
      // Always tried: a quarter of an hour a week cannot give 20,000 minutes within the horizon.
      {
        numRuns: 150,
        examples: [
          [
            { timeZone: 'UTC', weeklyHours: { wed: [{ start: '10:00', end: '10:15' }] } },
            new Date('2026-01-05'),
            20_000,
          ],
        ],
      },
    );
  });

  it('is monotonic in the minutes and additive in the instants', () => {
    fc.assert(
      fc.property(
        calendarArb,
        instantArb,
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 5000 }),
        (calendar, start, m1, m2) => {
          const first = addOrUnreachable(calendar, start, m1);
          const both = addOrUnreachable(calendar, start, m1 + m2);
          if (!first || !both) return;
          expect(both.getTime()).toBeGreaterThanOrEqual(first.getTime());
          // Adding in two steps lands where adding at once does (once inside hours, the clock just keeps going).
          expect(m2 === 0 || addBusinessMinutes(calendar, first, m2).getTime() === both.getTime()).toBe(true);
          const between = (a: Date, b: Date) => businessMinutesBetween(calendar, a, b);
          expect(between(start, first) + between(first, both)).toBe(between(start, both));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('round the clock, business minutes are elapsed minutes in every zone, DST or not', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ZONES), instantArb, fc.integer({ min: 0, max: 100_000 }), (zone, start, m) => {
        const always: BusinessCalendarRules = {
          timeZone: zone,
          weeklyHours: allWeek([{ start: '00:00', end: '24:00' }]),
        };
        expect(addBusinessMinutes(always, start, m).getTime() - start.getTime()).toBe(m * 60_000);
      }),
      { numRuns: 100 },
    );
  });
});
