/**
 * The ticket SLA workflow. A consumer of ticket changes (functions/events/ticket-sla.ts) recomputes a ticket's due
 * times (`syncTicketSla`), writes its `sla` view, records targets met, and keeps one one-time Scheduler schedule for
 * the ticket's next timer. When that fires, the timer (functions/scheduled/sla-timer.ts, `handleSlaTimer`) re-reads
 * the ticket, recomputes, and acts on what is due now: a warning mail, or a breach (outcome, escalation, the team
 * lead's mail). Its write comes back as a change, and the consumer schedules the next timer. Nothing trusts the
 * schedule's payload: a stale timer finds nothing due and does nothing.
 */
import { isDeepStrictEqual } from 'node:util';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { formatInZone } from '../activities/reminders.ts';
import { model } from '../db/store.ts';
import { PreconditionFailedError, ValidationError } from '../errors.ts';
import {
  applyOneTimeSchedule,
  atExpression,
  hashedScheduleName,
  type OneTimeScheduleTarget,
  type ScheduleOutcome,
} from '../scheduling/one-time.ts';
import type { SlaDueTimesView } from '../sla/due-times.ts';
import { slaTargetState } from '../sla/due-times.ts';
import { escalationPlan, type SlaTargetName, type SlaTimer, slaTimers } from '../sla/escalation.ts';
import { recordSlaOutcome } from '../sla/outcomes.ts';
import type { SlaPriority } from '../sla/schema.ts';
import { loadSlaContext, type SlaContext } from '../sla/service.ts';
import { getTeamRoster } from '../teams/members.ts';
import { findUser, type UserProfile } from '../users/directory.ts';
import { readTicket, rewriteTicket, type StoredTicket } from './service.ts';
import { ticketDueTimes } from './sla-clock.ts';
import type { TicketSlaView } from './sla-schema.ts';

/** Who the workflow's writes are by (`updatedBy`). */
export const SLA_ACTOR = 'system:sla';

/** Ticket fields the consumer writes: a change of only these is its own echo (the loop guard). */
export const SLA_FIELDS = new Set(['sla', 'version']);

/** A timer that fires late by up to this much still acts; a warning or breach a little early (clock skew) too. */
const SKEW_MS = 1_000;
/** How soon a timer already due is scheduled: Scheduler's at() has second precision. */
const IMMEDIATE_MS = 2_000;
const TARGETS: SlaTargetName[] = ['firstResponse', 'resolution'];

type TargetStatus = TicketSlaView['firstResponse'];

// ---- the view -----------------------------------------------------------------------------------------------------

/** The priority the targets count for: an escalation's own raise does not shorten the targets it escalated. */
export const clockPriority = (t: Pick<StoredTicket, 'priority' | 'sla'>): SlaPriority =>
  t.sla?.escalatedPriority !== undefined && t.sla.escalatedPriority === t.priority ? t.sla.priority : t.priority;

const metAtOf = (t: StoredTicket, target: SlaTargetName) =>
  target === 'firstResponse' ? t.firstRespondedAt : t.solvedAt;

const dueOf = (due: SlaDueTimesView, target: SlaTargetName) =>
  target === 'firstResponse'
    ? { dueAt: due.firstResponseDueAt, warnAt: due.firstResponseWarnAt }
    : { dueAt: due.resolutionDueAt, warnAt: due.resolutionWarnAt };

/** A ticket's due times now (the previous view fills in times that fell before folded pauses). */
function dueTimesOf(t: StoredTicket, context: SlaContext, priority = clockPriority(t)): SlaDueTimesView {
  const previous = t.sla?.policyId === context.policy.policyId && t.sla.priority === priority ? t.sla : undefined;
  return ticketDueTimes(
    context.rules,
    context.calendarRules,
    { priority, createdAt: t.createdAt, slaPauses: t.slaPauses },
    previous,
  );
}

/**
 * The ticket's `sla` view at `now`: due times, each target's state, and the workflow's marks kept (a warning stays
 * sent unless its warn time moved past it, e.g. after a wait on the customer, when it is due again; a breach stays
 * handled, so a target escalates once).
 */
