import { describe, expect, it } from 'vitest';
import type { BusinessCalendarRules } from '../sla/business-time.ts';
import { type SlaPolicyRules, slaDueTimes } from '../sla/due-times.ts';
import {
  foldPauses,
  MAX_PAUSE_SPANS,
  needsFolding,
  pausesAfterStatus,
  type SlaPauses,
  ticketDueTimes,
} from './sla-clock.ts';

const nineToFive = [{ start: '09:00', end: '17:00' }];
const berlin: BusinessCalendarRules = {
  timeZone: 'Europe/Berlin',
  weeklyHours: { mon: nineToFive, tue: nineToFive, wed: nineToFive, thu: nineToFive, fri: nineToFive },
  holidays: [],
};
const target = (firstResponseMinutes: number, resolutionMinutes: number) => ({
  firstResponseMinutes,
  resolutionMinutes,
});
const policy: SlaPolicyRules = {
  targets: { low: target(480, 2400), normal: target(30, 120), high: target(30, 240), urgent: target(15, 60) },
  warnBeforeMinutes: 15,
};

describe('pausesAfterStatus', () => {
  it('opens a span on entering pending, closes it on leaving, and ignores other changes', () => {
    let pauses = pausesAfterStatus(undefined, 'open', 'on_hold', '2026-01-05T09:00:00.000Z');
    expect(pauses).toBeUndefined();
    pauses = pausesAfterStatus(pauses, 'open', 'pending', '2026-01-05T10:00:00.000Z');
    expect(pauses).toEqual({ spans: [{ from: '2026-01-05T10:00:00.000Z' }] });
    // Pending again while pending: still one open span.
    expect(pausesAfterStatus(pauses, 'pending', 'pending', '2026-01-05T10:30:00.000Z')).toBe(pauses);
    pauses = pausesAfterStatus(pauses, 'pending', 'open', '2026-01-05T11:00:00.000Z');
    expect(pauses).toEqual({ spans: [{ from: '2026-01-05T10:00:00.000Z', to: '2026-01-05T11:00:00.000Z' }] });
    // A ticket created pending starts paused.
    expect(pausesAfterStatus(undefined, 'new', 'pending', '2026-01-05T12:00:00.000Z')).toEqual({
      spans: [{ from: '2026-01-05T12:00:00.000Z' }],
    });
  });
});

describe('due times across a weekend and a DST change (Berlin, Mon-Fri 09:00-17:00)', () => {
  // Fri 2026-03-27 16:00 CET (15:00Z); Sunday 29 March clocks go forward: Monday opens at 09:00 CEST = 07:00Z.
  const createdAt = '2026-03-27T15:00:00.000Z';

  it('runs the targets over Saturday and Sunday into Monday, in summer time', () => {
    expect(ticketDueTimes(policy, berlin, { priority: 'normal', createdAt })).toEqual({
      // 30 minutes: Friday 16:30 CET.
      firstResponseDueAt: '2026-03-27T15:30:00.000Z',
      firstResponseWarnAt: '2026-03-27T15:15:00.000Z',
      // 120 = 60 Friday + 60 Monday: 10:00 CEST = 08:00Z (not 09:00Z: the offset changed over the weekend).
      resolutionDueAt: '2026-03-30T08:00:00.000Z',
      // 105 = 60 Friday + 45 Monday: 09:45 CEST.
      resolutionWarnAt: '2026-03-30T07:45:00.000Z',
      paused: false,
    });
  });

  it('does not count a wait on the customer over the weekend', () => {
    // Pending from Fri 16:30 CET to Mon 09:30 CEST: 30 + 30 business minutes paused, the weekend counted by neither.
    const slaPauses: SlaPauses = { spans: [{ from: '2026-03-27T15:30:00.000Z', to: '2026-03-30T07:30:00.000Z' }] };
    const due = ticketDueTimes(policy, berlin, { priority: 'normal', createdAt, slaPauses });
    // 30 minutes ran on Friday; 90 more from Monday 09:30 CEST: 11:00 CEST = 09:00Z.
    expect(due.resolutionDueAt).toBe('2026-03-30T09:00:00.000Z');
    expect(due.paused).toBe(false);
    // Still waiting: the resolution has no due time; the first response (due before the wait) keeps its own.
    const waiting = ticketDueTimes(policy, berlin, {
      priority: 'normal',
      createdAt,
      slaPauses: { spans: [{ from: '2026-03-27T15:45:00.000Z' }] },
    });
    expect(waiting).toMatchObject({
      firstResponseDueAt: '2026-03-27T15:30:00.000Z',
      resolutionDueAt: null,
      paused: true,
    });
  });

  it('counts the autumn change too: Monday after the clocks go back', () => {
    // Fri 2026-10-23 16:00 CEST (14:00Z); Sunday 25 October back to CET: Monday opens 09:00 CET = 08:00Z.
    const due = ticketDueTimes(policy, berlin, { priority: 'normal', createdAt: '2026-10-23T14:00:00.000Z' });
    expect(due.resolutionDueAt).toBe('2026-10-26T09:00:00.000Z');
  });
});

