import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_SENDER_EMAIL, type LocalCloud } from '../infra/local/cloud.ts';
import { decayScheduleName } from '../shared/scoring/consumer.ts';
import { CLOUD_START_TIMEOUT_MS } from './support/assembly.ts';
import { api, eventually, startTestCloud } from './support/local-cloud.ts';

/**
 * Web-to-lead across the whole local cloud: a page posts a form (real HTTP, no token) -> the public function writes
 * the lead and its submission -> the stream publishes lead.created and form.submitted -> EventBridge -> the scoring
 * consumer scores the lead and schedules its decay recompute in the local Scheduler; the double opt-in mail goes
 * through the local SES, and following its link records consent.
 */
let cloud: LocalCloud;
let admin: ReturnType<typeof api>;
const TENANT = 'initech';
const ORIGIN = 'https://www.initech.example';

beforeAll(async () => {
  cloud = await startTestCloud();
  admin = api(cloud, await cloud.token({ tenantId: TENANT, roles: ['admin'], userId: 'peter' }));
}, CLOUD_START_TIMEOUT_MS);

afterAll(async () => {
  await cloud?.stop();
});

describe('web-to-lead in the local cloud', () => {
  it('turns a form submission into a scored lead, mails the opt-in link and records the confirmation', {
    timeout: 120_000,
  }, async () => {
    const rules = await admin('PUT', '/v1/scoring-rules', {
      rules: [
        {
          id: 'software',
          kind: 'fit',
          field: 'company.industry',
          condition: { op: 'equals', value: 'software' },
          points: 10,
        },
        {
          id: 'dach',
          kind: 'fit',
          field: 'company.address.country',
          condition: { op: 'in', values: ['DE', 'AT', 'CH'] },
          points: 5,
        },
        { id: 'form', kind: 'engagement', event: 'form.submitted', points: 20, halfLifeDays: 30 },
      ],
    });
    expect(rules.status).toBe(200);
    const form = await admin('POST', '/v1/forms', {
      name: 'Demo request',
      fields: [
        { name: 'name', mapsTo: 'firstName', required: true },
        { name: 'email', type: 'email', mapsTo: 'email', required: true },
        { name: 'company', mapsTo: 'company.name' },
        { name: 'industry', mapsTo: 'company.industry' },
        { name: 'country', mapsTo: 'company.address.country' },
      ],
      allowedOrigins: [ORIGIN],
      honeypotField: 'website',
      doubleOptIn: { enabled: true, subject: 'Confirm your email', text: 'Please confirm: {{link}}' },
      redirectUrl: `${ORIGIN}/thanks`,
    });
    expect(form.status).toBe(201);
    // The public web-to-lead API is its own HTTP API: no token, and CORS answered per form.
    const submitUrl = `${cloud.formsApiUrl}/v1/forms/${form.body.publicKey}/submissions`;
    expect(cloud.formsApiUrl).not.toBe(cloud.apiUrl);
    const preflight = (origin: string) =>
      fetch(submitUrl, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    const allowed = await preflight(ORIGIN);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(allowed.headers.get('access-control-allow-methods')).toBe('POST');
    expect(allowed.headers.get('access-control-allow-headers')).toBe('content-type');
    const refused = await preflight('https://evil.example');
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();

    // What a plain HTML form posts: url-encoded, with the page's Origin; the browser follows the 303.
    const html = await fetch(submitUrl, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        name: 'Michael',
        email: 'michael@initech.example',
        company: 'Initech',
        industry: 'Software',
        country: 'de',
        website: '',
        utm_source: 'google',
        utm_campaign: 'tps',
      }).toString(),
    });
    expect(html.status).toBe(303);
    expect(html.headers.get('location')).toBe(`${ORIGIN}/thanks`);

    // Another page may not post it; a bot filling the honeypot is told nothing and stores nothing.
    const evil = await fetch(submitUrl, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Bot', email: 'bot@evil.example' }),
    });
    expect(evil.status).toBe(403);
    const bot = await fetch(submitUrl, {
      method: 'POST',
      headers: { origin: ORIGIN, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Bot', email: 'bot@evil.example', website: 'http://spam.example' }),
    });
    expect(bot.status).toBe(202);
    // A script on the form's page may read the answer.
    expect(bot.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    // The main API does not serve the public routes.
    expect(
      (await fetch(`${cloud.apiUrl}/v1/forms/${form.body.publicKey}/submissions`, { method: 'POST' })).status,
    ).toBe(404);

    const found = await admin('GET', '/v1/leads?email=michael@initech.example');
    expect(found.body.items).toHaveLength(1);
    const leadId = found.body.items[0].id as string;
    expect((await admin('GET', '/v1/leads?email=bot@evil.example')).body.items).toEqual([]);

    // Scored by the consumer from lead.created and form.submitted: fit 15 + engagement 20.
    const scored = await eventually(async () => {
      const res = await admin('GET', `/v1/leads/${leadId}`);
      return res.body.score === 35 ? res.body : undefined;
    }, 60_000);
    expect(scored).toMatchObject({
      source: 'form',
      status: 'new',
      utm: { source: 'google', campaign: 'tps' },
      company: { name: 'Initech', industry: 'Software', address: { country: 'DE' } },
      consent: { email: 'pending' },
    });
    expect(scored.scoreReasons.map((r: { ruleId: string; points: number }) => [r.ruleId, r.points])).toEqual([
      ['software', 10],
      ['dach', 5],
      ['form', 20],
    ]);
    // The decay clock: a one-time schedule brings the lead back to the consumer when its score next moves.
    // (made right after the score is written, so it may trail it by a moment)
    const schedule = await eventually(async () =>
      cloud.scheduler.list().find((s) => s.Name === decayScheduleName(TENANT, leadId)),
    );
    expect(schedule.ScheduleExpression).toMatch(/^at\(/);

    // The opt-in mail, from the stack's sender, with a link to this API.
    const mail = await eventually(async () =>
      (await cloud.ses.sentEmails()).find((m) => m.to.includes('michael@initech.example')),
    );
    expect(mail).toMatchObject({ from: LOCAL_SENDER_EMAIL, subject: 'Confirm your email' });
    const link = /(https?:\/\/\S+\/v1\/forms\/confirmations\/\S+)/.exec(mail.text ?? '')![1]!;
    const confirmed = await fetch(link);
    expect(confirmed.status).toBe(200);
    expect(await confirmed.json()).toMatchObject({ status: 'confirmed' });
    const lead = await eventually(async () => {
      const res = await admin('GET', `/v1/leads/${leadId}`);
      return res.body.consent?.email === 'granted' ? res.body : undefined;
    });
    expect(lead.consent).toMatchObject({ source: 'double_opt_in', formId: form.body.id });
    // The consent change is a lead.updated the consumer sees; the score stays.
    expect(lead.score).toBe(35);

    const timeline = await admin('GET', `/v1/leads/${leadId}/timeline`);
    expect(timeline.body.items).toEqual([
      expect.objectContaining({ type: 'formSubmission', data: expect.objectContaining({ outcome: 'created' }) }),
    ]);

    const converted = await admin('POST', `/v1/leads/${leadId}/convert`, {});
    expect(converted.status).toBe(200);
    const contact = await admin('GET', `/v1/contacts/${converted.body.contactId}`);
    expect(contact.body).toMatchObject({ firstName: 'Michael', consent: { email: 'granted' } });
    expect((await admin('POST', `/v1/leads/${leadId}/convert`, {})).status).toBe(409);
  });
});