export function ticketSla(t: StoredTicket, context: SlaContext, now: Date): TicketSlaView {
  const priority = clockPriority(t);
  const due = dueTimesOf(t, context, priority);
  const status = (target: SlaTargetName): TargetStatus => {
    const { dueAt, warnAt } = dueOf(due, target);
    const before = t.sla?.[target];
    const warnedAt =
      before?.warnedAt && (warnAt === null || Date.parse(before.warnedAt) >= Date.parse(warnAt) - SKEW_MS)
        ? before.warnedAt
        : undefined;
    const state =
      before?.breachedAt && !metAtOf(t, target) ? 'breached' : slaTargetState(dueAt, warnAt, metAtOf(t, target), now);
    return {
      state,
      ...(warnedAt ? { warnedAt } : {}),
      ...(before?.breachedAt ? { breachedAt: before.breachedAt } : {}),
      ...(before?.outcome ? { outcome: before.outcome } : {}),
    };
  };
  return {
    policyId: context.policy.policyId,
    priority,
    ...due,
    firstResponse: status('firstResponse'),
    resolution: status('resolution'),
    ...(t.sla?.escalatedPriority !== undefined && t.sla.escalatedPriority === t.priority
      ? { escalatedPriority: t.sla.escalatedPriority }
      : {}),
    computedAt: now.toISOString(),
  };
}

/** Equal but for when it was computed (a stored map's keys come back in any order). */
const sameSla = (a: TicketSlaView | undefined, b: TicketSlaView | undefined) =>
  isDeepStrictEqual(a && { ...a, computedAt: '' }, b && { ...b, computedAt: '' });

/** The warnings and breaches not yet handled, soonest first. A solved or closed ticket has none. */
export function pendingTimers(t: StoredTicket, sla: TicketSlaView): SlaTimer[] {
  if (t.status === 'solved' || t.status === 'closed' || t.deletedAt) return [];
  return slaTimers(sla, { firstRespondedAt: t.firstRespondedAt, resolvedAt: t.solvedAt }).filter((timer) =>
    timer.kind === 'warning'
      ? !sla[timer.target].warnedAt && !sla[timer.target].breachedAt
      : !sla[timer.target].breachedAt,
  );
}

/** The policy a ticket counts by: the one it names, else (or when that one is gone) the tenant's default. */
async function contextOf(t: StoredTicket): Promise<SlaContext | undefined> {
  return (
    (t.slaPolicyId ? await loadSlaContext(t.tenantId, t.slaPolicyId) : undefined) ?? (await loadSlaContext(t.tenantId))
  );
}

async function readLiveTicket(tenantId: string, ticketId: string): Promise<StoredTicket | undefined> {
  const t = await readTicket(tenantId, ticketId);
  return t && !t.deletedAt ? { ...t, id: t.ticketId } : undefined;
}

// ---- the consumer -------------------------------------------------------------------------------------------------

interface ChangeDetail {
  tenantId?: unknown;
  entityId?: unknown;
  changes?: Record<string, unknown>;
  changedFields?: string[];
}

/** The ticket a change event asks to recompute, or undefined for the consumer's own echo (a change of only `sla`). */
export function slaTicketOf(detailType: string, raw: unknown): { tenantId: string; ticketId: string } | undefined {
  const detail = (raw ?? {}) as ChangeDetail;
  if (typeof detail.tenantId !== 'string' || typeof detail.entityId !== 'string') return undefined;
  if (detailType === 'ticket.updated') {
    const changed = detail.changedFields ?? Object.keys(detail.changes ?? {});
    if (changed.every((field) => SLA_FIELDS.has(field))) return undefined;
  }
  return { tenantId: detail.tenantId, ticketId: detail.entityId };
}

/** What the schedule hands the timer (informative: the timer recomputes what is due). */
export interface SlaTimerInput {
  kind: 'ticket.sla_timer';
  tenantId: string;
  ticketId: string;
  target: SlaTargetName;
  timer: SlaTimer['kind'];
  at: string;
}

export const slaScheduleName = (tenantId: string, ticketId: string) =>
  hashedScheduleName('ticket-sla', tenantId, ticketId);

