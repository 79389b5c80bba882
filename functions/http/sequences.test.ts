import { beforeAll, describe, expect, it } from 'vitest';
import { makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
let sequencesAs: (tenantId: string, roles?: string[]) => Client;
let contactsAs: (tenantId: string) => Client;
const tenant = uniqueTenant('seq');

beforeAll(async () => {
  await useFreshTable();
  process.env.MARKETING_MAIL_DOMAIN = 'acme.example';
  const sequences = (await import('./sequences.ts')).handler;
  const contacts = (await import('./contacts.ts')).handler;
  sequencesAs = (tenantId, roles = ['marketing']) => apiClient(sequences, { tenantId, roles, userId: 'marketer-1' });
  contactsAs = (tenantId) => apiClient(contacts, { tenantId, roles: ['admin'], userId: 'admin-1' });
});

const fieldsOf = (res: TestResponse) => ((res.body?.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);

const makeSequence = (overrides: Record<string, unknown> = {}) => ({
  name: 'Onboarding',
  from: { address: 'hello@acme.example', name: 'Acme' },
  steps: [
    { id: 's1', type: 'send', templateId: 'tpl-welcome' },
    { id: 'w1', type: 'wait', duration: 'P2D' },
    { id: 'b1', type: 'branch', on: 'opened', sendStep: 's1', ifTrue: 's2', ifFalse: 't1' },
    { id: 's2', type: 'send', templateId: 'tpl-next' },
    { id: 't1', type: 'task', title: 'Call them', dueInDays: 1 },
  ],
  ...overrides,
});

async function newSequence(overrides: Record<string, unknown> = {}, tenantId = tenant) {
  const res = await sequencesAs(tenantId)('POST', '/v1/sequences', { body: makeSequence(overrides) });
  expect(res.status).toBe(201);
  return res.body as { id: string; version: number; status: string; exitOn: string[] };
}

async function newContact(tenantId = tenant) {
  const res = await contactsAs(tenantId)('POST', '/v1/contacts', { body: makeContact() });
  expect(res.status).toBe(201);
  return (res.body as { id: string }).id;
}

describe('sequences: definitions', () => {
  it('creates a paused sequence (default exits), gets, lists, patches with If-Match and deletes it', async () => {
    const created = await newSequence();
    expect(created).toMatchObject({ status: 'paused', exitOn: ['reply', 'unsubscribe'], version: 1 });
    const got = await sequencesAs(tenant, ['readonly'])('GET', `/v1/sequences/${created.id}`);
    expect(got.status).toBe(200);
    expect(got.headers.etag).toBe('"1"');
    const list = await sequencesAs(tenant)('GET', '/v1/sequences?limit=100');
    expect((list.body.items as Array<{ id: string }>).map((s) => s.id)).toContain(created.id);

    const stale = await sequencesAs(tenant)('PATCH', `/v1/sequences/${created.id}`, {
      body: { name: 'Renamed' },
      headers: { 'if-match': '"7"' },
    });
    expect(stale.status).toBe(412);
    const patched = await sequencesAs(tenant)('PATCH', `/v1/sequences/${created.id}`, {
      body: { name: 'Renamed', exitOn: ['reply', 'deal_won'] },
      headers: { 'if-match': '"1"' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'Renamed', exitOn: ['reply', 'deal_won'], version: 2 });

    expect((await sequencesAs(tenant)('DELETE', `/v1/sequences/${created.id}`)).status).toBe(204);
    expect((await sequencesAs(tenant)('GET', `/v1/sequences/${created.id}`)).status).toBe(404);
    const trash = await sequencesAs(tenant)('GET', '/v1/sequences?inTrash=true');
    expect((trash.body.items as Array<{ id: string }>).map((s) => s.id)).toContain(created.id);
  });

  it('replays a create with the same Idempotency-Key', async () => {
    const headers = { 'idempotency-key': `seq-${Date.now()}` };
    const first = await sequencesAs(tenant)('POST', '/v1/sequences', { body: makeSequence(), headers });
    const again = await sequencesAs(tenant)('POST', '/v1/sequences', { body: makeSequence(), headers });
    expect(first.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
  });

  it('answers bad steps with field-level 400s', async () => {
    const res = await sequencesAs(tenant)('POST', '/v1/sequences', {
      body: makeSequence({
        steps: [
          { id: 's1', type: 'send', templateId: 'tpl' },
          { id: 'b1', type: 'branch', on: 'opened', sendStep: 's1', ifTrue: 's1', ifFalse: 'zz' },
          { id: 'w1', type: 'wait', duration: 'P1M' },
        ],
        exitOn: ['reply', 'birthday'],
      }),
    });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(fieldsOf(res)).toEqual(
      expect.arrayContaining(['body.steps.1.ifTrue', 'body.steps.1.ifFalse', 'body.steps.2.duration', 'body.exitOn.1']),
    );
  });

  it('refuses a sender outside the mail domain (the send role could not send from it)', async () => {
    const res = await sequencesAs(tenant)('POST', '/v1/sequences', {
      body: makeSequence({ from: { address: 'news@elsewhere.example' } }),
    });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['body.from.address']);
  });

  it('refuses step changes while active (409), allows them paused; activate and pause are idempotent', async () => {
    const s = await newSequence();
    const active = await sequencesAs(tenant)('POST', `/v1/sequences/${s.id}/activate`);
    expect(active.status).toBe(200);
    expect(active.body).toMatchObject({ status: 'active' });
    expect((await sequencesAs(tenant)('POST', `/v1/sequences/${s.id}/activate`)).body.version).toBe(
      active.body.version,
    );
    const steps = [{ id: 'x', type: 'task', title: 'Only a task' }];
    const refused = await sequencesAs(tenant)('PATCH', `/v1/sequences/${s.id}`, { body: { steps } });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('sequence.active');
    expect((await sequencesAs(tenant)('POST', `/v1/sequences/${s.id}/pause`)).body.status).toBe('paused');
    const changed = await sequencesAs(tenant)('PATCH', `/v1/sequences/${s.id}`, { body: { steps } });
    expect(changed.status).toBe(200);
    expect(changed.body.steps).toEqual(steps);
  });

  it('keeps tenants apart and denies roles without the permission', async () => {
    const s = await newSequence();
    expect((await sequencesAs(uniqueTenant('other'))('GET', `/v1/sequences/${s.id}`)).status).toBe(404);
    expect((await sequencesAs(tenant, ['support'])('POST', '/v1/sequences', { body: makeSequence() })).status).toBe(
      403,
    );
  });
});

describe('sequences: enrolments', () => {
  it('enrols once per contact, reports the already enrolled and unknown ids, lists and gets enrolments', async () => {
    const s = await newSequence();
    const [a, b] = [await newContact(), await newContact()];
    const first = await sequencesAs(tenant, ['sales'])('POST', `/v1/sequences/${s.id}/enrollments`, {
      body: { contactIds: [a, 'nobody-here'] },
    });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ enrolled: [a], alreadyEnrolled: [], notFound: ['nobody-here'] });
    const second = await sequencesAs(tenant)('POST', `/v1/sequences/${s.id}/enrollments`, {
      body: { contactIds: [a, b, b] },
    });
    expect(second.body).toEqual({ enrolled: [b], alreadyEnrolled: [a], notFound: [] });

    const page1 = await sequencesAs(tenant)('GET', `/v1/sequences/${s.id}/enrollments?limit=1`);
    const page2 = await sequencesAs(tenant)(
      'GET',
      `/v1/sequences/${s.id}/enrollments?limit=1&cursor=${page1.body.nextCursor}`,
    );
    const listed = [...page1.body.items, ...page2.body.items] as Array<{ contactId: string }>;
    expect(listed.map((e) => e.contactId).sort()).toEqual([a, b].sort());

    const got = await sequencesAs(tenant, ['readonly'])('GET', `/v1/sequences/${s.id}/enrollments/${a}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      id: `${s.id}.${a}`,
      sequenceId: s.id,
      contactId: a,
      status: 'active',
      source: 'manual',
      run: 1,
    });
  });

  it('exits an enrolment by hand (kept, reason manual), 409 the second time, 404 when none', async () => {
    const s = await newSequence();
    const c = await newContact();
    await sequencesAs(tenant)('POST', `/v1/sequences/${s.id}/enrollments`, { body: { contactIds: [c] } });
    const exit = await sequencesAs(tenant)('DELETE', `/v1/sequences/${s.id}/enrollments/${c}`, {
      headers: { 'if-match': '"1"' },
    });
    expect(exit.status).toBe(204);
    const got = await sequencesAs(tenant)('GET', `/v1/sequences/${s.id}/enrollments/${c}`);
    expect(got.body).toMatchObject({ status: 'exited', exitReason: 'manual', version: 2 });
    const again = await sequencesAs(tenant)('DELETE', `/v1/sequences/${s.id}/enrollments/${c}`);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('sequence.enrollment_ended');
    const reenrol = await sequencesAs(tenant)('POST', `/v1/sequences/${s.id}/enrollments`, {
      body: { contactIds: [c] },
    });
    expect(reenrol.body.alreadyEnrolled).toEqual([c]);
    expect((await sequencesAs(tenant)('DELETE', `/v1/sequences/${s.id}/enrollments/nobody`)).status).toBe(404);
  });

  it('bounds a call to 100 contacts and refuses an archived or unknown sequence', async () => {
    const s = await newSequence();
    const tooMany = await sequencesAs(tenant)('POST', `/v1/sequences/${s.id}/enrollments`, {
      body: { contactIds: Array.from({ length: 101 }, (_, i) => `c${i}`) },
    });
    expect(tooMany.status).toBe(400);
    expect(fieldsOf(tooMany)).toEqual(['body.contactIds']);
    const unknown = await sequencesAs(tenant)('POST', '/v1/sequences/nope/enrollments', {
      body: { contactIds: ['a'] },
    });
    expect(unknown.status).toBe(404);
  });
});
