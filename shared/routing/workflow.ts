import { randomUUID } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { addLoadsOnce } from '../assignment/load.ts';
import { chooseMember } from '../assignment/service.ts';
import { model } from '../db/store.ts';
import { logger, metrics } from '../observability.ts';
import { getTeamRoster, type TeamMember } from '../teams/members.ts';
import type { TicketPriority } from '../tickets/schema.ts';
import { applyRouting, readTicket, type StoredTicket } from '../tickets/service.ts';
import { firstRoutingRule, needsCompany, needsRequester } from './rules.ts';
import { COMPANY_TIER_FIELD, type RoutingMethod, type RoutingSubject, type TicketRoutingView } from './schema.ts';
import { decideRouting, getRoutingRules } from './service.ts';

/**
 * The steps of the ticket routing workflow (a Step Functions state machine started by `ticket.created`, declared in
 * infra/constructs/ticket-routing.ts). Each step takes the workflow's state and returns it with what it found, so the
 * state machine only passes data along and branches on `decision`. Every step re-reads what it decides on, so a
 * retried or duplicated execution converges: a ticket is routed once, and never against a person's choice.
 */

/** What `ticket.created` gives the workflow (the EventBridge target's input). */
export interface RoutingStart {
  tenantId: string;
  ticketId: string;
}

export type SkipReason = 'gone' | 'already_routed' | 'assigned' | 'resolved' | 'team_changed' | 'not_configured';
export type FallbackReason = 'no_rule' | 'no_agent' | 'team_not_found' | 'error';

export interface RoutingState extends RoutingStart {
  /** skip: leave the ticket alone; assign: pick an agent of `teamId`; fallback: the fallback queue. */
  decision: 'skip' | 'assign' | 'fallback';
  reason?: SkipReason | FallbackReason;
  ruleId?: string;
  teamId?: string;
  /** The team the ticket had when routed (a person's choice): kept, and Apply refuses if it changed meanwhile. */
  teamAtRoute?: string | null;
  priority?: TicketPriority;
  method?: RoutingMethod;
  assigneeId?: string;
  /** Assign added 1 to the assignee's ticket load (taken back, once, if the ticket is not given to them). */
  loadAdded?: boolean;
  /** Names that addition, so taking it back happens once however often a step runs (two executions: two claims). */
  claimId?: string;
  /** Set by Apply/Fallback. */
  outcome?: 'routed' | 'fallback' | 'skipped';
  /** A Catch puts the failed step's error here before Fallback. */
  error?: { Error?: string; Cause?: string };
}

const UNRESOLVED = new Set(['new', 'open', 'pending', 'on_hold']);

/** Why a ticket is not (or no longer) for the workflow to route; undefined when it is. */
function notRoutable(ticket: StoredTicket | undefined): SkipReason | undefined {
  if (!ticket || ticket.deletedAt) return 'gone';
  if (ticket.routing) return 'already_routed';
  if (ticket.assigneeId) return 'assigned';
  if (!UNRESOLVED.has(ticket.status)) return 'resolved';
  return undefined;
}

/** What the rules compare, reading the requester and the company only when an active rule looks at them. */
async function subjectOf(
  ticket: StoredTicket,
  rules: Awaited<ReturnType<typeof getRoutingRules>>['rules'],
): Promise<RoutingSubject> {
  const { tenantId } = ticket;
  const requester = needsRequester(rules)
    ? (await model.entities.contact.get({ tenantId, contactId: ticket.requesterId }).go()).data
    : undefined;
  const companyId = ticket.companyId ?? (requester?.deletedAt ? undefined : requester?.companyId);
  const company =
    companyId && needsCompany(rules)
      ? (await model.entities.company.get({ tenantId, companyId }).go()).data
      : undefined;
  const tier = (company?.customFields as Record<string, unknown> | undefined)?.[COMPANY_TIER_FIELD];
  return {
    channel: ticket.channel,
    priority: ticket.priority,
    subject: ticket.subject,
    description: ticket.description,
    category: ticket.category,
    mailboxId: ticket.mailboxId,
    senderEmails: requester && !requester.deletedAt ? (requester.emails ?? []) : [],
    companyId,
    ...(typeof tier === 'string' && !company?.deletedAt ? { companyTier: tier } : {}),
  };
}

