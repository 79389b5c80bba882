import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSes } from '../../infra/local/ses.ts';
import { putContacts, putSegment, putTemplate } from '../../test/support/campaigns.ts';
import { uniqueTenant } from '../../test/support/factories.ts';
import { useFreshTable } from '../../test/support/table.ts';

/**
 * The send workflow's task function as the state machine calls it (`{ step, state }`), against DynamoDB Local and
 * the local SES over the real SES v2 client: the headers, tags and configuration set reach SES as sent.
 */
let ses: LocalSes;
let handler: (event: unknown, context: unknown) => Promise<Record<string, unknown>>;
let model: typeof import('../../shared/db/store.ts').model;
let campaignKeys: typeof import('../../shared/db/keys.ts').campaignKeys;

const context = { functionName: 'campaign-send', awsRequestId: 'r-1', getRemainingTimeInMillis: () => 60_000 };

beforeAll(async () => {
  await useFreshTable();
  ses = await LocalSes.start({ log: () => {} });
  process.env.AWS_ENDPOINT_URL_SESV2 = ses.endpoint;
  process.env.MARKETING_MAIL_DOMAIN = 'crm.local';
  process.env.PUBLIC_API_URL = 'https://public.crm.example';
  process.env.SES_MAX_SEND_RATE = '50';
  handler = (await import('./campaign-send.ts')).handler as never;
  ({ model } = await import('../../shared/db/store.ts'));
  ({ campaignKeys } = await import('../../shared/db/keys.ts'));
});

afterAll(async () => {
  delete process.env.MARKETING_MAIL_DOMAIN;
  delete process.env.SES_MAX_SEND_RATE;
  await ses?.stop();
});

describe('campaign send steps', () => {
  it('start → sendBatch → finish sends through SES v2 with the RFC 8058 headers and the signed link', async () => {
    const t = uniqueTenant('wf');
    await putContacts(t, [
      { contactId: 'c1', email: 'one@example.com', firstName: 'One', consent: 'granted' },
      { contactId: 'c2', email: 'two@example.com', firstName: 'Two', consent: 'granted' },
      { contactId: 'c3', email: 'three@example.com', consent: 'withdrawn' },
    ]);
    await putSegment(t, 'list', 'static', ['c1', 'c2', 'c3']);
    await putTemplate(t, 'tpl', { subject: 'Hello {{ contact.firstName }}', text: 'Hi {{ contact.firstName }}' });
    const now = new Date().toISOString();
    const item = {
      tenantId: t,
      campaignId: 'cmp',
      name: 'News',
      sortName: 'news',
      status: 'scheduled',
      audience: { segmentIds: [], listIds: ['list'], excludeSegmentIds: [], excludeListIds: [] },
      templateId: 'tpl',
      from: { address: 'news@crm.local', name: 'News' },
      run: 1,
      sendAt: now,
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    await model.entities.campaign.put({ ...item, ...campaignKeys(item) } as never).go();

    const since = Math.floor(Date.now() / 1000) - 1;
    const input = { tenantId: t, campaignId: 'cmp', run: 1, execution: 'exec-1' };
    const started = await handler({ step: 'start', state: input }, context);
    expect(started).toMatchObject({ proceed: true });
    let state = started;
    for (let i = 0; i < 5 && !state.done; i++) state = await handler({ step: 'sendBatch', state }, context);
    expect(state).toMatchObject({ done: true, outcome: 'finished' });
    // Each batch shared the account's rate while it sent, and left the pool when it returned.
    expect((await model.entities.sendRateShare.query.bySender({ pool: 'ses' }).go()).data).toEqual([]);
    expect(await handler({ step: 'finish', state }, context)).toMatchObject({ outcome: 'sent' });

    const sent = (await ses.sentEmails({ sinceEpochSeconds: since })).filter((m) => m.subject.startsWith('Hello'));
    expect(sent.map((m) => m.to[0]).sort()).toEqual(['one@example.com', 'two@example.com']);
    const one = sent.find((m) => m.to[0] === 'one@example.com')!;
    expect(one.subject).toBe('Hello One');
    expect(one.text).toContain('Hi One');
    expect(one.text).toContain('https://public.crm.example/v1/unsubscribe/');
    const headers = Object.fromEntries(one.headers.map((h) => [h.name.toLowerCase(), h.value]));
    expect(headers['list-unsubscribe']).toMatch(/^<https:\/\/public\.crm\.example\/v1\/unsubscribe\/.+>$/);
    expect(headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');
    const campaign = (await model.entities.campaign.get({ tenantId: t, campaignId: 'cmp' }).go()).data!;
    expect(campaign).toMatchObject({ status: 'sent', executionName: 'exec-1', finishedAt: expect.any(String) });
  });

  it('refuses a malformed task and records a failure with its cause', async () => {
    await expect(handler({ step: 'explode', state: {} }, context)).rejects.toThrow();
    const t = uniqueTenant('wf');
    const now = new Date().toISOString();
    const item = {
      tenantId: t,
      campaignId: 'cmp',
      name: 'News',
      sortName: 'news',
      status: 'scheduled',
      audience: { segmentIds: [], listIds: ['none'], excludeSegmentIds: [], excludeListIds: [] },
      templateId: 'tpl',
      from: { address: 'news@crm.local' },
      run: 1,
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    await model.entities.campaign.put({ ...item, ...campaignKeys(item) } as never).go();
    const failed = await handler(
      {
        step: 'fail',
        state: { tenantId: t, campaignId: 'cmp', run: 1, execution: 'e', error: { Error: 'Boom', Cause: 'why' } },
      },
      context,
    );
    expect(failed).toMatchObject({ outcome: 'failed' });
    expect((await model.entities.campaign.get({ tenantId: t, campaignId: 'cmp' }).go()).data).toMatchObject({
      status: 'failed',
      failure: 'Boom: why',
    });
  });
});
