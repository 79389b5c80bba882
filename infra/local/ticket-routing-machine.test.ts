import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';
import { putTeam } from '../../test/support/teams.ts';
import { putUser } from '../../test/support/users.ts';
import { createCrmApp } from '../synth.ts';
import { LocalStepFunctions } from './stepfunctions.ts';
import { TemplateResolver } from './template.ts';
import type { Invoker } from './types.ts';

/**
 * The routing state machine exactly as CDK synthesizes it, run by aws-local-stepfunctions (the local cloud's Step
 * Functions) with the real steps handler in-process against DynamoDB Local: the paths through Choice, Retry and
 * Catch that the step tests cannot show.
 */
type Client = ReturnType<typeof apiClient>;
let outdir: string;
let sfn: LocalStepFunctions;
let machineArn: string;
let as: (group: 'tickets' | 'contacts' | 'assignment', tenantId: string) => Client;
/** Errors to throw before the real handler runs, by step (a flaky Lambda service). */
const injected: Array<{ step: string; error: Error }> = [];
const calls: string[] = [];
/** What the local Step Functions reported while loading the template (validation, unsupported resources). */
const loadLog: string[] = [];

beforeAll(async () => {
  await useFreshTable();
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  process.env.CDK_VALIDATION = 'false';
  outdir = mkdtempSync(join(tmpdir(), 'routing-machine-'));
  const { app, stack } = createCrmApp({ outdir, bundle: false });
  app.synth();
  const template = Template.fromStack(stack).toJSON();
  const resolver = new TemplateResolver(template as ConstructorParameters<typeof TemplateResolver>[0]);
  const logicalId = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as CfnResource);
  const stepsArn = resolver.getAtt(logicalId(stack.ticketRouting.steps.function), 'Arn');
  machineArn = resolver.ref(logicalId(stack.ticketRouting.stateMachine));
  const { handler } = await import('../../functions/workflows/ticket-routing.ts');
  const context = { functionName: 'ticket-routing', awsRequestId: 'r' } as unknown as Context;
  const invoker: Invoker = {
    has: (ref) => ref === stepsArn,
    invoke: async (_ref, event) => {
      const { step } = event as { step: string };
      calls.push(step);
      const i = injected.findIndex((e) => e.step === step);
      if (i >= 0) throw injected.splice(i, 1)[0]!.error;
      return handler(event, context);
    },
  };
  sfn = await LocalStepFunctions.start({ resolver, invoker, waitTimeScale: 0, log: (m) => loadLog.push(m) });
  const handlers = {
    tickets: (await import('../../functions/http/tickets.ts')).handler,
    contacts: (await import('../../functions/http/contacts.ts')).handler,
    assignment: (await import('../../functions/http/assignment.ts')).handler,
  };
  as = (group, tenantId) => apiClient(handlers[group], { tenantId, roles: ['admin'], userId: 'admin-1' });
}, 120_000);

