import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSes } from '../../infra/local/ses.ts';
import { uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
let formsAs: (tenantId: string, roles?: string[]) => Client;
let leadsAs: (tenantId: string) => Client;
let publicClient: Client;
let ses: LocalSes;
const tenant = uniqueTenant('forms');
const ORIGIN = 'https://www.example.com';

beforeAll(async () => {
  await useFreshTable();
  ses = await LocalSes.start({ log: () => {} });
  process.env.AWS_ENDPOINT_URL_SESV2 = ses.endpoint;
  const forms = (await import('./forms.ts')).handler;
  const leads = (await import('./leads.ts')).handler;
  const submissions = (await import('./form-submissions.ts')).handler;
  formsAs = (tenantId, roles = ['marketing']) => apiClient(forms, { tenantId, roles, userId: 'marketer-1' });
  leadsAs = (tenantId) => apiClient(leads, { tenantId, roles: ['admin'], userId: 'admin-1' });
  // Public routes ignore any token: the claims apiClient adds are never read.
  publicClient = apiClient(submissions, { tenantId: 'ignored', roles: [] });
});

afterAll(async () => {
  delete process.env.SENDER_EMAIL;
  await ses?.stop();
});

const fieldsOf = (res: TestResponse) => ((res.body?.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);

function makeForm(overrides: Record<string, unknown> = {}) {
  return {
    name: 'Contact us',
    fields: [
      { name: 'first_name', mapsTo: 'firstName', required: true },
      { name: 'last_name', mapsTo: 'lastName' },
      { name: 'email', type: 'email', mapsTo: 'email', required: true },
      { name: 'company', mapsTo: 'company.name', maxLength: 100 },
      { name: 'country', mapsTo: 'company.address.country' },
      { name: 'interest', type: 'select', options: ['demo', 'pricing'] },
      { name: 'message', type: 'textarea', maxLength: 2000 },
    ],
    allowedOrigins: [ORIGIN],
    honeypotField: 'website',
    ownerId: 'rep-7',
    tags: ['Web'],
    ...overrides,
  };
}

async function newForm(overrides: Record<string, unknown> = {}, tenantId = tenant) {
  const res = await formsAs(tenantId)('POST', '/v1/forms', { body: makeForm(overrides) });
  expect(res.status).toBe(201);
  return res.body as { id: string; publicKey: string; version: number };
}

let n = 0;
const submission = (overrides: Record<string, unknown> = {}) => {
  n += 1;
  return { first_name: 'Ada', last_name: `Byron${n}`, email: `ada.${n}.${Date.now()}@example.org`, ...overrides };
};

const submit = (publicKey: string, body: unknown, headers: Record<string, string> = { origin: ORIGIN }) =>
  publicClient('POST', `/v1/forms/${publicKey}/submissions`, { body, headers });

async function leadByEmail(email: string, tenantId = tenant) {
  const res = await leadsAs(tenantId)('GET', `/v1/leads?email=${encodeURIComponent(email)}`);
  return res.body.items as Array<{ id: string }>;
}

describe('forms: definitions', () => {
  it('creates, gets, lists, patches and deletes a form (forms:manage), with its publicKey', async () => {
    const form = await newForm();
    expect(form.publicKey).toBe(`${tenant}.${form.id}`);
    const got = await formsAs(tenant, ['sales'])('GET', `/v1/forms/${form.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ name: 'Contact us', tags: ['web'], honeypotField: 'website' });
    expect(got.body.fields[0]).toEqual({
      name: 'first_name',
      mapsTo: 'firstName',
      required: true,
      type: 'text',
      maxLength: 500,
    });
    expect((await formsAs(tenant, ['sales'])('POST', '/v1/forms', { body: makeForm() })).status).toBe(403);
    const list = await formsAs(tenant)('GET', '/v1/forms?limit=100');
    expect(list.body.items.map((f: { id: string }) => f.id)).toContain(form.id);
    const patched = await formsAs(tenant)('PATCH', `/v1/forms/${form.id}`, {
      body: { name: 'Talk to sales', redirectUrl: 'https://www.example.com/thanks', honeypotField: null },
      headers: { 'if-match': '"1"' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      name: 'Talk to sales',
      version: 2,
      redirectUrl: 'https://www.example.com/thanks',
    });
    expect(patched.body.honeypotField).toBeUndefined();
    const stale = await formsAs(tenant)('PATCH', `/v1/forms/${form.id}`, {
      body: { name: 'x' },
      headers: { 'if-match': '"1"' },
    });
    expect(stale.status).toBe(412);
    expect((await formsAs(tenant)('DELETE', `/v1/forms/${form.id}`)).status).toBe(204);
    expect((await formsAs(tenant)('GET', `/v1/forms/${form.id}`)).status).toBe(404);
    const gone = await submit(form.publicKey, submission());
    expect(gone.status).toBe(404);
  });

  it('refuses malformed definitions with field errors', async () => {
    const res = await formsAs(tenant)('POST', '/v1/forms', {
      body: makeForm({
        fields: [
          { name: 'utm_source', mapsTo: 'firstName' },
          { name: 'a', mapsTo: 'password' },
          { name: 'b', type: 'select' },
        ],
        allowedOrigins: ['https://www.example.com/page', 'ftp://x.example'],
        honeypotField: 'a',
        doubleOptIn: { enabled: true, subject: 'Confirm', text: 'no link here' },
        redirectUrl: 'javascript:alert(1)',
      }),
    });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(
      expect.arrayContaining([
        'body.fields.0.name',
        'body.fields.1.mapsTo',
        'body.fields.2.options',
        'body.allowedOrigins.0',
        'body.allowedOrigins.1',
        'body.doubleOptIn.text',
        'body.redirectUrl',
      ]),
    );
    const honeypot = await formsAs(tenant)('POST', '/v1/forms', { body: makeForm({ honeypotField: 'email' }) });
    expect(fieldsOf(honeypot)).toEqual(['body.honeypotField']);
    const optIn = await formsAs(tenant)('POST', '/v1/forms', {
      body: makeForm({
        fields: [{ name: 'name', mapsTo: 'firstName' }],
        doubleOptIn: { enabled: true, subject: 'Confirm', text: 'Click {{link}}' },
      }),
    });
    expect(fieldsOf(optIn)).toEqual(['body.doubleOptIn']);
  });
});

describe('forms: public submissions', () => {
  it("creates a lead from a JSON submission: source form, utm, the form's owner and tags, on its timeline", async () => {
    const form = await newForm();
    const body = submission({
      company: 'Analytical Engines',
      country: 'gb',
      interest: 'demo',
      utm_source: 'ads',
      utm_campaign: 'q4',
    });
    const res = await submit(form.publicKey, body);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ status: 'received', message: 'Thank you.' });
    const [summary] = await leadByEmail(body.email);
    const lead = (await leadsAs(tenant)('GET', `/v1/leads/${summary!.id}`)).body;
    expect(lead).toMatchObject({
      firstName: 'Ada',
      lastName: body.last_name,
      emails: [body.email],
      source: 'form',
      status: 'new',
      utm: { source: 'ads', campaign: 'q4' },
      company: { name: 'Analytical Engines', address: { country: 'GB' } },
      ownerId: 'rep-7',
      tags: ['web'],
      createdBy: `form:${form.id}`,
    });
    const timeline = (await leadsAs(tenant)('GET', `/v1/leads/${lead.id}/timeline`)).body.items;
    expect(timeline).toHaveLength(1);
    expect(timeline[0]).toMatchObject({
      type: 'formSubmission',
      data: { formId: form.id, leadId: lead.id, outcome: 'created', values: { interest: 'demo' }, origin: ORIGIN },
    });
  });

  it('attaches a second submission with the same email to the same live lead', async () => {
    const form = await newForm();
    const body = submission();
    expect((await submit(form.publicKey, body)).status).toBe(202);
    expect((await submit(form.publicKey, { ...body, email: body.email.toUpperCase(), message: 'again' })).status).toBe(
      202,
    );
    const leads = await leadByEmail(body.email);
    expect(leads).toHaveLength(1);
    const timeline = (await leadsAs(tenant)('GET', `/v1/leads/${leads[0]!.id}/timeline`)).body.items;
    expect(timeline.map((e: { data: { outcome: string } }) => e.data.outcome)).toEqual(['attached', 'created']);
  });

  it("accepts a plain HTML form post (urlencoded) and redirects it to the form's page", async () => {
    const form = await newForm({ redirectUrl: 'https://www.example.com/thanks' });
    const email = `html.${Date.now()}@example.org`;
    const res = await publicClient('POST', `/v1/forms/${form.publicKey}/submissions`, {
      rawBody: new URLSearchParams({ first_name: 'Ada', email, website: '', utm_medium: 'cpc' }).toString(),
      headers: { origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('https://www.example.com/thanks');
    const [lead] = await leadByEmail(email);
    expect((await leadsAs(tenant)('GET', `/v1/leads/${lead!.id}`)).body.utm).toEqual({ medium: 'cpc' });
    // Scripts posting JSON get JSON, whatever the redirect.
    const json = await submit(form.publicKey, submission());
    expect(json.status).toBe(202);
  });

  it('refuses a page whose Origin is not allowed (or none), and unknown or malformed form keys', async () => {
    const form = await newForm();
    const body = submission();
    const foreign = await submit(form.publicKey, body, { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.body.code).toBe('form.origin_not_allowed');
    expect((await submit(form.publicKey, body, {})).status).toBe(403);
    expect(await leadByEmail(body.email)).toEqual([]);
    expect((await submit(`${tenant}.01ARZ3NDEKTSV4RRFFQ69G5FAV`, body)).status).toBe(404);
    // The same form id under another tenant is another tenant's key: not found.
    expect((await submit(`${uniqueTenant('x')}.${form.id}`, body)).status).toBe(404);
    const malformed = await submit(form.id, body);
    expect(malformed.status).toBe(400);
    expect(fieldsOf(malformed)).toEqual(['path.formId']);
  });

  it("answers each form's CORS preflight from its allowedOrigins, and lets its pages read the answers", async () => {
    const form = await newForm();
    const preflight = (origin?: string) =>
      publicClient('OPTIONS', `/v1/forms/${form.publicKey}/submissions`, {
        headers: { ...(origin ? { origin } : {}), 'access-control-request-method': 'POST' },
      });
    const allowed = await preflight(ORIGIN);
    expect(allowed.status).toBe(204);
    expect(allowed.headers).toMatchObject({
      'access-control-allow-origin': ORIGIN,
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type',
      'access-control-max-age': '600',
      vary: 'origin',
    });
    for (const res of [await preflight('https://evil.example'), await preflight()]) {
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    }
    const unknown = await publicClient('OPTIONS', `/v1/forms/${tenant}.01ARZ3NDEKTSV4RRFFQ69G5FAV/submissions`, {
      headers: { origin: ORIGIN },
    });
    expect(unknown.headers['access-control-allow-origin']).toBeUndefined();

    const ok = await submit(form.publicKey, submission());
    expect(ok.headers['access-control-allow-origin']).toBe(ORIGIN);
    // Refusals after the origin check are readable by the page too (field errors, 429).
    const bad = await submit(form.publicKey, submission({ email: 'nope' }));
    expect(bad.status).toBe(400);
    expect(bad.headers['access-control-allow-origin']).toBe(ORIGIN);
    const foreign = await submit(form.publicKey, submission(), { origin: 'https://evil.example' });
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers a filled honeypot like a success and stores nothing', async () => {
    const form = await newForm();
    const body = submission({ website: 'http://spam.example' });
    const res = await submit(form.publicKey, body);
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('received');
    expect(await leadByEmail(body.email)).toEqual([]);
  });

  it('names each invalid field by its form name', async () => {
    const form = await newForm();
    const res = await submit(form.publicKey, {
      first_name: '',
      email: 'not-an-email',
      interest: 'free stuff',
      company: 'x'.repeat(101),
      country: 'Germany',
      surprise: 'x',
    });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(
      expect.arrayContaining(['body.first_name', 'body.interest', 'body.company', 'body.surprise']),
    );
    const mapped = await submit(form.publicKey, submission({ email: 'not-an-email', country: 'Germany' }));
    expect(mapped.status).toBe(400);
    expect(fieldsOf(mapped).sort()).toEqual(['body.country', 'body.email']);
    const notJson = await publicClient('POST', `/v1/forms/${form.publicKey}/submissions`, {
      rawBody: 'first_name=x',
      headers: { origin: ORIGIN, 'content-type': 'text/plain' },
    });
    expect(notJson.status).toBe(415);
    const tooBig = await submit(form.publicKey, submission({ message: 'x'.repeat(40_000) }));
    expect(tooBig.status).toBe(413);
  });

  it('limits submissions per source address and form: 429 with Retry-After, other forms unaffected', async () => {
    const form = await newForm();
    const other = await newForm();
    for (let i = 0; i < 10; i++) expect((await submit(form.publicKey, submission())).status).toBe(202);
    const limited = await submit(form.publicKey, submission());
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(600);
    expect((await submit(other.publicKey, submission())).status).toBe(202);
  });
});

describe('forms: double opt-in', () => {
  const optIn = { enabled: true, subject: 'Please confirm', text: 'Hello! Confirm here: {{link}}\nThanks.' };

  it('refuses (503, storing nothing) while no sender is configured', async () => {
    delete process.env.SENDER_EMAIL;
    const form = await newForm({ doubleOptIn: optIn });
    const body = submission();
    const res = await submit(form.publicKey, body);
    expect(res.status).toBe(503);
    expect(await leadByEmail(body.email)).toEqual([]);
  });

  it('marks the lead pending, mails a link through SES, and confirms it once', async () => {
    process.env.SENDER_EMAIL = 'crm@example.com';
    const form = await newForm({ doubleOptIn: optIn });
    const body = submission();
    const res = await submit(form.publicKey, body);
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('pending_confirmation');
    const [summary] = await leadByEmail(body.email);
    const pending = (await leadsAs(tenant)('GET', `/v1/leads/${summary!.id}`)).body;
    expect(pending.consent).toMatchObject({ email: 'pending', formId: form.id, source: 'form' });

    const mail = (await ses.sentEmails()).find((m) => m.to.includes(body.email));
    expect(mail).toMatchObject({ from: 'crm@example.com', subject: 'Please confirm' });
    const link = /https?:\/\/\S+\/v1\/forms\/confirmations\/(\S+)/.exec(mail!.text ?? '');
    expect(link).not.toBeNull();
    const token = link![1]!;
    expect(token.startsWith(`${tenant}.`)).toBe(true);

    const confirmed = await publicClient('GET', `/v1/forms/confirmations/${token}`);
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.status).toBe('confirmed');
    const again = await publicClient('GET', `/v1/forms/confirmations/${token}`);
    expect(again.body).toEqual(confirmed.body);
    const lead = (await leadsAs(tenant)('GET', `/v1/leads/${summary!.id}`)).body;
    expect(lead.consent).toEqual({
      email: 'granted',
      source: 'double_opt_in',
      formId: form.id,
      requestedAt: pending.consent.requestedAt,
      grantedAt: confirmed.body.confirmedAt,
    });

    // Once granted, a new submission asks nothing again.
    const more = await submit(form.publicKey, { ...body, message: 'me again' });
    expect(more.body.status).toBe('received');
  });

  it("does not know forged or other tenants' tokens", async () => {
    const fake = `${tenant}.${'A'.repeat(43)}`;
    expect((await publicClient('GET', `/v1/forms/confirmations/${fake}`)).status).toBe(404);
    expect((await publicClient('GET', '/v1/forms/confirmations/short')).status).toBe(400);
  });
});
