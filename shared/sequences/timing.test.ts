import { describe, expect, it } from 'vitest';
import { SequenceSteps } from './schema.ts';
import { durationMs, nextWeekdayTime } from './timing.ts';
import { branchHolds, waitEnd } from './workflow.ts';

describe('durations', () => {
  it('reads weeks, days, hours, minutes and seconds', () => {
    expect(durationMs('PT30S')).toBe(30_000);
    expect(durationMs('PT2S')).toBe(2000);
    expect(durationMs('P2D')).toBe(2 * 86_400_000);
    expect(durationMs('P1DT12H')).toBe(36 * 3_600_000);
    expect(durationMs('P1W')).toBe(7 * 86_400_000);
    expect(durationMs('PT1H30M')).toBe(90 * 60_000);
  });

  it('refuses months, years, fractions, empty parts and junk', () => {
    for (const bad of ['P1M', 'P1Y', 'PT0.5S', 'P', 'PT', 'P1DT', '2D', 'p2d', 'P-1D', '']) {
      expect(durationMs(bad), bad).toBeUndefined();
    }
  });
});

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('next weekday and local time', () => {
  it('is later today when the time has not passed, else the next wanted day', () => {
    // Tuesday 2026-12-01 08:00 in Berlin (UTC+1).
    const from = at('2026-12-01T07:00:00Z');
    expect(iso(nextWeekdayTime(from, ['tue'], '09:00', 'Europe/Berlin'))).toBe('2026-12-01T08:00:00.000Z');
    expect(iso(nextWeekdayTime(from, ['tue'], '07:30', 'Europe/Berlin'))).toBe('2026-12-08T06:30:00.000Z');
    expect(iso(nextWeekdayTime(from, ['mon', 'fri'], '09:00', 'Europe/Berlin'))).toBe('2026-12-04T08:00:00.000Z');
  });

  it('uses the local date, not the UTC one', () => {
    // Sunday 23:30 UTC is already Monday 08:30 in Tokyo.
    const from = at('2026-11-29T23:30:00Z');
    expect(iso(nextWeekdayTime(from, ['mon'], '09:00', 'Asia/Tokyo'))).toBe('2026-11-30T00:00:00.000Z');
  });

  it('keeps the local time across DST changes (Berlin spring forward and fall back)', () => {
    // Friday 27 March 2026 09:00 CET (UTC+1); Monday 30 March is CEST (UTC+2).
    const spring = at('2026-03-27T10:00:00Z');
    expect(iso(nextWeekdayTime(spring, ['mon'], '09:00', 'Europe/Berlin'))).toBe('2026-03-30T07:00:00.000Z');
    // Friday 23 October 2026 (CEST) to Monday 26 October (CET).
    const fall = at('2026-10-23T10:00:00Z');
    expect(iso(nextWeekdayTime(fall, ['mon'], '09:00', 'Europe/Berlin'))).toBe('2026-10-26T08:00:00.000Z');
  });

  it('moves a time skipped by the gap forward, and takes the first of a repeated time', () => {
    // 29 March 2026: 02:00 → 03:00 in Berlin; 02:30 does not exist and becomes 03:30 CEST (01:30Z).
    const beforeGap = at('2026-03-28T12:00:00Z');
    expect(iso(nextWeekdayTime(beforeGap, ['sun'], '02:30', 'Europe/Berlin'))).toBe('2026-03-29T01:30:00.000Z');
    // 25 October 2026: 02:30 happens twice; the first is 02:30 CEST (00:30Z).
    const beforeRepeat = at('2026-10-24T12:00:00Z');
    expect(iso(nextWeekdayTime(beforeRepeat, ['sun'], '02:30', 'Europe/Berlin'))).toBe('2026-10-25T00:30:00.000Z');
  });

  it('a wait step counts from when the enrolment reached it; waitUntil defaults to the sequence zone, then UTC', () => {
    const from = at('2026-12-01T07:00:00Z');
    expect(waitEnd({ id: 'w', type: 'wait', duration: 'PT2S' }, from)).toBe(from + 2000);
    const step = { id: 'u', type: 'waitUntil' as const, weekdays: ['tue' as const], time: '09:00' };
    expect(iso(waitEnd(step, from))).toBe('2026-12-01T09:00:00.000Z');
    expect(iso(waitEnd(step, from, 'America/New_York'))).toBe('2026-12-01T14:00:00.000Z');
    expect(iso(waitEnd({ ...step, timeZone: 'Europe/Berlin' }, from, 'America/New_York'))).toBe(
      '2026-12-01T08:00:00.000Z',
    );
  });
});

