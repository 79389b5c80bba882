import type { Principal } from '../auth/principal.ts';
import { replaceDocument } from '../db/documents.ts';
import { model } from '../db/store.ts';
import { PreconditionFailedError } from '../errors.ts';
import type { VersionPrecondition } from '../http/request.ts';
import { firstRoutingRule } from './rules.ts';
import type { RoutingMethod, RoutingRulesPutInput, RoutingRulesView, RoutingSubject } from './schema.ts';

/** The tenant's routing rules (none, version 0, when never set): one GetItem, read fresh for every ticket. */
export async function getRoutingRules(tenantId: string): Promise<RoutingRulesView> {
  const { data } = await model.entities.routingRules.get({ tenantId }).go();
  const epoch = new Date(0).toISOString();
  if (!data) return { rules: [], version: 0, createdAt: epoch, updatedAt: epoch };
  const { tenantId: _t, ...rest } = data;
  return rest as RoutingRulesView;
}

/** Replaces the whole ordered list and the fallback team, conditioned on the version read (If-Match explicit). */
export async function putRoutingRules(
  principal: Principal,
  input: RoutingRulesPutInput,
  ifMatch: VersionPrecondition | undefined,
): Promise<RoutingRulesView> {
  const { tenantId } = principal;
  const current = await getRoutingRules(tenantId);
  if (ifMatch && !ifMatch.matches(current.version)) throw new PreconditionFailedError('ticketRouting', tenantId);
  return replaceDocument({
    entity: 'routingRules',
    tenantId,
    current,
    values: { rules: input.rules, ...(input.fallbackTeamId ? { fallbackTeamId: input.fallbackTeamId } : {}) },
    actorId: principal.userId,
    conflict: () => new PreconditionFailedError('ticketRouting', tenantId),
  });
}

export interface RoutingDecision {
  ruleId: string | null;
  teamId: string | null;
  priority: string;
  method: RoutingMethod | null;
  fallback: boolean;
}

/** What the rules decide for a ticket: the first matching rule's actions, else the fallback team. Pure. */
export function decideRouting(rules: RoutingRulesView, ticket: RoutingSubject): RoutingDecision {
  const rule = firstRoutingRule(rules.rules, ticket);
  if (!rule) {
    return {
      ruleId: null,
      teamId: rules.fallbackTeamId ?? null,
      priority: ticket.priority,
      method: null,
      fallback: true,
    };
  }
  const { teamId, priority, method } = rule.actions;
  return { ruleId: rule.id, teamId, priority: priority ?? ticket.priority, method, fallback: false };
}

/** Which rule a hypothetical ticket would meet (nothing is stored or assigned). */
export async function previewRouting(
  tenantId: string,
  input: Omit<RoutingSubject, 'senderEmails'> & { senderEmail?: string | undefined },
): Promise<RoutingDecision> {
  const { senderEmail, ...ticket } = input;
  return decideRouting(await getRoutingRules(tenantId), {
    ...ticket,
    ...(senderEmail ? { senderEmails: [senderEmail] } : {}),
  });
}
