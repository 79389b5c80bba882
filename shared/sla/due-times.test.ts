import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addBusinessMinutes, type BusinessCalendarRules, businessMillisBetween } from './business-time.ts';
import { type SlaPolicyRules, slaDueTimes, slaTargetState } from './due-times.ts';

const nineToFive = [{ start: '09:00', end: '17:00' }];
const berlin: BusinessCalendarRules = {
  timeZone: 'Europe/Berlin',
  weeklyHours: { mon: nineToFive, tue: nineToFive, wed: nineToFive, thu: nineToFive, fri: nineToFive },
  holidays: [{ date: '2020-12-25', recurring: true }],
};

const target = (firstResponseMinutes: number, resolutionMinutes: number) => ({
  firstResponseMinutes,
  resolutionMinutes,
});
const policy: SlaPolicyRules = {
  targets: { low: target(480, 2400), normal: target(60, 480), high: target(30, 240), urgent: target(15, 60) },
  warnBeforeMinutes: 30,
};

describe('slaDueTimes, hand-checked (Berlin, Mon-Fri 09:00-17:00 CET)', () => {
  it('a normal ticket opened Friday 16:30: both targets and warnings run into Monday', () => {
    // Fri 2026-11-27 16:30 CET = 15:30Z. 30 business minutes are left on Friday.
    expect(slaDueTimes(policy, berlin, { priority: 'normal', createdAt: '2026-11-27T15:30:00Z' })).toEqual({
      // 60 = 30 Fri + 30 Mon: Mon 2026-11-30 09:30 CET = 08:30Z.
      firstResponseDueAt: '2026-11-30T08:30:00.000Z',
      // 60 - 30 = 30 minutes: all of Friday's, so Friday's closing, 17:00 CET = 16:00Z.
      firstResponseWarnAt: '2026-11-27T16:00:00.000Z',
      // 480 = 30 Fri + 450 Mon: 09:00 + 7 h 30 = 16:30 CET = 15:30Z.
      resolutionDueAt: '2026-11-30T15:30:00.000Z',
      // 450 = 30 Fri + 420 Mon: 16:00 CET = 15:00Z.
      resolutionWarnAt: '2026-11-30T15:00:00.000Z',
      paused: false,
    });
  });

  it('time waiting on the customer does not count', () => {
    // Opened Tue 2026-12-01 09:00 CET (08:00Z); pending from 10:00 CET (09:00Z) to Wed 11:00 CET (10:00Z).
    const due = slaDueTimes(policy, berlin, {
      priority: 'normal',
      createdAt: '2026-12-01T08:00:00Z',
      pausedIntervals: [{ from: '2026-12-01T09:00:00Z', to: '2026-12-02T10:00:00Z' }],
    });
    // First response (60) is reached exactly as the pause begins: Tue 10:00 CET = 09:00Z.
    expect(due.firstResponseDueAt).toBe('2026-12-01T09:00:00.000Z');
    // Resolution (480): 60 before the pause; 420 left from Wed 11:00 CET: 360 on Wednesday (to 17:00), 60 on
    // Thursday: Thu 2026-12-03 10:00 CET = 09:00Z.
    expect(due.resolutionDueAt).toBe('2026-12-03T09:00:00.000Z');
    // Warning at 450: 60 before, 360 Wed, 30 Thu: 09:30 CET = 08:30Z.
    expect(due.resolutionWarnAt).toBe('2026-12-03T08:30:00.000Z');
    expect(due.paused).toBe(false);
  });

  it('while the ticket still waits, a target not yet reached has no due time; one reached before keeps it', () => {
    const due = slaDueTimes(policy, berlin, {
      priority: 'normal',
      createdAt: '2026-12-01T08:00:00Z',
      pausedIntervals: [{ from: '2026-12-01T09:00:00Z', to: null }],
    });
    expect(due).toEqual({
      firstResponseDueAt: '2026-12-01T09:00:00.000Z', // reached at 10:00 CET, as the pause began
      firstResponseWarnAt: '2026-12-01T08:30:00.000Z', // 30 minutes in: 09:30 CET
      resolutionDueAt: null,
      resolutionWarnAt: null,
      paused: true,
    });
  });

  it('merges overlapping pauses, ignores the part before opening, and a pause outside hours changes nothing', () => {
    // Opened Tue 2026-12-01 09:00 CET (08:00Z). Pauses 09:30-10:30 and 10:00-11:00 CET merge into 09:30-11:00; one
    // from the day before ends at 09:00 CET, when the ticket opened. First response (60): 30 before 09:30, 30 after
    // 11:00: 11:30 CET = 10:30Z.
    const overlapping = slaDueTimes(policy, berlin, {
      priority: 'normal',
      createdAt: '2026-12-01T08:00:00Z',
      pausedIntervals: [
        { from: '2026-12-01T09:00:00Z', to: '2026-12-01T10:00:00Z' },
        { from: '2026-11-30T12:00:00Z', to: '2026-12-01T08:00:00Z' },
        { from: '2026-12-01T08:30:00Z', to: '2026-12-01T09:30:00Z' },
      ],
    });
    expect(overlapping.firstResponseDueAt).toBe('2026-12-01T10:30:00.000Z');
    // Paused over the weekend only (Sat 00:00 to Mon 08:00 CET): the same as no pause at all.
    const weekend = slaDueTimes(policy, berlin, {
      priority: 'normal',
      createdAt: '2026-11-27T15:30:00Z',
      pausedIntervals: [{ from: '2026-11-27T23:00:00Z', to: new Date('2026-11-30T07:00:00Z') }],
    });
    expect(weekend).toEqual(slaDueTimes(policy, berlin, { priority: 'normal', createdAt: '2026-11-27T15:30:00Z' }));
  });

  it('urgent across a holiday; a warning as long as the target is at the opening; no warning when 0', () => {
    // Thu 2026-12-24 16:30 CET (15:30Z), urgent: first 15 → 16:45 CET = 15:45Z; resolution 60: 30 on Thursday, Fri 25
    // is Christmas, Mon 28 09:00 + 30 = 09:30 CET = 08:30Z.
    const urgent = slaDueTimes(policy, berlin, { priority: 'urgent', createdAt: '2026-12-24T15:30:00Z' });
    expect(urgent.firstResponseDueAt).toBe('2026-12-24T15:45:00.000Z');
    expect(urgent.resolutionDueAt).toBe('2026-12-28T08:30:00.000Z');
    // warnBefore 30 ≥ the 15-minute target: warn from the start.
    expect(urgent.firstResponseWarnAt).toBe('2026-12-24T15:30:00.000Z');
    const quiet = slaDueTimes({ ...policy, warnBeforeMinutes: 0 }, berlin, {
      priority: 'urgent',
      createdAt: '2026-12-24T15:30:00Z',
    });
    expect([quiet.firstResponseWarnAt, quiet.resolutionWarnAt]).toEqual([null, null]);
  });

  it('refuses an invalid opening time', () => {
    expect(() => slaDueTimes(policy, berlin, { priority: 'low', createdAt: 'yesterday' })).toThrow(RangeError);
  });
});