describe('branch evaluation', () => {
  it('opened holds for an open or a click; clicked only for a click; replied for a reply', () => {
    const opened = { openedAt: '2026-12-01T10:00:00Z' };
    const clicked = { clickedAt: '2026-12-01T10:00:00Z' };
    expect(branchHolds('opened', { ledger: opened })).toBe(true);
    expect(branchHolds('opened', { ledger: clicked })).toBe(true);
    expect(branchHolds('opened', { ledger: {} })).toBe(false);
    expect(branchHolds('opened', {})).toBe(false);
    expect(branchHolds('clicked', { ledger: opened })).toBe(false);
    expect(branchHolds('clicked', { ledger: clicked })).toBe(true);
    expect(branchHolds('replied', { ledger: clicked })).toBe(false);
    expect(branchHolds('replied', { repliedAt: '2026-12-01T10:00:00Z' })).toBe(true);
  });
});

describe('step validation', () => {
  const send = { id: 's1', type: 'send', templateId: 'tpl1' };
  const issues = (steps: unknown) => {
    const parsed = SequenceSteps.safeParse(steps);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('accepts every kind of step, with forward branches on an earlier send', () => {
    expect(
      issues([
        send,
        { id: 'w1', type: 'wait', duration: 'PT2S' },
        { id: 'b1', type: 'branch', on: 'opened', sendStep: 's1', ifTrue: 's2', ifFalse: 't1' },
        { id: 's2', type: 'send', templateId: 'tpl2' },
        { id: 't1', type: 'task', title: 'Call them', dueInDays: 2 },
        { id: 'u1', type: 'waitUntil', weekdays: ['mon', 'tue'], time: '09:00', timeZone: 'Europe/Berlin' },
      ]),
    ).toEqual([]);
  });

  it('refuses duplicate ids, backward or unknown branch targets, a branch on a non-send, bad waits', () => {
    expect(issues([send, send])).toEqual(['1.id: Duplicate step id "s1".']);
    expect(
      issues([
        send,
        { id: 'w1', type: 'wait', duration: 'PT1S' },
        { id: 'b1', type: 'branch', on: 'clicked', sendStep: 'w1', ifTrue: 's1', ifFalse: 'nope' },
      ]),
    ).toEqual([
      '2.sendStep: Must name an earlier send step.',
      '2.ifTrue: Must name a later step of this sequence.',
      '2.ifFalse: Must name a later step of this sequence.',
    ]);
    expect(issues([{ id: 'w', type: 'wait', duration: 'P1M' }])[0]).toMatch(/^0.duration: An ISO 8601 duration/);
    expect(issues([{ id: 'w', type: 'wait', duration: 'P200D' }])).toEqual(['0.duration: At most 180 days.']);
    expect(issues([{ id: 'u', type: 'waitUntil', weekdays: [], time: '25:00', timeZone: 'Mars/Base' }])).toHaveLength(
      3,
    );
    expect(issues([{ id: 'bad id', type: 'task', title: 'x' }])).toHaveLength(1);
    expect(issues([])).toHaveLength(1);
    expect(issues(Array.from({ length: 51 }, (_, i) => ({ id: `t${i}`, type: 'task', title: 'x' })))).toHaveLength(1);
  });
});