describe('folding old pause spans', () => {
  const createdAt = '2026-01-05T08:00:00.000Z'; // Mon 09:00 CET
  /** n waits of 20 minutes, one an hour from creation (some overnight ones included as the hours run on). */
  function history(n: number): SlaPauses {
    let pauses: SlaPauses | undefined;
    for (let i = 0; i < n; i++) {
      const from = new Date(Date.parse(createdAt) + i * 3_600_000 + 10 * 60_000).toISOString();
      const to = new Date(Date.parse(from) + 20 * 60_000).toISOString();
      pauses = pausesAfterStatus(pauses, 'open', 'pending', from);
      pauses = pausesAfterStatus(pauses, 'pending', 'open', to);
    }
    return pauses!;
  }
  const longPolicy: SlaPolicyRules = {
    targets: { ...policy.targets, normal: target(30, 60 * 8 * 15) },
    warnBeforeMinutes: 60,
  };

  it('keeps at most MAX_PAUSE_SPANS and gives the due times the whole history gives', () => {
    const all = history(MAX_PAUSE_SPANS + 12);
    expect(needsFolding(all)).toBe(true);
    const folded = foldPauses(all, createdAt, berlin);
    expect(folded.spans).toHaveLength(MAX_PAUSE_SPANS);
    expect(folded.folded).toMatchObject({ count: 12 });
    expect(needsFolding(folded)).toBe(false);
    const exact = slaDueTimes(longPolicy, berlin, { priority: 'normal', createdAt, pausedIntervals: all.spans });
    // The first response fell due before the folded spans ended: it keeps the value stored before folding.
    const previous = { firstResponseDueAt: exact.firstResponseDueAt, firstResponseWarnAt: exact.firstResponseWarnAt };
    expect(ticketDueTimes(longPolicy, berlin, { priority: 'normal', createdAt, slaPauses: folded }, previous)).toEqual(
      exact,
    );
    // Folding again later (more waits) adds to the total and still agrees.
    let more: SlaPauses = folded;
    for (let i = 0; i < 5; i++) {
      const from = new Date(Date.parse('2026-01-20T09:00:00.000Z') + i * 7_200_000).toISOString();
      more = pausesAfterStatus(more, 'open', 'pending', from)!;
      more = pausesAfterStatus(more, 'pending', 'open', new Date(Date.parse(from) + 1_800_000).toISOString())!;
    }
    const refolded = foldPauses(more, createdAt, berlin);
    expect(refolded.folded!.count).toBe(17);
    const allSpans = [...all.spans, ...more.spans.slice(MAX_PAUSE_SPANS)];
    const exactMore = slaDueTimes(longPolicy, berlin, { priority: 'normal', createdAt, pausedIntervals: allSpans });
    expect(
      ticketDueTimes(longPolicy, berlin, { priority: 'normal', createdAt, slaPauses: refolded }, previous),
    ).toEqual(exactMore);
  });

  it('never folds the open span', () => {
    const all = history(MAX_PAUSE_SPANS);
    const open = pausesAfterStatus(all, 'open', 'pending', '2026-02-02T09:00:00.000Z')!;
    const folded = foldPauses(open, createdAt, berlin);
    expect(folded.spans.at(-1)).toEqual({ from: '2026-02-02T09:00:00.000Z' });
    expect(ticketDueTimes(longPolicy, berlin, { priority: 'normal', createdAt, slaPauses: folded }).paused).toBe(true);
  });
});
