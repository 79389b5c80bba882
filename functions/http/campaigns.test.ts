import { beforeAll, describe, expect, it } from 'vitest';
import { putSegment, putSubscriptionCategories, putTemplate } from '../../test/support/campaigns.ts';
import { uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
let campaignsAs: (tenantId: string, roles?: string[]) => Client;

beforeAll(async () => {
  await useFreshTable();
  process.env.MARKETING_MAIL_DOMAIN = 'crm.local';
  const handler = (await import('./campaigns.ts')).handler;
  campaignsAs = (tenantId, roles = ['marketing']) => apiClient(handler, { tenantId, roles, userId: 'mkt-1' });
});

const fieldsOf = (res: TestResponse) => ((res.body.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);
const inAWeek = () => {
  const d = new Date(Date.now() + 7 * 86_400_000);
  return `${d.toISOString().slice(0, 10)}T09:30`;
};

async function setUp(t: string) {
  await putTemplate(t, 'tpl-1');
  await putSegment(t, 'seg-1', 'dynamic');
  await putSegment(t, 'list-1', 'static');
  await putSegment(t, 'list-x', 'static');
  await putSubscriptionCategories(t, ['news']);
}

const draft = (overrides: Record<string, unknown> = {}) => ({
  name: 'Spring newsletter',
  audience: { segmentIds: ['seg-1'], listIds: ['list-1'], excludeListIds: ['list-x'] },
  templateId: 'tpl-1',
  categoryId: 'news',
  from: { address: 'News@Crm.Local', name: 'Acme News' },
  replyTo: 'hello@crm.local',
  ...overrides,
});

describe('campaigns API', () => {
  it('creates a draft (idempotent), reads it with empty stats, lists by name, status and prefix, patches it', async () => {
    const t = uniqueTenant('cmp');
    await setUp(t);
    const api = campaignsAs(t);
    const created = await api('POST', '/v1/campaigns', { body: draft(), headers: { 'idempotency-key': 'c-1' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.headers.etag).toBe('"1"');
    expect(created.body).toMatchObject({
      name: 'Spring newsletter',
      status: 'draft',
      audience: { segmentIds: ['seg-1'], listIds: ['list-1'], excludeSegmentIds: [], excludeListIds: ['list-x'] },
      from: { address: 'news@crm.local', name: 'Acme News' },
      stats: {},
      version: 1,
      createdBy: 'mkt-1',
    });
    expect(created.body.tenantId).toBeUndefined();
    const replay = await api('POST', '/v1/campaigns', { body: draft(), headers: { 'idempotency-key': 'c-1' } });
    expect(replay.body.id).toBe(created.body.id);
    const id = created.body.id as string;
    const got = await api('GET', `/v1/campaigns/${id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created.body);

    await api('POST', '/v1/campaigns', { body: draft({ name: 'Autumn sale' }) });
    await api('POST', '/v1/campaigns', { body: draft({ name: 'Summer sale' }) });
    const first = await api('GET', '/v1/campaigns?limit=2');
    expect(first.body.items.map((c: { name: string }) => c.name)).toEqual(['Autumn sale', 'Spring newsletter']);
    const next = await api('GET', `/v1/campaigns?limit=2&cursor=${first.body.nextCursor}`);
    expect(next.body.items.map((c: { name: string }) => c.name)).toEqual(['Summer sale']);
    expect(next.body.nextCursor).toBeNull();
    const drafts = await api('GET', '/v1/campaigns?status=draft');
    expect(drafts.body.items).toHaveLength(3);
    expect((await api('GET', '/v1/campaigns?status=scheduled')).body.items).toHaveLength(0);
    const prefix = await api('GET', '/v1/campaigns?q=SU');
    expect(prefix.body.items.map((c: { name: string }) => c.name)).toEqual(['Summer sale']);
    const both = await api('GET', '/v1/campaigns?q=su&status=draft');
    expect(both.status).toBe(400);

    const stale = await api('PATCH', `/v1/campaigns/${id}`, { body: { name: 'x' }, headers: { 'if-match': '"9"' } });
    expect(stale.status).toBe(412);
    const patched = await api('PATCH', `/v1/campaigns/${id}`, {
      body: { name: 'Spring news', categoryId: null, replyTo: null },
      headers: { 'if-match': '"1"' },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body).toMatchObject({ name: 'Spring news', version: 2 });
    expect(patched.body.categoryId).toBeUndefined();
    expect(patched.body.replyTo).toBeUndefined();
    expect(patched.headers.etag).toBe('"2"');
  });

  it('refuses bad input with field errors: audience, sender domain, unknown fields', async () => {
    const t = uniqueTenant('cmp');
    const api = campaignsAs(t);
    const noAudience = await api('POST', '/v1/campaigns', { body: draft({ audience: {} }) });
    expect(noAudience.status).toBe(400);
    expect(fieldsOf(noAudience)).toContain('body.audience.segmentIds');
    const outside = await api('POST', '/v1/campaigns', { body: draft({ from: { address: 'news@gmail.com' } }) });
    expect(outside.status).toBe(400);
    expect(outside.body.fieldErrors).toEqual([expect.objectContaining({ field: 'body.from.address' })]);
    // Exactly the domain: the send role's ses:FromAddress condition is *@<domain>.
    const subdomain = await api('POST', '/v1/campaigns', { body: draft({ from: { address: 'a@mail.crm.local' } }) });
    expect(subdomain.status).toBe(400);
    const lookalike = await api('POST', '/v1/campaigns', { body: draft({ from: { address: 'a@evilcrm.local' } }) });
    expect(lookalike.status).toBe(400);
    const extra = await api('POST', '/v1/campaigns', { body: draft({ status: 'sent' }) });
    expect(extra.status).toBe(400);
    const badName = await api('POST', '/v1/campaigns', {
      body: draft({ from: { address: 'a@crm.local', name: 'A"<' } }),
    });
    expect(fieldsOf(badName)).toEqual(['body.from.name']);
    expect((await api('GET', '/v1/campaigns/nope')).status).toBe(404);
    expect((await api('GET', '/v1/campaigns?cursor=garbage')).status).toBe(400);
  });

  it('schedules at a local time (DST gap reported), reschedules, cancels; patches keep it sendable', async () => {
    const t = uniqueTenant('cmp');
    await setUp(t);
    const api = campaignsAs(t);
    const id = (await api('POST', '/v1/campaigns', { body: draft() })).body.id as string;

    const missing = await api('POST', `/v1/campaigns/${id}/schedule`, { body: { at: inAWeek() } });
    expect(missing.status).toBe(400);
    expect(fieldsOf(missing)).toContain('body.timeZone');
    const both = await api('POST', `/v1/campaigns/${id}/schedule`, { body: { now: true, at: inAWeek() } });
    expect(both.status).toBe(400);
    const zone = await api('POST', `/v1/campaigns/${id}/schedule`, { body: { at: inAWeek(), timeZone: 'Nowhere/X' } });
    expect(zone.status).toBe(400);
    expect(zone.body.code).toBe('campaign.schedule_invalid');
    expect(fieldsOf(zone)).toEqual(['body.timeZone']);
    const past = await api('POST', `/v1/campaigns/${id}/schedule`, {
      body: { at: '2020-01-01T00:00', timeZone: 'UTC' },
    });
    expect(fieldsOf(past)).toEqual(['body.at']);

    const at = inAWeek();
    const scheduled = await api('POST', `/v1/campaigns/${id}/schedule`, {
      body: { at, timeZone: 'UTC' },
      headers: { 'if-match': '"1"' },
    });
    expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(200);
    expect(scheduled.body).toMatchObject({
      status: 'scheduled',
      schedule: { at, timeZone: 'UTC', adjusted: false },
      sendAt: `${at}:00.000Z`,
      run: 1,
      version: 2,
    });
    expect((await api('GET', '/v1/campaigns?status=scheduled')).body.items).toHaveLength(1);
    expect((await api('GET', '/v1/campaigns?status=draft')).body.items).toHaveLength(0);

    // Rescheduling before the start is a new run; a patch that breaks the campaign is refused while scheduled.
    const again = await api('POST', `/v1/campaigns/${id}/schedule`, { body: { now: true } });
    expect(again.body).toMatchObject({ status: 'scheduled', schedule: { now: true }, run: 2 });
    const broken = await api('PATCH', `/v1/campaigns/${id}`, { body: { templateId: 'no-such-template' } });
    expect(broken.status).toBe(400);
    expect(broken.body.code).toBe('campaign.not_sendable');
    expect(fieldsOf(broken)).toEqual(['templateId']);

    expect((await api('POST', `/v1/campaigns/${id}/pause`)).status).toBe(409);
    expect((await api('POST', `/v1/campaigns/${id}/resume`)).status).toBe(409);
    const cancelled = await api('POST', `/v1/campaigns/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', cancelledAt: expect.any(String) });
    const late = await api('PATCH', `/v1/campaigns/${id}`, { body: { name: 'late' } });
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('campaign.invalid_status');
    expect((await api('POST', `/v1/campaigns/${id}/schedule`, { body: { now: true } })).status).toBe(409);
  });

  it('reports a DST gap as adjusted', async () => {
    const t = uniqueTenant('cmp');
    await setUp(t);
    const api = campaignsAs(t);
    const id = (await api('POST', '/v1/campaigns', { body: draft() })).body.id as string;
    // The next spring-forward day in Berlin that is ahead of now: the last Sunday of March.
    const year = new Date().getUTCFullYear() + (new Date().getUTCMonth() >= 2 ? 1 : 0);
    const lastSunday = 31 - new Date(Date.UTC(year, 2, 31)).getUTCDay();
    const day = `${year}-03-${String(lastSunday).padStart(2, '0')}`;
    const res = await api('POST', `/v1/campaigns/${id}/schedule`, {
      body: { at: `${day}T02:30`, timeZone: 'Europe/Berlin' },
    });
    if (Date.parse(`${day}T01:30:00Z`) - Date.now() > 366 * 86_400_000) {
      expect(res.status).toBe(400); // more than a year ahead
      return;
    }
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.schedule).toMatchObject({ localTime: `${day}T03:30:00`, adjusted: true });
    expect(res.body.sendAt).toBe(`${day}T01:30:00.000Z`);
  });

  it('checks the campaign before scheduling: template, segments and lists, category', async () => {
    const t = uniqueTenant('cmp');
    await setUp(t);
    await putTemplate(t, 'tpl-bad', { subject: 'Hi {{ contact.nickname }}' });
    await putSegment(t, 'seg-gone', 'dynamic', [], { deletedAt: new Date().toISOString() });
    const api = campaignsAs(t);
    const id = (
      await api('POST', '/v1/campaigns', {
        body: draft({
          templateId: 'tpl-bad',
          categoryId: 'no-category',
          audience: { segmentIds: ['seg-gone', 'list-1'], listIds: ['seg-1'], excludeSegmentIds: ['missing'] },
        }),
      })
    ).body.id as string;
    const res = await api('POST', `/v1/campaigns/${id}/schedule`, { body: { now: true } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('campaign.not_sendable');
    expect(fieldsOf(res).sort()).toEqual(
      [
        'template.subject',
        'audience.segmentIds.0',
        'audience.segmentIds.1',
        'audience.excludeSegmentIds.0',
        'audience.listIds.0',
        'categoryId',
      ].sort(),
    );
    const codes = (res.body.fieldErrors as Array<{ field: string; code: string }>).map((e) => `${e.field}:${e.code}`);
    expect(codes).toContain('audience.segmentIds.0:campaign.audience_missing');
    expect(codes).toContain('audience.segmentIds.1:campaign.audience_kind');
    expect(codes).toContain('template.subject:campaign.template_invalid');
    // Nothing changed.
    expect((await api('GET', `/v1/campaigns/${id}`)).body).toMatchObject({ status: 'draft', version: 1 });
  });

  it('pauses and resumes a sending campaign (a new run), deletes only outside a send, lists the trash', async () => {
    const t = uniqueTenant('cmp');
    await setUp(t);
    const api = campaignsAs(t);
    const id = (await api('POST', '/v1/campaigns', { body: draft() })).body.id as string;
    await api('POST', `/v1/campaigns/${id}/schedule`, { body: { now: true } });
    // The workflow's Start moves it to sending (written here as the workflow would).
    const { model } = await import('../../shared/db/store.ts');
    const { campaignKeys } = await import('../../shared/db/keys.ts');
    const stored = (await model.entities.campaign.get({ tenantId: t, campaignId: id }).go()).data!;
    const sending = { ...stored, status: 'sending', version: stored.version + 1, executionRun: 1, executionName: 'x' };
    await model.entities.campaign.put({ ...sending, ...campaignKeys(sending as never) } as never).go();

    expect((await api('PATCH', `/v1/campaigns/${id}`, { body: { name: 'x' } })).status).toBe(409);
    expect((await api('POST', `/v1/campaigns/${id}/cancel`)).status).toBe(409);
    expect((await api('DELETE', `/v1/campaigns/${id}`)).status).toBe(409);
    const wrongVersion = await api('POST', `/v1/campaigns/${id}/pause`, { headers: { 'if-match': '"2"' } });
    expect(wrongVersion.status).toBe(412);
    const paused = await api('POST', `/v1/campaigns/${id}/pause`, { headers: { 'if-match': '"3"' } });
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body).toMatchObject({ status: 'paused', run: 1 });
    expect((await api('POST', `/v1/campaigns/${id}/pause`)).status).toBe(409);
    const resumed = await api('POST', `/v1/campaigns/${id}/resume`);
    expect(resumed.body).toMatchObject({ status: 'sending', run: 2 });
    expect(resumed.body.executionName).toBeUndefined();
    await api('POST', `/v1/campaigns/${id}/pause`);
    expect((await api('POST', `/v1/campaigns/${id}/cancel`)).body.status).toBe('cancelled');

    const del = await api('DELETE', `/v1/campaigns/${id}`, { headers: { 'if-match': '"1"' } });
    expect(del.status).toBe(412);
    expect((await api('DELETE', `/v1/campaigns/${id}`)).status).toBe(204);
    expect((await api('GET', `/v1/campaigns/${id}`)).status).toBe(404);
    const trash = await api('GET', '/v1/campaigns?inTrash=true');
    expect(trash.body.items.map((c: { id: string }) => c.id)).toEqual([id]);
    expect((await api('GET', '/v1/campaigns')).body.items).toHaveLength(0);
  });

  it('lists the ledger with stats summed from the shards, filtered by state, cursor checked', async () => {
    const t = uniqueTenant('cmp');
    await setUp(t);
    const api = campaignsAs(t);
    const id = (await api('POST', '/v1/campaigns', { body: draft() })).body.id as string;
    const { model } = await import('../../shared/db/store.ts');
    const states = ['sent', 'sent', 'skipped', 'failed', 'sent'];
    for (const [i, state] of states.entries()) {
      await model.entities.campaignRecipient
        .put({
          tenantId: t,
          campaignId: id,
          email: `r${i}@example.com`,
          contactId: `c${i}`,
          state,
          ...(state === 'skipped' ? { reason: 'suppressed' } : {}),
        })
        .go();
    }
    for (const shard of [0, 3]) {
      await model.entities.campaignStats
        .put({ tenantId: t, campaignId: id, shard, counts: { sent: shard + 1, recipients: 2 } })
        .go();
    }
    const got = await api('GET', `/v1/campaigns/${id}`);
    expect(got.body.stats).toEqual({ sent: 5, recipients: 4 });

    const page = await api('GET', `/v1/campaigns/${id}/recipients?limit=2`);
    expect(page.status).toBe(200);
    expect(page.body.items).toEqual([
      { email: 'r0@example.com', contactId: 'c0', state: 'sent' },
      { email: 'r1@example.com', contactId: 'c1', state: 'sent' },
    ]);
    const rest = await api('GET', `/v1/campaigns/${id}/recipients?limit=10&cursor=${page.body.nextCursor}`);
    expect(rest.body.items.map((r: { email: string }) => r.email)).toEqual([
      'r2@example.com',
      'r3@example.com',
      'r4@example.com',
    ]);
    const sent = await api('GET', `/v1/campaigns/${id}/recipients?state=sent&limit=50`);
    expect(sent.body.items.map((r: { email: string }) => r.email)).toEqual([
      'r0@example.com',
      'r1@example.com',
      'r4@example.com',
    ]);
    const skipped = await api('GET', `/v1/campaigns/${id}/recipients?state=skipped`);
    expect(skipped.body.items).toEqual([
      { email: 'r2@example.com', contactId: 'c2', state: 'skipped', reason: 'suppressed' },
    ]);
    // A cursor of another partition (another campaign of the same tenant) is refused.
    const other = (await api('POST', '/v1/campaigns', { body: draft() })).body.id as string;
    expect((await api('GET', `/v1/campaigns/${other}/recipients?cursor=${page.body.nextCursor}`)).status).toBe(400);
    expect((await api('GET', `/v1/campaigns/${id}/recipients?state=nope`)).status).toBe(400);
  });

  it('is denied to roles without campaign permissions and invisible to other tenants', async () => {
    const t = uniqueTenant('cmp');
    await setUp(t);
    const id = (await campaignsAs(t)('POST', '/v1/campaigns', { body: draft() })).body.id as string;
    const readonly = campaignsAs(t, ['readonly']);
    expect((await readonly('GET', `/v1/campaigns/${id}`)).status).toBe(200);
    expect((await readonly('POST', '/v1/campaigns', { body: draft() })).status).toBe(403);
    expect((await readonly('POST', `/v1/campaigns/${id}/schedule`, { body: { now: true } })).status).toBe(403);
    expect((await campaignsAs(t, ['sales'])('POST', `/v1/campaigns/${id}/cancel`)).status).toBe(403);
    expect((await campaignsAs(uniqueTenant('other'))('GET', `/v1/campaigns/${id}`)).status).toBe(404);
  });
});
