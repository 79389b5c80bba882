import { beforeAll, describe, expect, it } from 'vitest';
import { makeCompany, makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';
import { putTeam } from '../../test/support/teams.ts';
import { putUser } from '../../test/support/users.ts';
import type { RoutingState } from './workflow.ts';

/**
 * The routing workflow's steps against DynamoDB Local, chained here as the state machine chains them (the state
 * machine itself runs in infra/local/ticket-routing-machine.test.ts): rules, availability, round robin and least
 * busy on the ticket loads, never overriding a person, and the fallback queue.
 */
type Client = ReturnType<typeof apiClient>;
let steps: typeof import('./workflow.ts');
let openLoad: typeof import('../assignment/service.ts').openLoad;
let as: (group: 'tickets' | 'contacts' | 'companies' | 'customFields' | 'assignment', tenantId: string) => Client;

beforeAll(async () => {
  await useFreshTable();
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  const handlers = {
    tickets: (await import('../../functions/http/tickets.ts')).handler,
    contacts: (await import('../../functions/http/contacts.ts')).handler,
    companies: (await import('../../functions/http/companies.ts')).handler,
    customFields: (await import('../../functions/http/custom-fields.ts')).handler,
    assignment: (await import('../../functions/http/assignment.ts')).handler,
  };
  as = (group, tenantId) => apiClient(handlers[group], { tenantId, roles: ['admin'], userId: 'admin-1' });
  steps = await import('./workflow.ts');
  ({ openLoad } = await import('../assignment/service.ts'));
});

async function setRules(tenantId: string, body: Record<string, unknown>) {
  const res = await as('assignment', tenantId)('PUT', '/v1/ticket-routing', { body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

async function newTicket(tenantId: string, body: Record<string, unknown> = {}) {
  const requesterId =
    (body.requesterId as string | undefined) ??
    (await as('contacts', tenantId)('POST', '/v1/contacts', { body: makeContact() })).body.id;
  const res = await as('tickets', tenantId)('POST', '/v1/tickets', {
    body: { subject: 'Help', channel: 'email', ...body, requesterId },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string };
}

const getTicket = async (tenantId: string, id: string) =>
  (await as('tickets', tenantId)('GET', `/v1/tickets/${id}`)).body as Record<string, unknown> & {
    routing?: Record<string, unknown>;
  };

/** Route, then Assign and Apply or Fallback, as the state machine's Choice states do. */
async function run(tenantId: string, ticketId: string): Promise<RoutingState> {
  const routed = await steps.routeStep({ tenantId, ticketId });
  if (routed.decision === 'skip') return routed;
  if (routed.decision === 'fallback') return steps.fallbackStep(routed);
  const assigned = await steps.assignStep(routed);
  if (assigned.decision === 'fallback') return steps.fallbackStep(assigned);
  return steps.applyStep(assigned);
}

async function supportTeam(tenantId: string, agents: string[], teamId = 'support') {
  for (const a of agents) await putUser(tenantId, a);
  await putTeam(
    tenantId,
    teamId,
    agents.map((userId) => ({ userId, availability: 'available' as const })),
  );
}

describe('routing a new ticket', () => {
  it('sets team and priority by the first matching rule and assigns round robin, each agent in turn', async () => {
    const t = uniqueTenant('route');
    await supportTeam(t, ['agent-b', 'agent-a']);
    await putTeam(t, 'triage', []);
    await setRules(t, {
      rules: [
        { id: 'web', conditions: { channels: ['web'] }, actions: { teamId: 'triage', method: 'roundRobin' } },
        {
          id: 'billing',
          conditions: { keywords: ['invoice'] },
          actions: { teamId: 'support', priority: 'high', method: 'roundRobin' },
        },
      ],
      fallbackTeamId: 'triage',
    });
    const assignees: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      const ticket = await newTicket(t, { subject: `Wrong invoice #${i}` });
      const result = await run(t, ticket.id);
      expect(result).toMatchObject({ outcome: 'routed', ruleId: 'billing', teamId: 'support' });
      const stored = await getTicket(t, ticket.id);
      expect(stored).toMatchObject({ teamId: 'support', priority: 'high', status: 'new', updatedBy: 'system:routing' });
      expect(stored.routing).toMatchObject({
        status: 'routed',
        ruleId: 'billing',
        teamId: 'support',
        method: 'roundRobin',
      });
      expect(stored.routing!.assigneeId).toBe(stored.assigneeId);
      assignees.push(stored.assigneeId);
    }
    expect(assignees).toEqual(['agent-a', 'agent-b', 'agent-a', 'agent-b']);
    // The chooser counted each on the agent's ticket load.
    expect([await openLoad(t, 'agent-a', 'tickets'), await openLoad(t, 'agent-b', 'tickets')]).toEqual([2, 2]);
  });

  it('is idempotent: a repeated execution leaves a routed ticket alone, and a repeated Assign takes the same turn', async () => {
    const t = uniqueTenant('route');
    await supportTeam(t, ['a1', 'a2']);
    await setRules(t, { rules: [{ id: 'all', actions: { teamId: 'support', method: 'roundRobin' } }] });
    const ticket = await newTicket(t);
    const routed = await steps.routeStep({ tenantId: t, ticketId: ticket.id });
    const first = await steps.assignStep(routed);
    const again = await steps.assignStep(routed);
    expect(again.assigneeId).toBe(first.assigneeId);
    expect(again.loadAdded).toBe(false);
    await steps.applyStep(first);
    expect(await steps.routeStep({ tenantId: t, ticketId: ticket.id })).toMatchObject({
      decision: 'skip',
      reason: 'already_routed',
    });
    expect(await openLoad(t, first.assigneeId!, 'tickets')).toBe(1);
  });

  it('assigns the least busy available agent by unresolved tickets', async () => {
    const t = uniqueTenant('route');
    await supportTeam(t, ['busy', 'idle']);
    // busy has two unresolved tickets (counted by the load consumer in the stack; here the counter directly).
    const { addToCounter, loadCounter } = await import('../assignment/service.ts');
    await addToCounter(t, loadCounter('busy', 'tickets'), 2);
    await setRules(t, { rules: [{ id: 'all', actions: { teamId: 'support', method: 'leastBusy' } }] });
    const chosen: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const ticket = await newTicket(t);
      await run(t, ticket.id);
      chosen.push((await getTicket(t, ticket.id)).assigneeId);
    }
    // idle catches up to 2 first; then they are level and either may get the third.
    expect(chosen.slice(0, 2)).toEqual(['idle', 'idle']);
    expect(await openLoad(t, 'idle', 'tickets')).toBe(chosen[2] === 'idle' ? 3 : 2);
  });

  it('matches on the requester’s domain and on the tier of their company (the ticket has none of its own)', async () => {
    const t = uniqueTenant('route');
    await supportTeam(t, ['vip-agent'], 'vip');
    await supportTeam(t, ['acme-agent'], 'acme');
    const schema = await as('customFields', t)('PUT', '/v1/custom-fields/company', {
      body: { fields: [{ key: 'tier', label: 'Tier', type: 'text' }] },
    });
    expect(schema.status, JSON.stringify(schema.body)).toBe(200);
    const gold = await as('companies', t)('POST', '/v1/companies', {
      body: makeCompany({ customFields: { tier: 'Gold' } }),
    });
    expect(gold.status, JSON.stringify(gold.body)).toBe(201);
    const goldContact = await as('contacts', t)('POST', '/v1/contacts', {
      body: makeContact({ companyId: gold.body.id }),
    });
    const acmeContact = await as('contacts', t)('POST', '/v1/contacts', {
      body: makeContact({ emails: ['ann@support.acme.com'] }),
    });
    await setRules(t, {
      rules: [
        { id: 'gold', conditions: { companyTiers: ['gold'] }, actions: { teamId: 'vip', method: 'roundRobin' } },
        { id: 'acme', conditions: { senderDomains: ['acme.com'] }, actions: { teamId: 'acme', method: 'roundRobin' } },
      ],
    });
    const vipTicket = await newTicket(t, { requesterId: goldContact.body.id });
    await run(t, vipTicket.id);
    expect(await getTicket(t, vipTicket.id)).toMatchObject({ teamId: 'vip', assigneeId: 'vip-agent' });
    const acmeTicket = await newTicket(t, { requesterId: acmeContact.body.id });
    await run(t, acmeTicket.id);
    expect(await getTicket(t, acmeTicket.id)).toMatchObject({ teamId: 'acme', assigneeId: 'acme-agent' });
  });
});

describe('never overriding a person', () => {
  it('skips a ticket created with an assignee', async () => {
    const t = uniqueTenant('route');
    await supportTeam(t, ['a1', 'human-pick']);
    await setRules(t, {
      rules: [{ id: 'all', actions: { teamId: 'support', priority: 'low', method: 'roundRobin' } }],
    });
    const ticket = await newTicket(t, { assigneeId: 'human-pick' });
    expect(await run(t, ticket.id)).toMatchObject({ decision: 'skip', reason: 'assigned' });
    const stored = await getTicket(t, ticket.id);
    expect(stored).toMatchObject({ assigneeId: 'human-pick', priority: 'normal', version: 1 });
    expect(stored.routing).toBeUndefined();
  });

  it('keeps a team a person chose and assigns one of its agents', async () => {
    const t = uniqueTenant('route');
    await supportTeam(t, ['s1'], 'support');
    await supportTeam(t, ['o1'], 'other');
    await setRules(t, { rules: [{ id: 'all', actions: { teamId: 'support', method: 'roundRobin' } }] });
    const ticket = await newTicket(t, { teamId: 'other' });
    await run(t, ticket.id);
    expect(await getTicket(t, ticket.id)).toMatchObject({ teamId: 'other', assigneeId: 'o1' });
  });

  it('writes nothing when a person assigned the ticket between Assign and Apply, and takes the load back once', async () => {
    const t = uniqueTenant('route');
    await supportTeam(t, ['a1', 'person']);
    await setRules(t, { rules: [{ id: 'all', actions: { teamId: 'support', method: 'leastBusy' } }] });
    const ticket = await newTicket(t);
    const assigned = await steps.assignStep(await steps.routeStep({ tenantId: t, ticketId: ticket.id }));
    expect(await openLoad(t, assigned.assigneeId!, 'tickets')).toBe(1);
    const patched = await as('tickets', t)('PATCH', `/v1/tickets/${ticket.id}`, { body: { assigneeId: 'person' } });
    expect(patched.status).toBe(200);
    expect(await steps.applyStep(assigned)).toMatchObject({ outcome: 'skipped', reason: 'assigned' });
    // The Catch path may run after a failed Apply too: the load is taken back only once.
    await steps.fallbackStep({ ...assigned, error: { Error: 'Lambda.Unknown' } });
    expect(await openLoad(t, assigned.assigneeId!, 'tickets')).toBe(0);
    expect(await getTicket(t, ticket.id)).toMatchObject({ assigneeId: 'person', version: 2 });
  });
});

describe('the fallback queue', () => {
  it('takes tickets no rule matches, unassigned, with the reason', async () => {
    const t = uniqueTenant('route');
    await supportTeam(t, ['a1']);
    await putTeam(t, 'triage', []);
    await setRules(t, {
      rules: [{ id: 'web', conditions: { channels: ['web'] }, actions: { teamId: 'support', method: 'roundRobin' } }],
      fallbackTeamId: 'triage',
    });
    const ticket = await newTicket(t, { channel: 'phone' });
    expect(await run(t, ticket.id)).toMatchObject({ outcome: 'fallback', reason: 'no_rule', teamId: 'triage' });
    const stored = await getTicket(t, ticket.id);
    expect(stored.teamId).toBe('triage');
    expect(stored.assigneeId).toBeUndefined();
    expect(stored.routing).toMatchObject({ status: 'fallback', reason: 'no_rule', teamId: 'triage' });
  });

  it('takes tickets whose team has no available, active agent (away, disabled, deleted)', async () => {
    const t = uniqueTenant('route');
    await putUser(t, 'away-agent');
    await putUser(t, 'disabled-agent', 'disabled');
    await putTeam(t, 'support', [
      { userId: 'away-agent', availability: 'away' },
      { userId: 'disabled-agent', availability: 'available' },
      { userId: 'never-existed', availability: 'available' },
    ]);
    await putTeam(t, 'triage', []);
    await setRules(t, {
      rules: [{ id: 'all', actions: { teamId: 'support', priority: 'urgent', method: 'roundRobin' } }],
      fallbackTeamId: 'triage',
    });
    const ticket = await newTicket(t);
    expect(await run(t, ticket.id)).toMatchObject({ outcome: 'fallback', reason: 'no_agent' });
    const stored = await getTicket(t, ticket.id);
    // The matched rule's priority still applies; the queue is the fallback team's.
    expect(stored).toMatchObject({ teamId: 'triage', priority: 'urgent' });
    expect(stored.assigneeId).toBeUndefined();
    expect(stored.routing).toMatchObject({ status: 'fallback', reason: 'no_agent', ruleId: 'all' });
  });

  it('takes a ticket whose Apply failed (the chosen agent was deleted meanwhile), giving the load back', async () => {
    const t = uniqueTenant('route');
    await supportTeam(t, ['doomed']);
    await putTeam(t, 'triage', []);
    await setRules(t, {
      rules: [{ id: 'all', actions: { teamId: 'support', method: 'roundRobin' } }],
      fallbackTeamId: 'triage',
    });
    const ticket = await newTicket(t);
    const assigned = await steps.assignStep(await steps.routeStep({ tenantId: t, ticketId: ticket.id }));
    const { model } = await import('../db/store.ts');
    await model.entities.user
      .patch({ tenantId: t, userId: 'doomed' })
      .set({ deletedAt: new Date().toISOString() })
      .go();
    await expect(steps.applyStep(assigned)).rejects.toMatchObject({ code: 'ticket.user_not_found' });
    const fallback = await steps.fallbackStep({ ...assigned, error: { Error: 'ValidationError', Cause: '{}' } });
    expect(fallback).toMatchObject({ outcome: 'fallback', reason: 'error', teamId: 'triage' });
    expect(await openLoad(t, 'doomed', 'tickets')).toBe(0);
    expect((await getTicket(t, ticket.id)).routing).toMatchObject({ status: 'fallback', reason: 'error' });
  });

  it('leaves the ticket without a team when the tenant has no fallback team', async () => {
    const t = uniqueTenant('route');
    await setRules(t, {
      rules: [{ id: 'web', conditions: { channels: ['web'] }, actions: { teamId: 'x', method: 'roundRobin' } }],
    });
    const ticket = await newTicket(t);
    expect(await run(t, ticket.id)).toMatchObject({ outcome: 'fallback', reason: 'no_rule' });
    const stored = await getTicket(t, ticket.id);
    expect(stored.teamId).toBeUndefined();
    expect(stored.routing).toMatchObject({ status: 'fallback', reason: 'no_rule' });
  });

  it('leaves every ticket of an organisation that has not set up routing as it was created', async () => {
    const t = uniqueTenant('route');
    const ticket = await newTicket(t);
    expect(await run(t, ticket.id)).toMatchObject({ decision: 'skip', reason: 'not_configured' });
    const stored = await getTicket(t, ticket.id);
    expect(stored.version).toBe(1);
    expect(stored.routing).toBeUndefined();
  });
});
