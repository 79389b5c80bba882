import { describe, expect, it } from 'vitest';
import type { SlaDueTimesView } from './due-times.ts';
import { escalationPlan, nextSlaTimer, raisedPriority, slaTimers } from './escalation.ts';

const due: SlaDueTimesView = {
  firstResponseDueAt: '2026-11-30T12:00:00.000Z',
  firstResponseWarnAt: '2026-11-30T11:30:00.000Z',
  resolutionDueAt: '2026-12-01T16:00:00.000Z',
  resolutionWarnAt: '2026-12-01T15:30:00.000Z',
  paused: false,
};

describe('slaTimers', () => {
  it('lists the warnings and breaches of unmet targets, soonest first', () => {
    expect(slaTimers(due).map((t) => `${t.target}:${t.kind}`)).toEqual([
      'firstResponse:warning',
      'firstResponse:breach',
      'resolution:warning',
      'resolution:breach',
    ]);
    expect(slaTimers(due, { firstRespondedAt: '2026-11-30T10:00:00Z' }).map((t) => t.at)).toEqual([
      '2026-12-01T15:30:00.000Z',
      '2026-12-01T16:00:00.000Z',
    ]);
    expect(slaTimers(due, { firstRespondedAt: 'x', resolvedAt: 'y' })).toEqual([]);
  });

  it('a warning at the same instant as a breach comes first; paused targets have no timers', () => {
    const same = { ...due, resolutionWarnAt: due.firstResponseDueAt };
    expect(slaTimers(same, {}).slice(1, 3)).toEqual([
      { target: 'resolution', kind: 'warning', at: due.firstResponseDueAt },
      { target: 'firstResponse', kind: 'breach', at: due.firstResponseDueAt },
    ]);
    const paused = { ...due, resolutionDueAt: null, resolutionWarnAt: null, paused: true };
    expect(slaTimers(paused).map((t) => t.target)).toEqual(['firstResponse', 'firstResponse']);
  });

  it('the next timer is the first strictly after the given instant', () => {
    expect(nextSlaTimer(due, {}, new Date('2026-11-30T11:30:00Z'))).toEqual({
      target: 'firstResponse',
      kind: 'breach',
      at: '2026-11-30T12:00:00.000Z',
    });
    expect(nextSlaTimer(due, {}, new Date('2026-12-01T16:00:00Z'))).toBeUndefined();
  });
});

describe('escalationPlan', () => {
  it('raises the priority one step (urgent stays), reassigns, and mails the lead of the team it ends up in', () => {
    expect(raisedPriority('low')).toBe('normal');
    expect(raisedPriority('high')).toBe('urgent');
    expect(raisedPriority('urgent')).toBe('urgent');
    expect(
      escalationPlan(
        { reassignToTeamId: 'tier-2', raisePriority: true, notifyTeamLead: true },
        { priority: 'normal', teamId: 'tier-1' },
      ),
    ).toEqual({ priority: 'high', teamId: 'tier-2', notifyLeadOfTeamId: 'tier-2', changesTicket: true });
    expect(escalationPlan({ raisePriority: true, notifyTeamLead: true }, { priority: 'urgent', teamId: 't' })).toEqual({
      priority: 'urgent',
      teamId: 't',
      notifyLeadOfTeamId: 't',
      changesTicket: false,
    });
    expect(escalationPlan({ raisePriority: false, notifyTeamLead: true }, { priority: 'low' })).toEqual({
      priority: 'low',
      teamId: undefined,
      notifyLeadOfTeamId: undefined,
      changesTicket: false,
    });
  });
});