describe('slaTargetState', () => {
  const due = '2026-12-01T10:00:00.000Z';
  const warn = '2026-12-01T09:30:00.000Z';
  it('achieved or breached once met; otherwise running, warning, breached or paused by the clock', () => {
    expect(slaTargetState(due, warn, '2026-12-01T10:00:00Z', new Date('2026-12-05T00:00:00Z'))).toBe('achieved');
    expect(slaTargetState(due, warn, '2026-12-01T10:00:01Z', new Date('2026-12-05T00:00:00Z'))).toBe('breached');
    expect(slaTargetState(due, warn, null, new Date('2026-12-01T09:00:00Z'))).toBe('running');
    expect(slaTargetState(due, warn, null, new Date('2026-12-01T09:30:00Z'))).toBe('warning');
    expect(slaTargetState(due, null, null, new Date('2026-12-01T09:59:00Z'))).toBe('running');
    expect(slaTargetState(due, warn, undefined, new Date('2026-12-01T10:00:01Z'))).toBe('breached');
    expect(slaTargetState(null, null, null, new Date('2026-12-01T10:00:01Z'))).toBe('paused');
  });
});

describe('properties', () => {
  const instant = fc.integer({ min: Date.UTC(2026, 0, 1), max: Date.UTC(2027, 11, 31) });
  it('business time from opening to the due time, less the paused business time, is the target', () => {
    fc.assert(
      fc.property(
        instant,
        fc.array(fc.tuple(instant, fc.integer({ min: 1, max: 5 * 86_400_000 })), { maxLength: 5 }),
        fc.constantFrom('low', 'normal', 'high', 'urgent' as const),
        (opened, spans, priority) => {
          const pausedIntervals = spans.map(([from, length]) => ({
            from: new Date(from),
            to: new Date(from + length),
          }));
          const due = slaDueTimes(policy, berlin, { priority, createdAt: new Date(opened), pausedIntervals });
          const end = Date.parse(due.resolutionDueAt!);
          // The paused business time inside [opened, end], counting overlaps once: walk minute marks of the union.
          const union = pausedIntervals
            .map((p): [number, number] => [Math.max(p.from.getTime(), opened), Math.min(p.to.getTime(), end)])
            .filter(([a, b]) => b > a)
            .sort((a, b) => a[0] - b[0])
            .reduce<Array<[number, number]>>((acc, span) => {
              const last = acc.at(-1);
              if (last && span[0] <= last[1]) last[1] = Math.max(last[1], span[1]);
              else acc.push([...span]);
              return acc;
            }, []);
          const between = (a: number, b: number) => businessMillisBetween(berlin, a, b);
          const paused = union.reduce((sum, [a, b]) => sum + between(a, b), 0);
          expect(between(opened, end) - paused).toBe(policy.targets[priority].resolutionMinutes * 60_000);
          if (pausedIntervals.length === 0) {
            expect(end).toBe(
              addBusinessMinutes(berlin, new Date(opened), policy.targets[priority].resolutionMinutes).getTime(),
            );
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
