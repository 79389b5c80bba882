import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateScheduleGroupCommand, GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalScheduler } from '../../infra/local/scheduler.ts';
import { sweepScheduleName } from '../../shared/segments/consumer.ts';
import { makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

const context = { awsRequestId: 'test', functionName: 'segment-membership' } as Context;
const GROUP = 'segment-sweeps';
const MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:segment-backfill';

type Handler = (event: unknown, context: Context) => Promise<void>;
let consume: Handler;
let segmentsAs: (tenantId: string) => ReturnType<typeof apiClient>;
let contactsAs: (tenantId: string) => ReturnType<typeof apiClient>;
let scheduler: LocalScheduler;
let schedules: SchedulerClient;
let dataDir: string;
let model: typeof import('../../shared/db/store.ts').model;

beforeAll(async () => {
  await useFreshTable();
  dataDir = await mkdtemp(join(tmpdir(), 'segment-membership-'));
  scheduler = await LocalScheduler.start({
    dataDir,
    invoker: { has: () => false, invoke: async () => undefined },
    pollIntervalMs: 3_600_000,
  });
  schedules = new SchedulerClient({
    endpoint: scheduler.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await schedules.send(new CreateScheduleGroupCommand({ Name: GROUP }));
  process.env.AWS_ENDPOINT_URL_SCHEDULER = scheduler.endpoint;
  process.env.SWEEP_SCHEDULE_GROUP = GROUP;
  process.env.SWEEP_STATE_MACHINE_ARN = MACHINE;
  process.env.SWEEP_ROLE_ARN = 'arn:aws:iam::000000000000:role/scheduler';
  consume = (await import('./segment-membership.ts')).handler as unknown as Handler;
  model = (await import('../../shared/db/store.ts')).model;
  const segments = (await import('../http/segments.ts')).handler;
  const contacts = (await import('../http/contacts.ts')).handler;
  segmentsAs = (tenantId) => apiClient(segments, { tenantId, roles: ['admin'], userId: 'mk-1' });
  contactsAs = (tenantId) => apiClient(contacts, { tenantId, roles: ['admin'], userId: 'admin-1' });
});

afterAll(async () => {
  schedules?.destroy();
  await scheduler?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** An event as the bus delivers it; only ids are read, so the detail is the record-change envelope. */
function event(detailType: string, detail: Record<string, unknown>) {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': detailType,
    source: 'crm.test',
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail,
  };
}
const contactEvent = (type: string, tenantId: string, contactId: string, version = 1) =>
  event(`contact.${type}`, {
    schemaVersion: 2,
    tenantId,
    entity: 'contact',
    entityId: contactId,
    version,
    occurredAt: new Date().toISOString(),
    changes: {},
    record: {},
  });
const segmentEvent = (type: string, tenantId: string, segmentId: string) =>
  event(`segment.${type}`, {
    schemaVersion: 2,
    tenantId,
    entity: 'segment',
    entityId: segmentId,
    version: 1,
    occurredAt: new Date().toISOString(),
    changes: {},
    record: {},
  });

async function setUp(filter: unknown) {
  const tenantId = uniqueTenant('segm');
  const created = await segmentsAs(tenantId)('POST', '/v1/segments', { body: { kind: 'dynamic', name: 'S', filter } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return { tenantId, segmentId: created.body.id as string };
}

async function newContact(tenantId: string, overrides: Record<string, unknown> = {}) {
  const res = await contactsAs(tenantId)('POST', '/v1/contacts', { body: makeContact(overrides) });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function members(tenantId: string, segmentId: string) {
  const segment = await segmentsAs(tenantId)('GET', `/v1/segments/${segmentId}`);
  const list = await segmentsAs(tenantId)('GET', `/v1/segments/${segmentId}/members?limit=100`);
  return {
    count: segment.body.memberCount as number,
    ids: list.body.items.map((m: { contactId: string }) => m.contactId) as string[],
  };
}

const vip = { field: 'tags', op: 'contains', value: 'vip' };

describe('segment membership consumer', () => {
  it('follows contact changes exactly once, whatever the order and number of deliveries', async () => {
    const { tenantId, segmentId } = await setUp(vip);
    const ada = await newContact(tenantId, { tags: ['vip'] });
    const bob = await newContact(tenantId, { tags: ['other'] });
    const created = contactEvent('created', tenantId, ada);
    // Redelivered and racing copies of one event count once.
    await Promise.all([1, 2, 3, 4].map(() => consume(created, context)));
    await consume(contactEvent('created', tenantId, bob), context);
    expect(await members(tenantId, segmentId)).toEqual({ count: 1, ids: [ada] });
    const member = await model.entities.segmentMember.get({ tenantId, segmentId, contactId: ada }).go();
    expect(member.data).toMatchObject({ source: 'filter', evaluation: 1, filterVersion: 1 });

    // Ada loses the tag: the old `created` event arriving late removes her too (the contact is read, not the event).
    const patched = await contactsAs(tenantId)('PATCH', `/v1/contacts/${ada}`, { body: { tags: ['x'] } });
    expect(patched.status).toBe(200);
    await consume(created, context);
    expect(await members(tenantId, segmentId)).toEqual({ count: 0, ids: [] });
    await consume(contactEvent('updated', tenantId, ada, 2), context);
    expect((await members(tenantId, segmentId)).count).toBe(0);

    // Bob gains it; deleted he leaves, restored he comes back.
    await contactsAs(tenantId)('PATCH', `/v1/contacts/${bob}`, { body: { tags: ['vip'] } });
    await consume(contactEvent('updated', tenantId, bob, 2), context);
    expect(await members(tenantId, segmentId)).toEqual({ count: 1, ids: [bob] });
    expect((await contactsAs(tenantId)('DELETE', `/v1/contacts/${bob}`)).status).toBe(204);
    await consume(contactEvent('deleted', tenantId, bob, 3), context);
    expect(await members(tenantId, segmentId)).toEqual({ count: 0, ids: [] });
    expect((await contactsAs(tenantId)('POST', `/v1/contacts/${bob}/restore`)).status).toBe(200);
    await consume(contactEvent('restored', tenantId, bob, 4), context);
    expect(await members(tenantId, segmentId)).toEqual({ count: 1, ids: [bob] });
    // A contact that does not exist (erased) is in no segment.
    await consume(contactEvent('deleted', tenantId, 'never-there', 1), context);
    expect((await members(tenantId, segmentId)).count).toBe(1);
  });

  it('never decides on a cached filter after an edit', async () => {
    const { tenantId, segmentId } = await setUp(vip);
    const ada = await newContact(tenantId, { tags: ['vip'], lifecycleStage: 'lead' });
    await consume(contactEvent('created', tenantId, ada), context);
    expect((await members(tenantId, segmentId)).count).toBe(1);
    // The consumer's container still caches the old filter; the edit bumps the evaluation its writes check.
    const patched = await segmentsAs(tenantId)('PATCH', `/v1/segments/${segmentId}`, {
      body: { filter: { field: 'lifecycleStage', op: 'eq', value: 'customer' } },
    });
    expect(patched.body.filterVersion).toBe(2);
    const bob = await newContact(tenantId, { tags: ['vip'], lifecycleStage: 'lead' });
    const cyd = await newContact(tenantId, { tags: [], lifecycleStage: 'customer' });
    await consume(contactEvent('created', tenantId, bob), context);
    await consume(contactEvent('created', tenantId, cyd), context);
    await consume(contactEvent('updated', tenantId, ada), context);
    expect(await members(tenantId, segmentId)).toEqual({ count: 1, ids: [cyd] });
  });

  it('reacts to opens and clicks for segments with engagement conditions', async () => {
    const { tenantId, segmentId } = await setUp({ field: 'engagement.opened', op: 'withinDays', value: 7 });
    const other = await setUp(vip);
    const ada = await newContact(tenantId, { tags: ['vip'] });
    await consume(contactEvent('created', tenantId, ada), context);
    expect((await members(tenantId, segmentId)).count).toBe(0);
    const at = new Date().toISOString();
    await model.entities.contactEngagement.put({ tenantId, contactId: ada, lastOpenedAt: at, updatedAt: at }).go();
    const opened = event('email.opened', { schemaVersion: 1, tenantId, contactId: ada, campaignId: 'c1', at });
    await consume(opened, context);
    await consume(opened, context);
    expect(await members(tenantId, segmentId)).toEqual({ count: 1, ids: [ada] });
    expect((await members(other.tenantId, other.segmentId)).count).toBe(0);
  });

  it('keeps an hourly sweep schedule for segments with time windows only', async () => {
    const { tenantId, segmentId } = await setUp({
      not: { field: 'engagement.clicked', op: 'withinDays', value: 30 },
    });
    await consume(segmentEvent('created', tenantId, segmentId), context);
    const name = sweepScheduleName(tenantId, segmentId);
    const schedule = await schedules.send(new GetScheduleCommand({ Name: name, GroupName: GROUP }));
    expect(schedule.ScheduleExpression).toBe('rate(1 hour)');
    expect(schedule.Target?.Arn).toBe(MACHINE);
    expect(JSON.parse(schedule.Target?.Input ?? '{}')).toEqual({ tenantId, segmentId, mode: 'sweep' });
    await consume(segmentEvent('created', tenantId, segmentId), context);

    await segmentsAs(tenantId)('PATCH', `/v1/segments/${segmentId}`, { body: { filter: vip } });
    await consume(segmentEvent('updated', tenantId, segmentId), context);
    await expect(schedules.send(new GetScheduleCommand({ Name: name, GroupName: GROUP }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });

    const timed = await setUp({ field: 'createdAt', op: 'withinDays', value: 30 });
    await consume(segmentEvent('created', timed.tenantId, timed.segmentId), context);
    const timedName = sweepScheduleName(timed.tenantId, timed.segmentId);
    expect((await schedules.send(new GetScheduleCommand({ Name: timedName, GroupName: GROUP }))).State).toBe('ENABLED');
    await segmentsAs(timed.tenantId)('DELETE', `/v1/segments/${timed.segmentId}`);
    await consume(segmentEvent('deleted', timed.tenantId, timed.segmentId), context);
    await expect(schedules.send(new GetScheduleCommand({ Name: timedName, GroupName: GROUP }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});
