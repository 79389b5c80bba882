import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSes } from '../../infra/local/ses.ts';
import { uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
let templatesAs: (tenantId: string, roles?: string[]) => Client;
let customFieldsAs: (tenantId: string) => Client;
let store: typeof import('../../shared/db/store.ts');
let ses: LocalSes;
const MAIL_DOMAIN = 'news.crm.example';

beforeAll(async () => {
  await useFreshTable();
  ses = await LocalSes.start({ log: () => {} });
  process.env.AWS_ENDPOINT_URL_SESV2 = ses.endpoint;
  process.env.MARKETING_MAIL_DOMAIN = MAIL_DOMAIN;
  const handler = (await import('./email-templates.ts')).handler;
  const customFields = (await import('./custom-fields.ts')).handler;
  store = await import('../../shared/db/store.ts');
  templatesAs = (tenantId, roles = ['marketing']) => apiClient(handler, { tenantId, roles, userId: 'marketer-1' });
  customFieldsAs = (tenantId) => apiClient(customFields, { tenantId, roles: ['admin'], userId: 'admin-1' });
});

afterAll(async () => {
  delete process.env.MARKETING_MAIL_DOMAIN;
  await ses?.stop();
});

const welcome = {
  name: 'Welcome',
  subject: 'Welcome, {{ contact.firstName | default: "friend" }}!',
  html: '<h1>Hi {{ contact.firstName | default: "there" }}</h1><p>{{ company.name }}</p>',
  text: 'Hi {{ contact.firstName | default: "there" }}',
};

const fieldErrorsOf = (res: TestResponse) =>
  (res.body?.fieldErrors ?? []) as Array<{ field: string; message: string; line?: number; column?: number }>;

async function create(api: Client, body: Record<string, unknown> = welcome, key?: string) {
  const res = await api('POST', '/v1/email-templates', {
    body,
    ...(key ? { headers: { 'idempotency-key': key } } : {}),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res;
}

describe('email templates', () => {
  it('creates (idempotently), gets, patches with If-Match, deletes to the trash and restores', async () => {
    const t = uniqueTenant('tpl');
    const api = templatesAs(t);
    const created = await create(api, welcome, 'tpl-1');
    expect(created.headers.etag).toBe('"1"');
    expect(created.headers.location).toBe(`/v1/email-templates/${created.body.id}`);
    expect(created.body).toMatchObject({
      ...welcome,
      fields: ['company.name', 'contact.firstName'],
      version: 1,
      createdBy: 'marketer-1',
    });
    expect(created.body.tenantId).toBeUndefined();
    expect(created.body.sortName).toBeUndefined();
    // A retried create replays the first answer; the same key with another body is refused.
    const replay = await api('POST', '/v1/email-templates', {
      body: welcome,
      headers: { 'idempotency-key': 'tpl-1' },
    });
    expect(replay.status).toBe(201);
    expect(replay.body.id).toBe(created.body.id);
    const reused = await api('POST', '/v1/email-templates', {
      body: { ...welcome, name: 'Other' },
      headers: { 'idempotency-key': 'tpl-1' },
    });
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('idempotency.key_reused');
    expect((await api('GET', '/v1/email-templates')).body.items).toHaveLength(1);

    const path = `/v1/email-templates/${created.body.id}`;
    const got = await api('GET', path);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created.body);
    expect(got.headers.etag).toBe('"1"');

    const stale = await api('PATCH', path, { body: { name: 'x' }, headers: { 'if-match': '"7"' } });
    expect(stale.status).toBe(412);
    expect(stale.body.code).toBe('emailTemplate.version_mismatch');
    const patched = await api('PATCH', path, {
      body: { subject: 'News for {{ owner.name }}', text: null },
      headers: { 'if-match': '"1"' },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.headers.etag).toBe('"2"');
    expect(patched.body.text).toBeUndefined();
    expect(patched.body.fields).toEqual(['company.name', 'contact.firstName', 'owner.name']);
    // Nothing changed: no new version.
    const same = await api('PATCH', path, { body: { subject: 'News for {{ owner.name }}' } });
    expect(same.body.version).toBe(2);
    // Removing the last body part is refused.
    const bare = await api('PATCH', path, { body: { html: null } });
    expect(bare.status).toBe(400);
    expect(fieldErrorsOf(bare).map((e) => e.field)).toEqual(['body.html']);

    expect((await api('DELETE', path, { headers: { 'if-match': '"1"' } })).status).toBe(412);
    expect((await api('DELETE', path, { headers: { 'if-match': '"2"' } })).status).toBe(204);
    expect((await api('GET', path)).status).toBe(404);
    expect((await api('PATCH', path, { body: { name: 'x' } })).status).toBe(404);
    expect((await api('GET', '/v1/email-templates')).body.items).toEqual([]);
    const trash = await api('GET', '/v1/email-templates?inTrash=true');
    expect(trash.body.items.map((i: { id: string }) => i.id)).toEqual([created.body.id]);
    expect(trash.body.items[0].deletedAt).toBeDefined();

    expect((await api('POST', `${path}/restore`, { headers: { 'if-match': '"2"' } })).status).toBe(412);
    const restored = await api('POST', `${path}/restore`, { headers: { 'if-match': '"3"' } });
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({ version: 4, name: 'Welcome' });
    expect(restored.body.deletedAt).toBeUndefined();
    const again = await api('POST', `${path}/restore`);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('emailTemplate.not_deleted');
    expect((await api('GET', '/v1/email-templates?inTrash=true')).body.items).toEqual([]);
    expect((await api('POST', '/v1/email-templates/nope/restore')).status).toBe(404);
  });

  it('lists summaries by name with cursors and a name prefix', async () => {
    const t = uniqueTenant('tpl');
    const api = templatesAs(t);
    for (const name of ['Newsletter May', 'Onboarding 2', 'newsletter April', 'Onboarding 1', 'Renewal']) {
      await create(api, { ...welcome, name });
    }
    const first = await api('GET', '/v1/email-templates?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.items.map((i: { name: string }) => i.name)).toEqual(['newsletter April', 'Newsletter May']);
    expect(first.body.items[0]).toMatchObject({ subject: welcome.subject, parts: ['html', 'text'] });
    expect(first.body.items[0].html).toBeUndefined();
    const names: string[] = first.body.items.map((i: { name: string }) => i.name);
    let cursor = first.body.nextCursor as string | null;
    while (cursor) {
      const page = await api('GET', `/v1/email-templates?limit=2&cursor=${encodeURIComponent(cursor)}`);
      names.push(...page.body.items.map((i: { name: string }) => i.name));
      cursor = page.body.nextCursor;
    }
    expect(names).toEqual(['newsletter April', 'Newsletter May', 'Onboarding 1', 'Onboarding 2', 'Renewal']);
    const prefixed = await api('GET', '/v1/email-templates?q=ONBOARD');
    expect(prefixed.body.items.map((i: { name: string }) => i.name)).toEqual(['Onboarding 1', 'Onboarding 2']);
    // Another tenant sees none of them, and a cursor of this tenant's list is refused there.
    const other = templatesAs(uniqueTenant('tpl'));
    expect((await other('GET', '/v1/email-templates')).body.items).toEqual([]);
    expect((await other('GET', `/v1/email-templates?cursor=${encodeURIComponent(first.body.nextCursor)}`)).status).toBe(
      400,
    );
    expect((await api('GET', '/v1/email-templates?q=x&inTrash=true')).status).toBe(400);
    expect((await api('GET', '/v1/email-templates?limit=0')).status).toBe(400);
  });

  it('refuses unknown fields, filters and tags with their part, line and column', async () => {
    const t = uniqueTenant('tpl');
    const api = templatesAs(t);
    const res = await api('POST', '/v1/email-templates', {
      body: {
        name: 'Broken',
        subject: 'Hi {{ contact.frstName }}',
        html: '<p>\n{{ contact.custom.tier }}\n{{ company.name | shout }}</p>',
        text: '{% include "secrets" %}',
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('template.invalid');
    expect(fieldErrorsOf(res)).toEqual([
      expect.objectContaining({ field: 'body.subject', line: 1, column: 7 }),
      expect.objectContaining({ field: 'body.html', line: 3, column: 1, message: expect.stringContaining('shout') }),
      expect.objectContaining({ field: 'body.text', line: 1, column: 1 }),
    ]);
    expect(fieldErrorsOf(res)[0]!.message).toMatch(/^line 1, column 7: Unknown merge field "contact.frstName"/);

    // Custom fields must be declared in the tenant's schema.
    const custom = { name: 'Tiered', subject: 's', text: 'Your tier: {{ contact.custom.tier }}' };
    const undeclared = await api('POST', '/v1/email-templates', { body: custom });
    expect(undeclared.status).toBe(400);
    expect(fieldErrorsOf(undeclared)[0]).toMatchObject({ field: 'body.text', line: 1, column: 15 });
    const schema = await customFieldsAs(t)('PUT', '/v1/custom-fields/contact', {
      body: { fields: [{ key: 'tier', label: 'Tier', type: 'text' }] },
    });
    expect(schema.status, JSON.stringify(schema.body)).toBe(200);
    const declared = await create(api, custom);
    expect(declared.body.fields).toEqual(['contact.custom.tier']);

    // A patch is validated the same way, and nothing is stored.
    const path = `/v1/email-templates/${declared.body.id}`;
    const badPatch = await api('PATCH', path, { body: { text: '{{ contact.custom.nope }}' } });
    expect(badPatch.status).toBe(400);
    expect((await api('GET', path)).body.version).toBe(1);
  });

  it('refuses bad input with field errors: shape, sizes, body limit', async () => {
    const api = templatesAs(uniqueTenant('tpl'));
    const missing = await api('POST', '/v1/email-templates', { body: { name: 'x' } });
    expect(missing.status).toBe(400);
    expect(fieldErrorsOf(missing).map((e) => e.field)).toContain('body.subject');
    const noBody = await api('POST', '/v1/email-templates', { body: { name: 'x', subject: 's' } });
    expect(noBody.status).toBe(400);
    expect(fieldErrorsOf(noBody).map((e) => e.field)).toEqual(['body.html']);
    const extra = await api('POST', '/v1/email-templates', { body: { ...welcome, mjml: '<mj-body/>' } });
    expect(extra.status).toBe(400);
    // 256 KiB of characters but more bytes: the byte cap names the size.
    const wide = await api('POST', '/v1/email-templates', { body: { ...welcome, html: 'é'.repeat(200_000) } });
    expect(wide.status).toBe(400);
    expect(fieldErrorsOf(wide)[0]).toMatchObject({
      field: 'body.html',
      message: 'The html is 400000 bytes; at most 262144 are allowed.',
    });
    const huge = await api('POST', '/v1/email-templates', { body: { ...welcome, html: 'x'.repeat(1024 * 1024) } });
    expect(huge.status).toBe(413);
    expect(huge.body.code).toBe('request.too_large');
    // The largest template is stored whole (well inside DynamoDB's item limit).
    const largest = await create(api, {
      name: 'Largest',
      subject: 's'.repeat(998),
      html: `<p>{{ contact.firstName }}</p>${'x'.repeat(256 * 1024 - 30)}`,
      text: 't'.repeat(64 * 1024),
    });
    const got = await api('GET', `/v1/email-templates/${largest.body.id}`);
    expect(got.body.html.length).toBe(256 * 1024);
    expect((await api('GET', '/v1/email-templates/not%20an%20id')).status).toBe(400);
  });

  it('previews with sample data, a contact, or the built-in sample, storing nothing', async () => {
    const t = uniqueTenant('tpl');
    const api = templatesAs(t);
    const now = new Date().toISOString();
    const audit = { version: 1, createdAt: now, updatedAt: now };
    await store.model.entities.company
      .put({ tenantId: t, companyId: 'co-1', name: 'Initech <Labs>', sortName: 'initech', ...audit })
      .go();
    await store.model.entities.user
      .put({
        tenantId: t,
        userId: 'u-1',
        email: 'bill@initech.example',
        name: 'Bill',
        roles: ['sales'],
        timeZone: 'UTC',
        status: 'active',
        sortName: 'bill',
        ...audit,
      })
      .go();
    await store.model.entities.contact
      .put({
        tenantId: t,
        contactId: 'c-1',
        firstName: 'Peter',
        sortName: 'peter',
        emails: ['peter@initech.example'],
        companyId: 'co-1',
        ownerId: 'u-1',
        ...audit,
      })
      .go();
    const created = await create(api, {
      name: 'Preview me',
      subject: 'Hi {{ contact.firstName | default: "there" }} ({{ company.name }})',
      html: '<p>{{ company.name }} / {{ owner.name | default: "us" }}</p>',
      text: 'Bye: {{ unsubscribeUrl }}',
    });
    const path = `/v1/email-templates/${created.body.id}/preview`;

    const forContact = await api('POST', path, { body: { contactId: 'c-1' } });
    expect(forContact.status, JSON.stringify(forContact.body)).toBe(200);
    expect(forContact.body).toEqual({
      subject: 'Hi Peter (Initech <Labs>)',
      html:
        '<p>Initech &lt;Labs&gt; / Bill</p><p style="margin-top:24px;font-size:12px;color:#666666">' +
        '<a href="https://unsubscribe.invalid/preview">Unsubscribe</a> · ' +
        '<a href="https://unsubscribe.invalid/preferences">Manage your email preferences</a></p>',
      text: 'Bye: https://unsubscribe.invalid/preview',
      fields: ['company.name', 'contact.firstName', 'owner.name', 'unsubscribeUrl'],
    });

    const sample = await api('POST', path, { body: { sample: { contact: {}, company: { name: 'Acme' } } } });
    expect(sample.body.subject).toBe('Hi there (Acme)');
    expect(sample.body.html).toMatch(/^<p>Acme \/ us<\/p>/);
    const builtIn = await api('POST', path, { body: {} });
    expect(builtIn.body.subject).toBe('Hi Ada (Analytical Engines Ltd)');

    const unknown = await api('POST', path, { body: { contactId: 'c-404' } });
    expect(unknown.status).toBe(400);
    expect(fieldErrorsOf(unknown)).toEqual([expect.objectContaining({ field: 'body.contactId' })]);
    const both = await api('POST', path, { body: { contactId: 'c-1', sample: { contact: {} } } });
    expect(both.status).toBe(400);
    const badSample = await api('POST', path, { body: { sample: { contact: { nickname: 'x' } } } });
    expect(badSample.status).toBe(400);
    expect((await api('POST', '/v1/email-templates/nope/preview', { body: {} })).status).toBe(404);

    // Rendering past the limits is a 422 naming the part, not a crash.
    const heavy = await create(api, {
      name: 'Heavy',
      subject: 's',
      text: '{% for i in (1..100000000) %}x{% endfor %}',
    });
    const limited = await api('POST', `/v1/email-templates/${heavy.body.id}/preview`, { body: {} });
    expect(limited.status).toBe(422);
    expect(limited.body).toMatchObject({ code: 'template.limit_exceeded', field: 'text' });

    // Readers may preview (it stores nothing), not write.
    const reader = templatesAs(t, ['readonly']);
    expect((await reader('POST', path, { body: {} })).status).toBe(200);
    expect((await reader('POST', '/v1/email-templates', { body: welcome })).status).toBe(403);
    expect((await api('GET', `/v1/email-templates/${created.body.id}`)).body.version).toBe(1);
  });

  it('test-sends to one address through SES, from the mail domain only', async () => {
    const t = uniqueTenant('tpl');
    const api = templatesAs(t);
    const created = await create(api, welcome);
    const path = `/v1/email-templates/${created.body.id}/test-send`;
    const since = Math.floor(Date.now() / 1000) - 1;

    const sent = await api('POST', path, {
      body: { to: 'qa@example.com', from: { address: `Hello@${MAIL_DOMAIN.toUpperCase()}`, name: 'Acme News' } },
    });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    expect(sent.body).toMatchObject({
      from: `"Acme News" <Hello@${MAIL_DOMAIN.toUpperCase()}>`,
      to: 'qa@example.com',
      subject: '[Test] Welcome, Ada!',
    });
    const defaultFrom = await api('POST', path, {
      body: { to: 'qa2@example.com', sample: { contact: { firstName: '<Bob>' } } },
    });
    expect(defaultFrom.status).toBe(200);

    const mails = (await ses.sentEmails({ sinceEpochSeconds: since })).filter((m) =>
      ['qa@example.com', 'qa2@example.com'].includes(m.to[0]!),
    );
    expect(mails).toHaveLength(2);
    const [first, second] = mails;
    expect(first).toMatchObject({ to: ['qa@example.com'], subject: '[Test] Welcome, Ada!' });
    expect(first!.from).toContain(`Hello@${MAIL_DOMAIN.toUpperCase()}`);
    expect(first!.html).toContain('<h1>Hi Ada</h1>');
    expect(first!.html).toContain('https://unsubscribe.invalid/preview');
    expect(first!.text).toContain('Hi Ada\n\n--\nUnsubscribe: https://unsubscribe.invalid/preview');
    expect(second).toMatchObject({ to: ['qa2@example.com'], subject: '[Test] Welcome, <Bob>!' });
    expect(second!.from).toContain(`marketing@${MAIL_DOMAIN}`);
    expect(second!.html).toContain('<h1>Hi &lt;Bob&gt;</h1>');
    expect(sent.body.messageId).toEqual(expect.any(String));

    const outside = await api('POST', path, { body: { to: 'qa@example.com', from: { address: 'me@gmail.com' } } });
    expect(outside.status).toBe(400);
    expect(fieldErrorsOf(outside)).toEqual([
      expect.objectContaining({ field: 'body.from.address', code: 'sender_not_in_domain' }),
    ]);
    const lookalike = await api('POST', path, {
      body: { to: 'qa@example.com', from: { address: `me@evil-${MAIL_DOMAIN}` } },
    });
    expect(lookalike.status).toBe(400);
    const badTo = await api('POST', path, { body: { to: 'not an address' } });
    expect(badTo.status).toBe(400);
    expect(fieldErrorsOf(badTo).map((e) => e.field)).toEqual(['body.to']);
    expect((await api('POST', '/v1/email-templates/nope/test-send', { body: { to: 'qa@example.com' } })).status).toBe(
      404,
    );
    // Sending is a write: readers may not.
    expect((await templatesAs(t, ['readonly'])('POST', path, { body: { to: 'qa@example.com' } })).status).toBe(403);
    const after = (await ses.sentEmails({ sinceEpochSeconds: since })).filter((m) => m.to[0] === 'qa@example.com');
    expect(after).toHaveLength(1);
  });
});