function wantedSchedule(tenantId: string, ticketId: string, timer: SlaTimer | undefined, now: number) {
  if (!timer) return undefined;
  const input: SlaTimerInput = {
    kind: 'ticket.sla_timer',
    tenantId,
    ticketId,
    target: timer.target,
    timer: timer.kind,
    at: timer.at,
  };
  return {
    name: slaScheduleName(tenantId, ticketId),
    expression: atExpression(Math.max(Date.parse(timer.at), now + IMMEDIATE_MS)),
    description: `SLA ${timer.kind} (${timer.target}) of ticket ${ticketId}`,
    input,
  };
}

/** Records the outcome of each target met since the last look (achieved, or breached when met late). */
async function recordMet(t: StoredTicket, sla: TicketSlaView, context: SlaContext): Promise<TicketSlaView> {
  let next = sla;
  for (const target of TARGETS) {
    const metAt = metAtOf(t, target);
    if (!metAt || sla[target].outcome) continue;
    // Met while paused (no due time now): its due time is where the clock stood when it was met.
    const dueAt =
      dueOf(sla, target).dueAt ??
      dueOf(
        dueTimesOf(
          {
            ...t,
            slaPauses: t.slaPauses && {
              ...t.slaPauses,
              spans: t.slaPauses.spans.map((s) => (s.to === undefined ? { from: s.from, to: metAt } : s)),
            },
          },
          context,
          sla.priority,
        ),
        target,
      ).dueAt;
    if (!dueAt) continue;
    const outcome = Date.parse(metAt) > Date.parse(dueAt) ? 'breached' : 'achieved';
    await recordSlaOutcome(t.tenantId, {
      ticketId: t.ticketId,
      target,
      outcome,
      dueAt,
      metAt,
      policyId: sla.policyId,
      priority: sla.priority,
      ...(t.teamId ? { teamId: t.teamId } : {}),
      ...(t.assigneeId ? { assigneeId: t.assigneeId } : {}),
    });
    next = { ...next, [target]: { ...next[target], outcome } };
  }
  return next;
}

/** Writes `sla` (or removes it) with one UpdateItem conditioned on the version read; false on a race. */
async function writeSla(t: StoredTicket, sla: TicketSlaView | undefined): Promise<boolean> {
  const key = { tenantId: t.tenantId, ticketId: t.ticketId };
  try {
    const update = model.entities.ticket.patch(key).set({ version: t.version + 1 });
    await (sla ? update.set({ sla }) : update.remove(['sla']))
      .where((attr, op) => op.eq(attr.version, t.version))
      .go({ response: 'none' });
    return true;
  } catch (error) {
    const cause = (error as { cause?: unknown })?.cause;
    if (cause instanceof ConditionalCheckFailedException || /ConditionalCheckFailed/.test(String(error))) return false;
    throw error;
  }
}

export interface SlaSyncDeps {
  schedules?: OneTimeScheduleTarget;
  now?: () => Date;
}

export interface SlaSyncResult {
  written: boolean;
  timer?: SlaTimer;
  schedule?: ScheduleOutcome;
}

/**
 * Brings a ticket's `sla` and its timer schedule in line with the ticket as it is now (read from the table, so
 * repeated or reordered events converge): recomputes, records targets met, writes `sla` only when it changed
 * (conditioned on the version read, retried on a race), then creates, moves or deletes the ticket's one schedule.
 */
