import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { Context, DynamoDBRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';
import { LocalSes } from '../local/ses.ts';
import { LocalStepFunctions } from '../local/stepfunctions.ts';
import { TemplateResolver } from '../local/template.ts';
import type { Invoker } from '../local/types.ts';
import { createCrmApp } from '../synth.ts';

/**
 * The enrolment workflow exactly as CDK synthesizes it (Step → Done? → Wait → Step), run by the local cloud's Step
 * Functions with real waits, the real steps handler in-process against DynamoDB Local and the local SES, started by
 * the real triggers consumer from the catalog event the stream publisher makes of the enrolment's creation.
 */
type Client = ReturnType<typeof apiClient>;
let outdir: string;
let sfn: LocalStepFunctions;
let ses: LocalSes;
let machineArn: string;
let sequencesAs: Client;
let contactsAs: Client;
let triggers: (event: unknown) => Promise<void>;
let model: typeof import('../../shared/db/store.ts').model;
let eventsFrom: typeof import('../../shared/events/from-stream.ts').eventsFromStreamRecord;
const tenant = uniqueTenant('seqsm');
const context = { functionName: 'fn', awsRequestId: 'r' } as unknown as Context;
/** Errors a Step call throws instead of running its turn, in order (the failure path). */
const injected: Error[] = [];
const calls: Array<'step' | 'fail'> = [];

beforeAll(async () => {
  await useFreshTable();
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  process.env.CDK_VALIDATION = 'false';
  process.env.PUBLIC_API_URL = 'https://forms.example.test';
  process.env.MARKETING_CONFIGURATION_SET = 'crm-marketing';
  process.env.MARKETING_MAIL_DOMAIN = 'acme.example';
  ses = await LocalSes.start({ log: () => {} });
  process.env.AWS_ENDPOINT_URL_SESV2 = ses.endpoint;
  outdir = mkdtempSync(join(tmpdir(), 'sequence-machine-'));
  const { app, stack } = createCrmApp({ outdir, bundle: false });
  app.synth();
  const template = Template.fromStack(stack).toJSON();
  const resolver = new TemplateResolver(template as ConstructorParameters<typeof TemplateResolver>[0]);
  const logicalId = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as CfnResource);
  const stepsArn = resolver.getAtt(logicalId(stack.sequences.steps.function), 'Arn');
  machineArn = resolver.ref(logicalId(stack.sequences.stateMachine));
  const steps = (await import('../../functions/workflows/sequence-step.ts')).handler;
  const invoker: Invoker = {
    has: (ref) => ref === stepsArn,
    invoke: async (_ref, event) => {
      const failing = typeof event === 'object' && event !== null && 'error' in event;
      calls.push(failing ? 'fail' : 'step');
      if (!failing && injected.length > 0) throw injected.shift();
      return steps(event, context);
    },
  };
  sfn = await LocalStepFunctions.start({ resolver, invoker, waitTimeScale: 1, log: () => {} });
  process.env.AWS_ENDPOINT_URL_SFN = sfn.endpoint;
  process.env.SEQUENCE_STATE_MACHINE_ARN = machineArn;
  const consumer = (await import('../../functions/events/sequence-triggers.ts')).handler;
  triggers = (event) => consumer(event as never, context);
  ({ model } = await import('../../shared/db/store.ts'));
  ({ eventsFromStreamRecord: eventsFrom } = await import('../../shared/events/from-stream.ts'));
  sequencesAs = apiClient((await import('../../functions/http/sequences.ts')).handler, {
    tenantId: tenant,
    roles: ['marketing'],
    userId: 'marketer-1',
  });
  contactsAs = apiClient((await import('../../functions/http/contacts.ts')).handler, {
    tenantId: tenant,
    roles: ['admin'],
    userId: 'owner-1',
  });
  const now = new Date().toISOString();
  for (const templateId of ['tpl-1', 'tpl-2']) {
    await model.entities.emailTemplate
      .create({
        tenantId: tenant,
        templateId,
        name: templateId,
        sortName: templateId,
        subject: `${templateId} for {{ contact.firstName }}`,
        text: 'Hi {{ contact.firstName }}',
        version: 1,
        createdAt: now,
        updatedAt: now,
      })
      .go();
  }
}, 120_000);

