import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putContacts, putSegment, putTemplate } from '../../test/support/campaigns.ts';
import { uniqueTenant } from '../../test/support/factories.ts';
import { useFreshTable } from '../../test/support/table.ts';
import { createCrmApp } from '../synth.ts';
import { LocalSes } from './ses.ts';
import { LocalStepFunctions } from './stepfunctions.ts';
import { TemplateResolver } from './template.ts';
import type { Invoker } from './types.ts';

/**
 * The campaign send state machine exactly as CDK synthesizes it, run by aws-local-stepfunctions with the real steps
 * handler in-process against DynamoDB Local and the local SES: the SendBatch loop, a pause between batches and the
 * resumed run, a retried interruption, and an error caught into Fail.
 */
let outdir: string;
let sfn: LocalStepFunctions;
let ses: LocalSes;
let machineArn: string;
let model: typeof import('../../shared/db/store.ts').model;
let campaignKeys: typeof import('../../shared/db/keys.ts').campaignKeys;
/** Errors thrown instead of running a step, in order, by step. */
const injected: Array<{ step: string; error: Error }> = [];
/** Run after a step answered (e.g. a pause arriving between two batches). */
const after: Array<{ step: string; run: () => Promise<void> }> = [];
const calls: string[] = [];

beforeAll(async () => {
  await useFreshTable();
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  process.env.CDK_VALIDATION = 'false';
  ses = await LocalSes.start({ log: () => {} });
  process.env.AWS_ENDPOINT_URL_SESV2 = ses.endpoint;
  process.env.MARKETING_MAIL_DOMAIN = 'crm.local';
  process.env.PUBLIC_API_URL = 'https://public.crm.example';
  process.env.SES_MAX_SEND_RATE = '100';
  // One page per batch: the loop goes round once per page.
  process.env.BATCH_SECONDS = '0.001';
  outdir = mkdtempSync(join(tmpdir(), 'campaign-machine-'));
  const { app, stack } = createCrmApp({ outdir, bundle: false });
  app.synth();
  const resolver = new TemplateResolver(
    Template.fromStack(stack).toJSON() as ConstructorParameters<typeof TemplateResolver>[0],
  );
  const logicalId = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as CfnResource);
  const stepsArn = resolver.getAtt(logicalId(stack.campaigns.steps.function), 'Arn');
  machineArn = resolver.ref(logicalId(stack.campaigns.stateMachine));
  const { handler } = await import('../../functions/workflows/campaign-send.ts');
  ({ model } = await import('../../shared/db/store.ts'));
  ({ campaignKeys } = await import('../../shared/db/keys.ts'));
  const context = { functionName: 'campaign-send', awsRequestId: 'r' } as unknown as Context;
  const invoker: Invoker = {
    has: (ref) => ref === stepsArn,
    invoke: async (_ref, event) => {
      const { step } = event as { step: string };
      calls.push(step);
      const i = injected.findIndex((e) => e.step === step);
      if (i >= 0) throw injected.splice(i, 1)[0]!.error;
      const result = await handler(event, context);
      const j = after.findIndex((a) => a.step === step);
      if (j >= 0) await after.splice(j, 1)[0]!.run();
      return result;
    },
  };
  sfn = await LocalStepFunctions.start({ resolver, invoker, waitTimeScale: 0, log: () => {} });
}, 120_000);