export async function syncTicketSla(deps: SlaSyncDeps, tenantId: string, ticketId: string): Promise<SlaSyncResult> {
  const now = () => deps.now?.() ?? new Date();
  let written = false;
  let timer: SlaTimer | undefined;
  for (let attempt = 0; ; attempt++) {
    const t = await readLiveTicket(tenantId, ticketId);
    const context = t && (await contextOf(t));
    let sla = t && context ? ticketSla(t, context, now()) : undefined;
    if (t && sla && context) sla = await recordMet(t, sla, context);
    timer = t && sla ? pendingTimers(t, sla)[0] : undefined;
    if (!t || sameSla(t.sla, sla)) break;
    if (await writeSla(t, sla)) {
      written = true;
      break;
    }
    if (attempt >= 5) throw new Error(`ticket ${ticketId} kept changing while its SLA was computed`);
  }
  if (!deps.schedules) return { written, ...(timer ? { timer } : {}) };
  const name = slaScheduleName(tenantId, ticketId);
  let schedule = await applyOneTimeSchedule(
    deps.schedules,
    name,
    wantedSchedule(tenantId, ticketId, timer, now().getTime()),
  );
  // A change that landed meanwhile (its own event may have been handled already) gets its timer too.
  for (let round = 0; round < 2; round++) {
    const again = await readLiveTicket(tenantId, ticketId);
    const context = again && (await contextOf(again));
    const latest = again && context ? pendingTimers(again, ticketSla(again, context, now()))[0] : undefined;
    if (JSON.stringify(latest) === JSON.stringify(timer)) break;
    timer = latest;
    schedule = await applyOneTimeSchedule(
      deps.schedules,
      name,
      wantedSchedule(tenantId, ticketId, timer, now().getTime()),
    );
  }
  return { written, ...(timer ? { timer } : {}), schedule };
}

// ---- the timer ----------------------------------------------------------------------------------------------------

export interface SlaMail {
  to: string;
  subject: string;
  text: string;
}

export interface SlaTimerDeps {
  sendEmail: (mail: SlaMail) => Promise<void>;
  now?: () => Date;
}

export interface SlaTimerResult {
  /** What it did: e.g. ['firstResponse.warning', 'firstResponse.breach']; empty for a stale timer. */
  handled: string[];
  /** Who was mailed (nobody when the assignee or lead has no active profile). */
  mailed: string[];
  reason?: 'ticket_gone' | 'no_policy' | 'nothing_due';
}

const TARGET_WORDS: Record<SlaTargetName, string> = { firstResponse: 'first response', resolution: 'resolution' };

async function activeUser(tenantId: string, userId: string | undefined): Promise<UserProfile | undefined> {
  const user = userId ? await findUser(tenantId, userId) : undefined;
  return user && user.status !== 'disabled' ? user : undefined;
}

async function teamLead(tenantId: string, teamId: string | undefined): Promise<UserProfile | undefined> {
  const team = teamId ? await getTeamRoster(tenantId, teamId) : undefined;
  return activeUser(tenantId, team?.leadUserId);
}

function slaMail(t: StoredTicket, timer: SlaTimer, to: UserProfile, escalated?: string): SlaMail {
  const what = TARGET_WORDS[timer.target];
  const due = formatInZone(timer.at, to.timeZone);
  const breach = timer.kind === 'breach';
  return {
    to: to.email,
    subject: `${breach ? 'SLA breached' : 'SLA warning'}: ${t.number} ${what} ${breach ? 'was' : 'is'} due ${due}`,
    text: [
      `Hello ${to.name},`,
      '',
      `Ticket ${t.number} "${t.subject}" (priority ${t.priority}, status ${t.status}): its ${what} ${breach ? 'was' : 'is'} due ${due}.`,
      ...(escalated ? ['', escalated] : []),
      '',
      breach
        ? 'You get this mail because you lead the team the ticket is with.'
        : t.assigneeId
          ? 'You get this mail because the ticket is assigned to you.'
          : 'You get this mail because the ticket is unassigned and you lead its team.',
    ].join('\n'),
  };
}

/**
 * What the timer does when a ticket's schedule fires: re-reads the ticket, recomputes its due times, and handles
 * every warning and breach due now and not yet handled. A warning mails the assignee (the team lead when nobody is
 * assigned) and marks it sent. A breach records the outcome (once), applies the policy's escalation (raise the
 * priority, move to the escalation team, unassigning the agent when the team changes), mails the lead of the
 * ticket's team, and marks it handled. The marks and the escalation are one write conditioned on the version read
 * (re-read and redone on a race; a mail already sent is not sent again). Mail goes before the write, as reminders do:
 * a failed write may mail twice, never zero times.
 */
