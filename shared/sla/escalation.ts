/**
 * What the ticket SLA workflow does with due times (pure): the timers still ahead of a ticket, and what an escalation
 * changes on a breach. The workflow (tickets module) schedules the next timer, and when it fires re-reads the ticket,
 * recomputes its due times and acts on what `slaTargetState` says now, so a stale timer does nothing wrong.
 */
import type { SlaDueTimesView } from './due-times.ts';
import { SLA_PRIORITIES, type SlaPolicyView, type SlaPriority } from './schema.ts';

export type SlaTargetName = 'firstResponse' | 'resolution';

export interface SlaTimer {
  target: SlaTargetName;
  kind: 'warning' | 'breach';
  /** ISO instant (UTC). */
  at: string;
}

export interface SlaMet {
  /** The first public reply (met the first-response target). */
  firstRespondedAt?: string | null | undefined;
  /** Solved (met the resolution target). */
  resolvedAt?: string | null | undefined;
}

/** The warnings and breaches still to come for targets not yet met, soonest first (a warning before its breach). */
export function slaTimers(due: SlaDueTimesView, met: SlaMet = {}): SlaTimer[] {
  const timers: SlaTimer[] = [];
  const add = (target: SlaTargetName, warnAt: string | null, dueAt: string | null) => {
    if (warnAt !== null) timers.push({ target, kind: 'warning', at: warnAt });
    if (dueAt !== null) timers.push({ target, kind: 'breach', at: dueAt });
  };
  if (met.firstRespondedAt == null) add('firstResponse', due.firstResponseWarnAt, due.firstResponseDueAt);
  if (met.resolvedAt == null) add('resolution', due.resolutionWarnAt, due.resolutionDueAt);
  const rank = (t: SlaTimer) => (t.kind === 'warning' ? 0 : 1);
  return timers.sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || rank(a) - rank(b));
}

/** The first timer after `after` (the last one handled, or now), if any: what to schedule next. */
export function nextSlaTimer(due: SlaDueTimesView, met: SlaMet, after: Date): SlaTimer | undefined {
  return slaTimers(due, met).find((t) => Date.parse(t.at) > after.getTime());
}

export interface EscalationPlan {
  /** The ticket's priority after the escalation. */
  priority: SlaPriority;
  /** The ticket's team after the escalation (undefined: it has none). */
  teamId: string | undefined;
  /** Whose lead to mail (the team after any reassignment); undefined: nobody. */
  notifyLeadOfTeamId: string | undefined;
  /** Whether the ticket itself changes (priority or team). */
  changesTicket: boolean;
}

/** One step up; urgent stays urgent. */
export const raisedPriority = (priority: SlaPriority): SlaPriority =>
  SLA_PRIORITIES[Math.min(SLA_PRIORITIES.indexOf(priority) + 1, SLA_PRIORITIES.length - 1)]!;

/** What a breach does to a ticket under the policy's escalation settings. */
export function escalationPlan(
  escalation: SlaPolicyView['escalation'],
  ticket: { priority: SlaPriority; teamId?: string | undefined },
): EscalationPlan {
  const priority = escalation.raisePriority ? raisedPriority(ticket.priority) : ticket.priority;
  const teamId = escalation.reassignToTeamId ?? ticket.teamId;
  return {
    priority,
    teamId,
    notifyLeadOfTeamId: escalation.notifyTeamLead ? teamId : undefined,
    changesTicket: priority !== ticket.priority || teamId !== ticket.teamId,
  };
}