/**
 * Route: reads the ticket and the rules and decides. A ticket already assigned (by a person at creation, or since),
 * already routed, resolved or gone is skipped, and so is every ticket of an organisation without routing rules. A team a person gave it is kept: an agent of that team is assigned
 * (the first matching rule for that team gives method and priority, else round robin). Otherwise the first matching
 * rule's team, priority and method; no rule: the fallback queue.
 */
export async function routeStep(input: RoutingStart): Promise<RoutingState> {
  const { tenantId, ticketId } = input;
  const base = { tenantId, ticketId };
  const ticket = await readTicket(tenantId, ticketId);
  const skip = notRoutable(ticket);
  if (skip || !ticket) return { ...base, decision: 'skip', reason: skip ?? 'gone' };
  const rules = await getRoutingRules(tenantId);
  // An organisation that has not set up routing (no rules, no fallback team) keeps its tickets as created.
  if (rules.rules.length === 0 && !rules.fallbackTeamId) return { ...base, decision: 'skip', reason: 'not_configured' };
  const subject = await subjectOf(ticket, rules.rules);
  const teamAtRoute = ticket.teamId ?? null;
  if (ticket.teamId) {
    const forTeam = firstRoutingRule(
      rules.rules.filter((r) => r.actions.teamId === ticket.teamId),
      subject,
    );
    return {
      ...base,
      decision: 'assign',
      teamId: ticket.teamId,
      teamAtRoute,
      priority: (forTeam?.actions.priority ?? ticket.priority) as TicketPriority,
      method: forTeam?.actions.method ?? 'roundRobin',
      ...(forTeam ? { ruleId: forTeam.id } : {}),
    };
  }
  const decision = decideRouting(rules, subject);
  if (decision.fallback || !decision.teamId || !decision.method) {
    return { ...base, decision: 'fallback', reason: 'no_rule', teamAtRoute };
  }
  return {
    ...base,
    decision: 'assign',
    ruleId: decision.ruleId!,
    teamId: decision.teamId,
    teamAtRoute,
    priority: decision.priority as TicketPriority,
    method: decision.method,
  };
}

/** Agents of a team who may take a ticket now: members marked available whose profile is live and active. */
async function availableAgents(tenantId: string, members: TeamMember[]): Promise<TeamMember[]> {
  const available = members.filter((m) => m.availability === 'available');
  const profiles = await Promise.all(
    available.map(async (m) => (await model.entities.user.get({ tenantId, userId: m.userId }).go()).data),
  );
  return available.filter((_, i) => {
    const user = profiles[i];
    return user !== null && user !== undefined && !user.deletedAt && user.status === 'active';
  });
}

/**
 * Assign: an available agent of the team by the rule's method, on the ticket-load counters (shared/assignment):
 * round robin takes the team's rotation counter with the ticket as request key, so a retried or duplicated step gets
 * the same turn (and adds no load twice); least busy claims the agent with the fewest unresolved tickets. Nobody
 * available: the fallback queue.
 */
export async function assignStep(state: RoutingState): Promise<RoutingState> {
  const { tenantId, ticketId, teamId } = state;
  const roster = teamId ? await getTeamRoster(tenantId, teamId) : undefined;
  if (!roster) return { ...state, decision: 'fallback', reason: 'team_not_found' };
  const members = await availableAgents(tenantId, roster.members);
  const chosen = await chooseMember({
    tenantId,
    rotationId: `ticket-team#${roster.teamId}`,
    method: state.method === 'leastBusy' ? 'leastLoaded' : 'roundRobin',
    members,
    kind: 'tickets',
    requestKey: `ticket-routing#${ticketId}`,
  });
  if (!chosen) return { ...state, decision: 'fallback', reason: 'no_agent' };
  return {
    ...state,
    assigneeId: chosen.userId,
    loadAdded: chosen.loadAdded,
    ...(chosen.loadAdded ? { claimId: randomUUID() } : {}),
  };
}

/** Takes back the load Assign added for a ticket it did not get: once per claim, however often this runs. */
async function takeBackLoad(state: RoutingState): Promise<void> {
  if (!state.loadAdded || !state.assigneeId) return;
  const marker = `unrouted#ticket#${state.ticketId}#${state.claimId ?? ''}`;
  await addLoadsOnce(state.tenantId, marker, new Map([[state.assigneeId, -1]]), 'tickets');
}