afterAll(async () => {
  await sfn?.stop();
  await ses?.stop();
  delete process.env.BATCH_SECONDS;
  delete process.env.SES_MAX_SEND_RATE;
  delete process.env.MARKETING_MAIL_DOMAIN;
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

async function setUp(t: string) {
  const contacts = ['a', 'b', 'c', 'd'].map((n) => ({
    contactId: `c-${n}`,
    email: `${n}@${t}.example`,
    firstName: n.toUpperCase(),
    consent: 'granted' as const,
  }));
  await putContacts(t, contacts);
  // Two sources (a segment, then a list): two pages, so the loop runs more than once.
  await putSegment(t, 'seg', 'dynamic', ['c-a', 'c-b']);
  await putSegment(t, 'list', 'static', ['c-b', 'c-c', 'c-d']);
  await putTemplate(t, 'tpl', { subject: `News ${t}`, text: 'Hi {{ contact.firstName }}' });
  await write(t, {
    name: 'News',
    sortName: 'news',
    status: 'scheduled',
    audience: { segmentIds: ['seg'], listIds: ['list'], excludeSegmentIds: [], excludeListIds: [] },
    templateId: 'tpl',
    from: { address: 'news@crm.local' },
    run: 1,
    sendAt: new Date().toISOString(),
    version: 1,
    createdAt: new Date().toISOString(),
  });
}

/** Writes the campaign as the API would (a status change is a new version with its index keys). */
async function write(tenantId: string, changes: Record<string, unknown>) {
  const { data } = await model.entities.campaign.get({ tenantId, campaignId: 'cmp' }).go();
  const next = {
    ...(data ?? {}),
    ...changes,
    tenantId,
    campaignId: 'cmp',
    version: (data?.version ?? 0) + 1,
    updatedAt: new Date().toISOString(),
  };
  await model.entities.campaign.put({ ...next, ...campaignKeys(next as never) } as never).go();
}

const campaign = async (tenantId: string) =>
  (await model.entities.campaign.get({ tenantId, campaignId: 'cmp' }).go()).data as Record<string, unknown>;

async function run(tenantId: string, runNumber: number) {
  const { executionArn } = await sfn.startExecution(machineArn, { tenantId, campaignId: 'cmp', run: runNumber });
  return sfn.waitForExecution(executionArn, 60_000);
}

const mailedTo = async (t: string) =>
  (await ses.sentEmails()).filter((m) => m.subject === `News ${t}`).flatMap((m) => m.to);

describe('the campaign send state machine in aws-local-stepfunctions', () => {
  it('loops SendBatch page by page until done, then Finish: each address once', async () => {
    const t = uniqueTenant('sm');
    await setUp(t);
    calls.length = 0;
    const result = await run(t, 1);
    expect(result.status, JSON.stringify(result)).toBe('SUCCEEDED');
    expect(calls).toEqual(['start', 'sendBatch', 'sendBatch', 'sendBatch', 'finish']);
    expect((await mailedTo(t)).sort()).toEqual(['a', 'b', 'c', 'd'].map((n) => `${n}@${t}.example`));
    expect(await campaign(t)).toMatchObject({ status: 'sent', progress: { done: true } });
    // A second execution of the same run (Scheduler delivering twice) starts nothing.
    calls.length = 0;
    expect(await run(t, 1)).toMatchObject({ status: 'SUCCEEDED', output: { proceed: false } });
    expect(calls).toEqual(['start']);
  });

  it('stops at a pause between batches and goes on from there in the resumed run', async () => {
    const t = uniqueTenant('sm');
    await setUp(t);
    after.push({ step: 'sendBatch', run: () => write(t, { status: 'paused' }) });
    calls.length = 0;
    const paused = await run(t, 1);
    expect(paused).toMatchObject({ status: 'SUCCEEDED', output: { done: true, outcome: 'paused' } });
    expect(calls).toEqual(['start', 'sendBatch', 'sendBatch']);
    expect((await mailedTo(t)).sort()).toEqual([`a@${t}.example`, `b@${t}.example`]);

    await write(t, { status: 'sending', run: 2 }); // POST .../resume
    calls.length = 0;
    const resumed = await run(t, 2);
    expect(resumed.status).toBe('SUCCEEDED');
    expect(calls).toEqual(['start', 'sendBatch', 'sendBatch', 'finish']);
    // b is in both sources: mailed once, in run 1.
    expect((await mailedTo(t)).sort()).toEqual(['a', 'b', 'c', 'd'].map((n) => `${n}@${t}.example`));
    expect(await campaign(t)).toMatchObject({ status: 'sent', run: 2, executionRun: 2 });
  });

  it('retries an interrupted batch; an error past the retries is caught into Fail and fails the execution', async () => {
    const t = uniqueTenant('sm');
    await setUp(t);
    const interrupted = Object.assign(new Error('SES kept throttling'), { name: 'CampaignSendInterrupted' });
    injected.push({ step: 'sendBatch', error: interrupted });
    calls.length = 0;
    expect((await run(t, 1)).status).toBe('SUCCEEDED');
    expect(calls.filter((c) => c === 'sendBatch')).toHaveLength(4);
    expect(await mailedTo(t)).toHaveLength(4);

    const u = uniqueTenant('sm');
    await setUp(u);
    injected.push({ step: 'sendBatch', error: Object.assign(new Error('bad data'), { name: 'TypeError' }) });
    const failed = await run(u, 1);
    expect(failed.status).toBe('FAILED');
    expect(await campaign(u)).toMatchObject({ status: 'failed', failure: expect.stringContaining('bad data') });
  });
});
