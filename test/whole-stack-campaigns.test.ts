import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { localTimeAt } from '../shared/campaigns/schedule.ts';
import { CLOUD_START_TIMEOUT_MS } from './support/assembly.ts';
import { api, eventually, startTestCloud } from './support/local-cloud.ts';

/**
 * A campaign across the whole stack: contacts, a static list, an exclusion list, a template and a category over
 * HTTP; the campaign scheduled a few seconds ahead at a local time in a zone. Its `campaign.updated` comes from the
 * stream onto the bus, the schedule consumer makes a one-time Scheduler schedule, which starts the send state
 * machine in the local Step Functions; its steps mail through the local SES. Each eligible address gets exactly
 * one mail; the ledger and the counters say what happened to everyone else.
 */
const TENANT = 'shop';
let cloud: LocalCloud;
let admin: ReturnType<typeof api>;

beforeAll(async () => {
  cloud = await startTestCloud();
  admin = api(cloud, await cloud.token({ tenantId: TENANT, roles: ['admin'], userId: 'marketer' }));
}, CLOUD_START_TIMEOUT_MS);

afterAll(async () => {
  await cloud?.stop();
});

interface Person {
  name: string;
  email?: string;
  consent?: 'granted' | 'withdrawn' | 'unknown';
}

describe('campaigns in the local cloud', () => {
  it('sends a scheduled campaign once to each eligible address, and records everyone else', async () => {
    const people: Person[] = [
      ...['ann', 'bob', 'cat', 'dan', 'eve', 'fay', 'gus', 'hal'].map((name) => ({
        name,
        email: `${name}@customers.example`,
        consent: 'granted' as const,
      })),
      { name: 'ivy', email: 'ivy@customers.example', consent: 'unknown' }, // unconsented
      { name: 'jon', email: 'jon@customers.example' }, // unconsented (never asked)
      { name: 'kim', email: 'kim@customers.example', consent: 'granted' }, // suppressed
      { name: 'lea', email: 'lea@customers.example', consent: 'granted' }, // unsubscribed from the category
      { name: 'max', email: 'ANN@customers.example', consent: 'granted' }, // shares ann's address
      { name: 'ned', email: 'ned@customers.example', consent: 'granted' }, // excluded
      { name: 'oli', email: 'oli@customers.example', consent: 'withdrawn' }, // unsubscribed from everything
    ];
    expect(people).toHaveLength(15);
    // What the campaign needs besides contacts first, while the cloud is quiet (each function's first call is a
    // cold start; on a busy machine many at once can queue for longer than the API's 30 s).
    const categories = await admin('PUT', '/v1/subscription-categories', {
      categories: [{ id: 'news', name: 'Newsletter' }],
    });
    expect(categories.status, categories.text).toBe(200);
    expect((await admin('POST', '/v1/suppressions', { email: 'KIM@customers.example' })).status).toBe(201);
    const list = await admin('POST', '/v1/segments', { kind: 'static', name: 'Customers' });
    expect(list.status, list.text).toBe(201);
    const template = await admin('POST', '/v1/email-templates', {
      name: 'Spring',
      subject: 'Spring news for {{ contact.firstName | default: "you" }}',
      html: '<p>Hi {{ contact.firstName }}</p>',
      text: 'Hi {{ contact.firstName }}',
    });
    expect(template.status, template.text).toBe(201);
    expect((await admin('GET', '/v1/campaigns')).status).toBe(200);

    const ids: Record<string, string> = {};
    for (const p of people) {
      const created = await admin('POST', '/v1/contacts', {
        firstName: p.name[0]!.toUpperCase() + p.name.slice(1),
        ...(p.email ? { emails: [p.email] } : {}),
        ...(p.consent ? { consent: { email: p.consent } } : {}),
      });
      expect(created.status, created.text).toBe(201);
      ids[p.name] = created.body.id;
    }

    // lea unsubscribes from the newsletter with a one-click link (RFC 8058), as her mail client would.
    const links = await admin('GET', `/v1/contacts/${ids.lea}/preference-links?categoryId=news`);
    expect(links.status, links.text).toBe(200);
    const oneClick = await fetch(links.body.oneClickUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(oneClick.status).toBeLessThan(300);

    const added = await admin('POST', `/v1/segments/${list.body.id}/members`, { contactIds: Object.values(ids) });
    expect(added.body).toMatchObject({ changed: 15, notFound: [] });
    const outList = await admin('POST', '/v1/segments', { kind: 'static', name: 'Do not mail' });
    await admin('POST', `/v1/segments/${outList.body.id}/members`, { contactIds: [ids.ned] });

    const campaign = await admin('POST', '/v1/campaigns', {
      name: 'Spring news',
      audience: { listIds: [list.body.id], excludeListIds: [outList.body.id] },
      templateId: template.body.id,
      categoryId: 'news',
      from: { address: 'news@crm.local', name: 'Shop News' },
    });
    expect(campaign.status, campaign.text).toBe(201);
    const id = campaign.body.id as string;

    // A few seconds ahead, as a wall time in Berlin (whole seconds: what the schedule fires at).
    const target = Math.ceil((Date.now() + 6000) / 1000) * 1000;
    const at = localTimeAt(target, 'Europe/Berlin');
    const scheduled = await admin('POST', `/v1/campaigns/${id}/schedule`, { at, timeZone: 'Europe/Berlin' });
    expect(scheduled.status, scheduled.text).toBe(200);
    expect(scheduled.body).toMatchObject({ status: 'scheduled', run: 1, schedule: { adjusted: false } });
    expect(scheduled.body.sendAt).toBe(new Date(target).toISOString());

    const sent = await eventually(async () => {
      const c = await admin('GET', `/v1/campaigns/${id}`);
      if (c.body.status === 'failed') throw new Error(`campaign failed: ${c.body.failure}`);
      return c.body.status === 'sent' ? c.body : undefined;
    }, 180_000);
    expect(Date.parse(sent.startedAt)).toBeGreaterThanOrEqual(Date.parse(scheduled.body.sendAt) - 1000);

    const mailed = ['ann', 'bob', 'cat', 'dan', 'eve', 'fay', 'gus', 'hal'].map((n) => `${n}@customers.example`);
    const mails = (await cloud.ses.sentEmails()).filter((m) => m.subject.startsWith('Spring news'));
    expect(mails.flatMap((m) => m.to.map((t) => t.toLowerCase())).sort()).toEqual(mailed);
    const toBob = mails.find((m) => m.to[0] === 'bob@customers.example')!;
    expect(toBob.subject).toBe('Spring news for Bob');
    expect(toBob.from).toContain('news@crm.local');
    const headers = Object.fromEntries(toBob.headers.map((h) => [h.name.toLowerCase(), h.value]));
    expect(headers['list-unsubscribe']).toMatch(/^<http:\/\/127\.0\.0\.1:\d+\/v1\/unsubscribe\/[\w-]+\.[\w-]+>$/);
    expect(headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');

    expect(sent.stats).toMatchObject({
      recipients: 14,
      sent: 8,
      skipped_unconsented: 2,
      skipped_unsubscribed: 2,
      skipped_suppressed: 1,
      skipped_excluded: 1,
    });
    const ledger = await admin('GET', `/v1/campaigns/${id}/recipients?limit=100`);
    expect(ledger.body.items).toHaveLength(14);
    const byEmail = Object.fromEntries(
      (ledger.body.items as Array<{ email: string; state: string; reason?: string }>).map((r) => [
        r.email,
        r.reason ? `${r.state}:${r.reason}` : r.state,
      ]),
    );
    expect(byEmail).toMatchObject({
      'ann@customers.example': 'sent',
      'ivy@customers.example': 'skipped:unconsented',
      'jon@customers.example': 'skipped:unconsented',
      'kim@customers.example': 'skipped:suppressed',
      'lea@customers.example': 'skipped:unsubscribed',
      'ned@customers.example': 'skipped:excluded',
      'oli@customers.example': 'skipped:unsubscribed',
    });
    const skipped = await admin('GET', `/v1/campaigns/${id}/recipients?state=skipped`);
    expect(skipped.body.items).toHaveLength(6);
  }, 300_000);
});