afterAll(async () => {
  await sfn?.stop();
  await ses?.stop();
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

/** The bus event the stream publisher makes of the enrolment's creation (its real mapping). */
async function enrollmentCreatedEvent(sequenceId: string, contactId: string) {
  const params = model.entities.sequenceEnrollment.get({ tenantId: tenant, contactId, sequenceId }).params();
  const { DynamoDBClient, GetItemCommand } = await import('@aws-sdk/client-dynamodb');
  const raw = await new DynamoDBClient({}).send(
    new GetItemCommand({ TableName: params.TableName, Key: marshall(params.Key), ConsistentRead: true }),
  );
  const record = { eventName: 'INSERT', dynamodb: { NewImage: raw.Item } } as unknown as DynamoDBRecord;
  const [event] = eventsFrom(record);
  expect(event?.detailType).toBe('sequence.enrollment_created');
  return { 'detail-type': event!.detailType, source: event!.source, detail: event!.detail };
}

describe('the sequence state machine', () => {
  it('starts once per enrolment, sends mail 1, waits PT2S, branches on the open to mail 2 and succeeds', async () => {
    const created = await sequencesAs('POST', '/v1/sequences', {
      body: {
        name: 'Drip',
        from: { address: 'news@acme.example' },
        steps: [
          { id: 's1', type: 'send', templateId: 'tpl-1' },
          { id: 'w1', type: 'wait', duration: 'PT2S' },
          { id: 'b1', type: 'branch', on: 'opened', sendStep: 's1', ifTrue: 's2', ifFalse: 't1' },
          { id: 's2', type: 'send', templateId: 'tpl-2' },
          { id: 'e1', type: 'end' },
          { id: 't1', type: 'task', title: 'No open: call' },
        ],
      },
    });
    const sequenceId = created.body.id as string;
    await sequencesAs('POST', `/v1/sequences/${sequenceId}/activate`);
    const contact = await contactsAs('POST', '/v1/contacts', { body: makeContact({ ownerId: 'owner-1' }) });
    const contactId = contact.body.id as string;
    const email = (contact.body.emails as string[])[0]!.toLowerCase();
    await sequencesAs('POST', `/v1/sequences/${sequenceId}/enrollments`, { body: { contactIds: [contactId] } });

    const event = await enrollmentCreatedEvent(sequenceId, contactId);
    await triggers(event);
    await triggers(event); // redelivered: the same execution name, nothing new
    const executions = sfn.listExecutions(machineArn);
    expect(executions).toHaveLength(1);
    expect(executions[0]!.name).toMatch(/^seq-[A-Za-z0-9_-]{43}-r1$/);

    // Mail 1 goes out before the wait; the tracking consumer then records an open on its ledger item.
    const sent = async () => (await ses.sentEmails()).filter((m) => m.to.includes(email)).map((m) => m.subject);
    for (let i = 0; i < 50 && (await sent()).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await sent()).toEqual(['tpl-1 for Ada']);
    await model.entities.campaignRecipient
      .patch({ tenantId: tenant, campaignId: `seq-${sequenceId}-s1`, email })
      .set({ openedAt: new Date().toISOString() })
      .go();

    const result = await sfn.waitForExecution(executions[0]!.executionArn, 20_000);
    expect(result.status).toBe('SUCCEEDED');
    expect(await sent()).toEqual(['tpl-1 for Ada', 'tpl-2 for Ada']);
    const enrolment = await sequencesAs('GET', `/v1/sequences/${sequenceId}/enrollments/${contactId}`);
    expect(enrolment.body).toMatchObject({ status: 'completed', currentStep: 'e1' });
  }, 30_000);

  it('an error past the retries ends the enrolment as failed with its cause, then fails the execution', async () => {
    const created = await sequencesAs('POST', '/v1/sequences', {
      body: {
        name: 'Breaks',
        from: { address: 'news@acme.example' },
        steps: [{ id: 's1', type: 'send', templateId: 'tpl-1' }],
      },
    });
    const sequenceId = created.body.id as string;
    await sequencesAs('POST', `/v1/sequences/${sequenceId}/activate`);
    const contact = await contactsAs('POST', '/v1/contacts', { body: makeContact() });
    const contactId = contact.body.id as string;
    await sequencesAs('POST', `/v1/sequences/${sequenceId}/enrollments`, { body: { contactIds: [contactId] } });
    // Not a transient error: no retry, straight to the Catch.
    injected.push(Object.assign(new Error('template tpl-1 is corrupt'), { name: 'TypeError' }));
    calls.length = 0;
    await triggers(await enrollmentCreatedEvent(sequenceId, contactId));
    const { executionName } = await import('../../shared/sequences/execution.ts');
    const name = executionName({ tenantId: tenant, sequenceId, contactId, run: 1 });
    const execution = sfn.listExecutions(machineArn).find((e) => e.name === name);
    const result = await sfn.waitForExecution(execution!.executionArn, 20_000);
    expect(result).toMatchObject({ status: 'FAILED', error: 'SequenceEnrollmentFailed' });
    expect(calls).toEqual(['step', 'fail']);
    const enrolment = await sequencesAs('GET', `/v1/sequences/${sequenceId}/enrollments/${contactId}`);
    expect(enrolment.body).toMatchObject({
      status: 'failed',
      failure: expect.stringContaining('template tpl-1 is corrupt'),
      failedAt: expect.any(String),
      version: 2,
    });
    expect(enrolment.body.failure).toMatch(/^TypeError: /);
    expect(enrolment.body.waitUntil).toBeUndefined();
    // Ended: a manual exit now is a 409, and another failure of the same run changes nothing.
    const exit = await sequencesAs('DELETE', `/v1/sequences/${sequenceId}/enrollments/${contactId}`);
    expect(exit.status).toBe(409);
    const steps = (await import('../../functions/workflows/sequence-step.ts')).handler;
    const again = await steps(
      { tenantId: tenant, sequenceId, contactId, run: 1, error: { Error: 'X', Cause: 'again' } },
      context,
    );
    expect(again).toMatchObject({ failed: false });
    expect((await sequencesAs('GET', `/v1/sequences/${sequenceId}/enrollments/${contactId}`)).body).toMatchObject({
      status: 'failed',
      version: 2,
    });
  }, 30_000);

  it('records nothing over an enrolment that ended meanwhile (an exit wins over a late failure)', async () => {
    const created = await sequencesAs('POST', '/v1/sequences', {
      body: { name: 'Exited', from: { address: 'news@acme.example' }, steps: [{ id: 'e1', type: 'end' }] },
    });
    const sequenceId = created.body.id as string;
    const contact = await contactsAs('POST', '/v1/contacts', { body: makeContact() });
    const contactId = contact.body.id as string;
    await sequencesAs('POST', `/v1/sequences/${sequenceId}/enrollments`, { body: { contactIds: [contactId] } });
    expect((await sequencesAs('DELETE', `/v1/sequences/${sequenceId}/enrollments/${contactId}`)).status).toBe(204);
    const steps = (await import('../../functions/workflows/sequence-step.ts')).handler;
    const result = await steps(
      { tenantId: tenant, sequenceId, contactId, run: 1, error: { Error: 'States.Timeout', Cause: 'late' } },
      context,
    );
    expect(result).toMatchObject({ failed: false });
    expect((await sequencesAs('GET', `/v1/sequences/${sequenceId}/enrollments/${contactId}`)).body).toMatchObject({
      status: 'exited',
      exitReason: 'manual',
    });
  });
});