afterAll(async () => {
  await sfn?.stop();
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

async function setup(tenantId: string, agents: string[]) {
  for (const a of agents) await putUser(tenantId, a);
  await putTeam(
    tenantId,
    'support',
    agents.map((userId) => ({ userId, availability: 'available' as const })),
  );
  await putTeam(tenantId, 'triage', []);
  const rules = await as('assignment', tenantId)('PUT', '/v1/ticket-routing', {
    body: {
      rules: [{ id: 'all', conditions: { channels: ['email'] }, actions: { teamId: 'support', method: 'roundRobin' } }],
      fallbackTeamId: 'triage',
    },
  });
  expect(rules.status).toBe(200);
}

async function newTicket(tenantId: string, body: Record<string, unknown> = {}): Promise<string> {
  const requester = await as('contacts', tenantId)('POST', '/v1/contacts', { body: makeContact() });
  const res = await as('tickets', tenantId)('POST', '/v1/tickets', {
    body: { subject: 'Help', channel: 'email', requesterId: requester.body.id, ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

/** Starts an execution with what the EventBridge target gives it (the ids) and waits for its end. */
async function execute(tenantId: string, ticketId: string) {
  calls.length = 0;
  const { executionArn } = await sfn.startExecution(machineArn, { tenantId, ticketId });
  return sfn.waitForExecution(executionArn, 60_000);
}

const ticketOf = async (tenantId: string, id: string) =>
  (await as('tickets', tenantId)('GET', `/v1/tickets/${id}`)).body;

describe('the routing state machine in aws-local-stepfunctions', () => {
  it('loads from the template, valid as CDK wrote it, with only supported task resources', () => {
    expect(sfn.stateMachineArns()).toContain(machineArn);
    expect(loadLog).toEqual([]);
  });

  it('routes and assigns through Route → Assign → Apply, round robin across executions', async () => {
    const t = uniqueTenant('sfn');
    await setup(t, ['a1', 'a2']);
    const assignees: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = await newTicket(t);
      const result = await execute(t, id);
      expect(result.status, JSON.stringify(result)).toBe('SUCCEEDED');
      expect(calls).toEqual(['route', 'assign', 'apply']);
      expect(result.output).toMatchObject({ outcome: 'routed', ruleId: 'all', teamId: 'support' });
      assignees.push((await ticketOf(t, id)).assigneeId);
    }
    expect(assignees).toEqual(['a1', 'a2', 'a1']);
  });

  it('ends at the first Choice for a ticket a person assigned, and at Fallback when no rule matches', async () => {
    const t = uniqueTenant('sfn');
    await setup(t, ['a1']);
    const assigned = await newTicket(t, { assigneeId: 'a1' });
    const skipped = await execute(t, assigned);
    expect(skipped).toMatchObject({ status: 'SUCCEEDED', output: { decision: 'skip', reason: 'assigned' } });
    expect(calls).toEqual(['route']);
    const phone = await newTicket(t, { channel: 'phone' });
    const fallback = await execute(t, phone);
    expect(fallback).toMatchObject({ status: 'SUCCEEDED', output: { outcome: 'fallback', reason: 'no_rule' } });
    expect(calls).toEqual(['route', 'fallback']);
    expect((await ticketOf(t, phone)).routing).toMatchObject({ status: 'fallback', teamId: 'triage' });
  });

  it('retries a step after a Lambda service error, with backoff, and carries on', async () => {
    const t = uniqueTenant('sfn');
    await setup(t, ['a1']);
    const id = await newTicket(t);
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'Lambda.TooManyRequestsException' });
    injected.push({ step: 'assign', error: throttled }, { step: 'assign', error: throttled });
    const result = await execute(t, id);
    expect(result.status).toBe('SUCCEEDED');
    expect(calls).toEqual(['route', 'assign', 'assign', 'assign', 'apply']);
    expect(await ticketOf(t, id)).toMatchObject({ assigneeId: 'a1', routing: { status: 'routed' } });
  });

  it('catches a failed step into Fallback: the ticket waits unassigned in the fallback queue', async () => {
    const t = uniqueTenant('sfn');
    await setup(t, ['a1']);
    const id = await newTicket(t);
    injected.push({ step: 'apply', error: Object.assign(new Error('boom'), { name: 'TypeError' }) });
    const result = await execute(t, id);
    expect(result.status).toBe('SUCCEEDED');
    expect(calls).toEqual(['route', 'assign', 'apply', 'fallback']);
    expect(result.output).toMatchObject({ outcome: 'fallback', reason: 'error', error: { Error: 'TypeError' } });
    const ticket = await ticketOf(t, id);
    expect(ticket.assigneeId).toBeUndefined();
    expect(ticket).toMatchObject({ teamId: 'triage', routing: { status: 'fallback', reason: 'error' } });
  });

  it('fails the execution when even the fallback cannot be written (the alarmed case)', async () => {
    const t = uniqueTenant('sfn');
    await setup(t, []);
    // The fallback team was deleted after it was set: the fallback write's team check fails, and is not retried.
    const { model } = await import('../../shared/db/store.ts');
    await model.entities.team
      .patch({ tenantId: t, teamId: 'triage' })
      .set({ deletedAt: new Date().toISOString() })
      .go();
    const id = await newTicket(t);
    const result = await execute(t, id);
    expect(result.status).toBe('FAILED');
    expect(calls).toEqual(['route', 'assign', 'fallback']);
    expect((await ticketOf(t, id)).routing).toBeUndefined();
  });
});