/** How often Apply re-reads a ticket that changed under it (a message, an edit) before giving up. */
const MAX_APPLY_ATTEMPTS = 5;

/**
 * Apply: one conditional write through the tickets service on the version just read: team, priority, assignee and
 * `routing`. If meanwhile a person assigned the ticket, changed its team, or it was routed, resolved or deleted, it
 * changes nothing (and takes back the load Assign added).
 */
export async function applyStep(state: RoutingState): Promise<RoutingState> {
  for (let attempt = 0; attempt < MAX_APPLY_ATTEMPTS; attempt++) {
    const ticket = await readTicket(state.tenantId, state.ticketId);
    const skip =
      notRoutable(ticket) ?? ((ticket?.teamId ?? null) !== (state.teamAtRoute ?? null) ? 'team_changed' : undefined);
    if (skip || !ticket) {
      if (!(ticket?.routing?.status === 'routed' && ticket.routing.assigneeId === state.assigneeId)) {
        await takeBackLoad(state);
      }
      logger.info('routing: ticket left as it is', { ticketId: state.ticketId, reason: skip });
      return { ...state, outcome: 'skipped', reason: skip ?? 'gone' };
    }
    const routing: TicketRoutingView = {
      status: 'routed',
      ...(state.ruleId ? { ruleId: state.ruleId } : {}),
      ...(state.teamId ? { teamId: state.teamId } : {}),
      ...(state.assigneeId ? { assigneeId: state.assigneeId } : {}),
      ...(state.method ? { method: state.method } : {}),
      routedAt: new Date().toISOString(),
    };
    const written = await applyRouting(
      ticket,
      { teamId: state.teamId, priority: state.priority, assigneeId: state.assigneeId },
      routing,
    );
    if (written) {
      metrics.addMetric('TicketsRouted', MetricUnit.Count, 1);
      return { ...state, outcome: 'routed' };
    }
  }
  throw new TicketBusyError(state.ticketId);
}

/** The ticket kept changing under Apply: the state machine's Catch sends it to the fallback queue. */
export class TicketBusyError extends Error {
  constructor(ticketId: string) {
    super(`ticket ${ticketId} kept changing while being routed`);
    this.name = 'TicketBusy';
  }
}

/**
 * Fallback (no rule, no agent, or a failed step): the ticket waits unassigned in the fallback team's queue (a team a
 * person gave it is kept), with `routing.status = 'fallback'` and why; counted and logged. A matched rule's priority
 * still applies. A ticket routed or assigned meanwhile is left alone. If this fails too, the execution fails (alarm).
 */
export async function fallbackStep(state: RoutingState): Promise<RoutingState> {
  const reason: FallbackReason = state.error ? 'error' : ((state.reason as FallbackReason | undefined) ?? 'no_rule');
  for (let attempt = 0; attempt < MAX_APPLY_ATTEMPTS; attempt++) {
    const ticket = await readTicket(state.tenantId, state.ticketId);
    const givenByWorkflow = ticket?.routing?.status === 'routed' && ticket.routing.assigneeId === state.assigneeId;
    if (!givenByWorkflow) await takeBackLoad(state);
    const skip = notRoutable(ticket);
    if (skip || !ticket) return { ...state, outcome: 'skipped', reason: skip ?? 'gone' };
    const { fallbackTeamId } = await getRoutingRules(state.tenantId);
    const teamId = ticket.teamId ?? fallbackTeamId;
    const routing: TicketRoutingView = {
      status: 'fallback',
      ...(state.ruleId ? { ruleId: state.ruleId } : {}),
      ...(teamId ? { teamId } : {}),
      reason,
      routedAt: new Date().toISOString(),
    };
    const written = await applyRouting(
      ticket,
      { teamId: ticket.teamId ? undefined : fallbackTeamId, priority: state.ruleId ? state.priority : undefined },
      routing,
    );
    if (written) {
      metrics.addMetric('TicketRoutingFallback', MetricUnit.Count, 1);
      logger.warn('routing: ticket sent to the fallback queue', {
        tenantId: state.tenantId,
        ticketId: state.ticketId,
        reason,
        teamId,
        ...(state.error ? { error: state.error.Error, cause: state.error.Cause?.slice(0, 1000) } : {}),
      });
      return { ...state, outcome: 'fallback', reason, ...(teamId ? { teamId } : {}) };
    }
  }
  throw new TicketBusyError(state.ticketId);
}
