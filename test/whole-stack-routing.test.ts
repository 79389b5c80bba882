import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { CLOUD_START_TIMEOUT_MS } from './support/assembly.ts';
import { makeContact, makeUser } from './support/factories.ts';
import { api, eventually, startTestCloud } from './support/local-cloud.ts';

/**
 * Ticket routing across the whole stack: a ticket created over HTTP is written by the tickets Lambda, its
 * `ticket.created` comes from the DynamoDB stream through the publisher onto the bus, the rule starts the routing
 * state machine (the synthesized definition in the local Step Functions), whose steps Lambda routes and assigns it.
 */
const TENANT = 'helpdesk';
let cloud: LocalCloud;
let admin: ReturnType<typeof api>;
const teams: Record<string, string> = {};
const agents: string[] = [];

beforeAll(async () => {
  cloud = await startTestCloud();
  admin = api(cloud, await cloud.token({ tenantId: TENANT, roles: ['admin'], userId: 'founder' }));
  // Two agents, invited and signed in (an invited user is not active yet, so routing would skip them).
  for (const name of ['ann', 'bob']) {
    const invited = await admin(
      'POST',
      '/v1/users',
      makeUser({ email: `${name}@helpdesk.example`, roles: ['support'] }),
    );
    expect(invited.status, invited.text).toBe(201);
    const agent = api(cloud, await cloud.token({ tenantId: TENANT, roles: ['support'], userId: invited.body.id }));
    expect((await agent('GET', '/v1/me')).body.profile).toMatchObject({ status: 'active' });
    agents.push(invited.body.id);
  }
  for (const name of ['Support', 'Triage', 'Night shift']) {
    const team = await admin('POST', '/v1/teams', { name });
    expect(team.status, team.text).toBe(201);
    teams[name] = team.body.id;
  }
  for (const userId of agents) {
    expect((await admin('POST', `/v1/teams/${teams.Support}/members`, { userId })).status).toBe(201);
  }
  const rules = await admin('PUT', '/v1/ticket-routing', {
    rules: [
      {
        id: 'night',
        conditions: { channels: ['web'] },
        actions: { teamId: teams['Night shift'], method: 'roundRobin' },
      },
      {
        id: 'billing',
        conditions: { keywords: ['invoice', 'refund'], channels: ['email', 'api'] },
        actions: { teamId: teams.Support, priority: 'high', method: 'roundRobin' },
      },
    ],
    fallbackTeamId: teams.Triage,
  });
  expect(rules.status, rules.text).toBe(200);
}, CLOUD_START_TIMEOUT_MS);

afterAll(async () => {
  await cloud?.stop();
});

async function createTicket(body: Record<string, unknown>): Promise<string> {
  const requester = await admin('POST', '/v1/contacts', makeContact());
  const created = await admin('POST', '/v1/tickets', { requesterId: requester.body.id, ...body });
  expect(created.status, created.text).toBe(201);
  return created.body.id;
}

/** The ticket once the workflow has recorded its routing. */
const routed = (id: string) =>
  eventually(async () => {
    const ticket = await admin('GET', `/v1/tickets/${id}`);
    return ticket.body.routing ? ticket.body : undefined;
  }, 120_000);

describe('ticket routing in the local cloud', () => {
  it('routes new tickets by the rules and assigns them round robin over the two agents', async () => {
    const assignees: string[] = [];
    for (let i = 0; i < 4; i++) {
      const id = await createTicket({ subject: `Refund for invoice ${i}`, channel: 'email' });
      const ticket = await routed(id);
      expect(ticket).toMatchObject({
        teamId: teams.Support,
        priority: 'high',
        routing: { status: 'routed', ruleId: 'billing', teamId: teams.Support, method: 'roundRobin' },
      });
      expect(agents).toContain(ticket.assigneeId);
      assignees.push(ticket.assigneeId);
    }
    // In turn: each agent every other ticket.
    expect(assignees[1]).not.toBe(assignees[0]);
    expect(assignees.slice(2)).toEqual(assignees.slice(0, 2));
    // Each execution ran the state machine's happy path.
    const executions = cloud.stepFunctions.listExecutions().filter((e) => e.status === 'SUCCEEDED');
    expect(executions.length).toBeGreaterThanOrEqual(4);
    // The agents' queues list them (gsi1: unresolved tickets by assignee).
    const queue = await admin('GET', `/v1/tickets?assigneeId=${assignees[0]}`);
    expect(queue.body.items).toHaveLength(2);
  }, 300_000);

  it('sends tickets no rule matches, or whose team has no available agent, to the fallback queue unassigned', async () => {
    const unmatched = await createTicket({ subject: 'Hello there', channel: 'phone' });
    const noAgent = await createTicket({ subject: 'Site down at night', channel: 'web', priority: 'urgent' });
    const [a, b] = [await routed(unmatched), await routed(noAgent)];
    expect(a).toMatchObject({ teamId: teams.Triage, routing: { status: 'fallback', reason: 'no_rule' } });
    expect(b).toMatchObject({
      teamId: teams.Triage,
      priority: 'urgent',
      routing: { status: 'fallback', reason: 'no_agent', ruleId: 'night' },
    });
    expect(a.assigneeId).toBeUndefined();
    expect(b.assigneeId).toBeUndefined();
    const triage = await admin('GET', `/v1/tickets?teamId=${teams.Triage}`);
    expect(triage.body.items.map((t: { id: string }) => t.id).sort()).toEqual([unmatched, noAgent].sort());
  }, 300_000);

  it('leaves a ticket a person assigned on creation alone', async () => {
    const id = await createTicket({ subject: 'Invoice question', channel: 'email', assigneeId: agents[1] });
    // Its execution ends at the first Choice; wait for it, then the ticket is as created.
    await eventually(async () => {
      const done = cloud.stepFunctions
        .listExecutions()
        .filter((e) => e.status === 'SUCCEEDED' && (e.output as { ticketId?: string })?.ticketId === id);
      return done.length > 0 ? done : undefined;
    }, 120_000);
    const ticket = await admin('GET', `/v1/tickets/${id}`);
    expect(ticket.body).toMatchObject({ assigneeId: agents[1], priority: 'normal', version: 1 });
    expect(ticket.body.routing).toBeUndefined();
  }, 300_000);
});
