import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateScheduleGroupCommand, GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalScheduler } from '../../infra/local/scheduler.ts';
import type { Invoker } from '../../infra/local/types.ts';
import { decayScheduleName } from '../../shared/scoring/consumer.ts';
import { uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

const FN_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:lead-scoring';
const context = { invokedFunctionArn: FN_ARN, awsRequestId: 'test', functionName: 'lead-scoring' } as Context;
const GROUP = 'lead-scoring';

type Handler = (event: unknown, context: Context) => Promise<void>;
let score: Handler;
let leadsAs: (tenantId: string) => ReturnType<typeof apiClient>;
let scheduler: LocalScheduler;
let schedules: SchedulerClient;
let dataDir: string;
const fired: unknown[] = [];
let now = Date.now();

const rules = [
  {
    id: 'software',
    kind: 'fit',
    field: 'company.industry',
    condition: { op: 'equals', value: 'Software' },
    points: 10,
  },
  {
    id: 'dach',
    kind: 'fit',
    field: 'company.address.country',
    condition: { op: 'in', values: ['DE', 'AT'] },
    points: 5,
  },
  { id: 'form', kind: 'engagement', event: 'form.submitted', points: 20, halfLifeDays: 30 },
  {
    id: 'meeting-held',
    kind: 'engagement',
    event: 'activity.updated',
    where: { 'record.type': 'meeting', 'record.status': 'held' },
    points: 30,
  },
];

beforeAll(async () => {
  await useFreshTable();
  dataDir = await mkdtemp(join(tmpdir(), 'lead-scoring-'));
  const invoker: Invoker = {
    has: (ref) => ref === FN_ARN,
    invoke: async (_fn, event) => {
      fired.push(event);
      return score(event, context);
    },
  };
  scheduler = await LocalScheduler.start({ dataDir, invoker, pollIntervalMs: 3_600_000, now: () => new Date(now) });
  schedules = new SchedulerClient({
    endpoint: scheduler.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await schedules.send(new CreateScheduleGroupCommand({ Name: GROUP }));
  process.env.AWS_ENDPOINT_URL_SCHEDULER = scheduler.endpoint;
  process.env.SCORE_SCHEDULE_GROUP = GROUP;
  process.env.SCORE_SCHEDULER_ROLE_ARN = 'arn:aws:iam::000000000000:role/scheduler';
  score = (await import('./lead-scoring.ts')).handler as unknown as Handler;
  const leads = (await import('../http/leads.ts')).handler;
  leadsAs = (tenantId) => apiClient(leads, { tenantId, roles: ['admin'], userId: 'admin-1' });
});

afterAll(async () => {
  schedules?.destroy();
  await scheduler?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** A record-change event as the stream publisher puts it on the bus. */
function changeEvent(detailType: string, detail: Record<string, unknown>) {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': detailType,
    source: 'crm.test',
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail: { schemaVersion: 2, version: 1, occurredAt: new Date().toISOString(), ...detail },
  };
}

async function setUp() {
  const tenantId = uniqueTenant('score');
  const put = await leadsAs(tenantId)('PUT', '/v1/scoring-rules', { body: { rules } });
  expect(put.status).toBe(200);
  const lead = await leadsAs(tenantId)('POST', '/v1/leads', {
    body: { firstName: 'Ada', company: { name: 'Engines', industry: 'software', address: { country: 'de' } } },
  });
  expect(lead.status).toBe(201);
  return { tenantId, leadId: lead.body.id as string };
}

const getLead = async (tenantId: string, leadId: string) =>
  (await leadsAs(tenantId)('GET', `/v1/leads/${leadId}`)).body;

describe('lead scoring consumer', () => {
  it('scores a new lead by its fit, explaining each rule; its own echo changes nothing', async () => {
    const { tenantId, leadId } = await setUp();
    await score(
      changeEvent('lead.created', { tenantId, entity: 'lead', entityId: leadId, changes: {}, record: {} }),
      context,
    );
    const lead = await getLead(tenantId, leadId);
    expect(lead).toMatchObject({ score: 15, version: 2 });
    expect(lead.scoreReasons.map((r: { ruleId: string }) => r.ruleId)).toEqual(['software', 'dach']);
    expect(lead.engagements).toBeUndefined();
    // The write above comes back as lead.updated with only score fields changed: the loop guard ignores it.
    await score(
      changeEvent('lead.updated', {
        tenantId,
        entity: 'lead',
        entityId: leadId,
        changes: { score: { new: 15 }, scoreReasons: { new: [] }, scoredAt: { new: 'x' }, version: { old: 1, new: 2 } },
        record: {},
      }),
      context,
    );
    // And a real change that does not move the score writes nothing either (fixpoint).
    await score(
      changeEvent('lead.updated', {
        tenantId,
        entity: 'lead',
        entityId: leadId,
        changes: { title: { new: 'CTO' } },
        record: {},
      }),
      context,
    );
    expect((await getLead(tenantId, leadId)).version).toBe(2);
  });

  it('rescores on a fit change, adds engagements once per event, and schedules the decay recompute', async () => {
    const { tenantId, leadId } = await setUp();
    await leadsAs(tenantId)('PATCH', `/v1/leads/${leadId}`, { body: { company: { industry: 'Retail' } } });
    await score(
      changeEvent('lead.updated', { tenantId, entity: 'lead', entityId: leadId, changes: { company: {} }, record: {} }),
      context,
    );
    expect((await getLead(tenantId, leadId)).score).toBe(5);

    const submitted = changeEvent('form.submitted', {
      tenantId,
      entity: 'formSubmission',
      entityId: 'sub-1',
      changes: { leadId: { new: leadId } },
      record: { id: 'sub-1', formId: 'form-1', leadId },
    });
    await score(submitted, context);
    await score(submitted, context); // redelivered: counted once
    let lead = await getLead(tenantId, leadId);
    expect(lead.score).toBe(25);
    expect(lead.scoreReasons.at(-1)).toMatchObject({
      ruleId: 'form',
      kind: 'engagement',
      points: 20,
      detail: '1 × form.submitted',
    });

    const meeting = (status: string) =>
      changeEvent('activity.updated', {
        tenantId,
        entity: 'activity',
        entityId: 'act-1',
        changes: { status: { new: status } },
        record: {
          type: 'meeting',
          status,
          links: [
            { type: 'contact', id: 'c1' },
            { type: 'lead', id: leadId },
          ],
        },
      });
    await score(meeting('scheduled'), context);
    expect((await getLead(tenantId, leadId)).score).toBe(25);
    await score(meeting('held'), context);
    await score(meeting('held'), context);
    lead = await getLead(tenantId, leadId);
    expect(lead.score).toBe(55);

    // The form engagement decays (half-life 30 days): a one-time schedule brings the lead back when it next moves.
    const schedule = await schedules.send(
      new GetScheduleCommand({ GroupName: GROUP, Name: decayScheduleName(tenantId, leadId) }),
    );
    expect(schedule.ScheduleExpression).toMatch(/^at\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\)$/);
    expect(schedule.ActionAfterCompletion).toBe('DELETE');
    expect(JSON.parse(schedule.Target!.Input!)).toEqual({ kind: 'lead.rescore', tenantId, leadId });
    expect(schedule.Target!.Arn).toBe(FN_ARN);
    const due = Date.parse(`${/^at\((.+)\)$/.exec(schedule.ScheduleExpression!)![1]}Z`);
    // 20 points with a 30-day half-life lose half a point after 30 * log2(20 / 19.5) days (about 26 hours).
    expect((due - Date.now()) / 3_600_000).toBeGreaterThan(20);
    expect((due - Date.now()) / 3_600_000).toBeLessThan(30);

    // When it fires, the consumer takes the lead back and recomputes it.
    now = due + 1000;
    await scheduler.poll();
    expect(fired).toContainEqual({ kind: 'lead.rescore', tenantId, leadId });
  });

  it('ignores deletions, events of unknown leads and events without a tenant', async () => {
    const { tenantId, leadId } = await setUp();
    await score(
      changeEvent('lead.deleted', { tenantId, entity: 'lead', entityId: leadId, changes: {}, record: {} }),
      context,
    );
    await score(
      changeEvent('activity.created', {
        tenantId,
        entity: 'activity',
        entityId: 'a',
        record: { links: [{ type: 'lead', id: 'nope' }] },
      }),
      context,
    );
    await score(
      changeEvent('activity.created', { entity: 'activity', record: { links: [{ type: 'lead', id: leadId }] } }),
      context,
    );
    expect((await getLead(tenantId, leadId)).version).toBe(1);
    await expect(score({ kind: 'lead.rescore', tenantId: 'a#b', leadId }, context)).rejects.toThrow();
  });
});