export async function handleSlaTimer(
  deps: SlaTimerDeps,
  input: { tenantId: string; ticketId: string },
): Promise<SlaTimerResult> {
  const mailed = new Set<string>();
  const sentTo: string[] = [];
  const recorded = new Set<string>();
  // The escalation team was deleted since the policy named it: escalate without moving the ticket.
  let teamGone = false;
  for (let attempt = 0; attempt < 6; attempt++) {
    const now = deps.now?.() ?? new Date();
    const current = await readLiveTicket(input.tenantId, input.ticketId);
    if (!current) return { handled: [], mailed: [], reason: 'ticket_gone' };
    const context = await contextOf(current);
    if (!context) return { handled: [], mailed: [], reason: 'no_policy' };
    const sla = ticketSla(current, context, now);
    const due = pendingTimers(current, sla).filter((timer) => Date.parse(timer.at) <= now.getTime() + SKEW_MS);
    if (due.length === 0) return { handled: [], mailed: [], reason: 'nothing_due' };

    let next: StoredTicket = { ...current };
    const nextSla: TicketSlaView = {
      ...sla,
      firstResponse: { ...sla.firstResponse },
      resolution: { ...sla.resolution },
    };
    const handled: string[] = [];
    const mails: Array<{ key: string; mail: () => Promise<SlaMail | undefined> }> = [];
    for (const timer of due) {
      const key = `${timer.target}.${timer.kind}`;
      handled.push(key);
      if (timer.kind === 'warning') {
        nextSla[timer.target] = { ...nextSla[timer.target], warnedAt: now.toISOString() };
        mails.push({
          key,
          mail: async () => {
            const to =
              (await activeUser(current.tenantId, current.assigneeId)) ??
              (await teamLead(current.tenantId, current.teamId));
            return to && slaMail(current, timer, to);
          },
        });
        continue;
      }
      if (!recorded.has(key)) {
        await recordSlaOutcome(current.tenantId, {
          ticketId: current.ticketId,
          target: timer.target,
          outcome: 'breached',
          dueAt: timer.at,
          policyId: sla.policyId,
          priority: sla.priority,
          ...(current.teamId ? { teamId: current.teamId } : {}),
          ...(current.assigneeId ? { assigneeId: current.assigneeId } : {}),
        });
        recorded.add(key);
      }
      // Each breach escalates from where the ticket stands now (after an earlier breach in this same pass).
      const plan = escalationPlan(context.policy.escalation, { priority: next.priority, teamId: next.teamId });
      const changes: string[] = [];
      if (plan.priority !== next.priority) {
        changes.push(`Priority raised from ${next.priority} to ${plan.priority}.`);
        next.priority = plan.priority;
        nextSla.escalatedPriority = plan.priority;
      }
      if (plan.teamId !== next.teamId && !teamGone) {
        changes.push(`Moved to team ${plan.teamId}${next.assigneeId ? ' and unassigned' : ''}.`);
        next = { ...next, teamId: plan.teamId };
        delete next.assigneeId;
      }
      nextSla[timer.target] = {
        ...nextSla[timer.target],
        state: 'breached',
        breachedAt: now.toISOString(),
        outcome: nextSla[timer.target].outcome ?? 'breached',
      };
      const leadTeam = plan.notifyLeadOfTeamId;
      mails.push({
        key,
        mail: async () => {
          const to = await teamLead(current.tenantId, leadTeam);
          return to && slaMail(next, timer, to, changes.join(' '));
        },
      });
    }
    for (const { key, mail } of mails) {
      if (mailed.has(key)) continue;
      const message = await mail();
      if (message) {
        await deps.sendEmail(message);
        sentTo.push(message.to);
      }
      mailed.add(key);
    }
    try {
      await rewriteTicket(SLA_ACTOR, current, { ...next, sla: nextSla });
      return { handled, mailed: sentTo };
    } catch (error) {
      const missingTeam = error instanceof ValidationError && error.code === 'ticket.team_not_found';
      if (missingTeam && !teamGone) teamGone = true;
      else if (!(error instanceof PreconditionFailedError)) throw error;
    }
  }
  throw new Error(`ticket ${input.ticketId} kept changing while its SLA timer ran`);
}
