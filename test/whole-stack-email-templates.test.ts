import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { CLOUD_START_TIMEOUT_MS } from './support/assembly.ts';
import { makeCompany, makeContact } from './support/factories.ts';
import { api, eventually, startTestCloud } from './support/local-cloud.ts';

/**
 * Email templates in the local cloud, over real HTTP: the bundled function (liquid included) validates, previews a
 * real contact, and test-sends through the local SES from the stack's mail domain (its IAM grant sets the domain).
 */
let cloud: LocalCloud;
let marketer: ReturnType<typeof api>;

beforeAll(async () => {
  cloud = await startTestCloud();
  marketer = api(cloud, await cloud.token({ tenantId: 'news', roles: ['marketing'], userId: 'mia' }));
  // Cold starts on 2 busy cores can pass the API functions' 10-second timeout: warm the ones used below.
  for (const path of ['/v1/contacts', '/v1/companies', '/v1/email-templates']) {
    await eventually(async () => ((await marketer('GET', path)).status === 200 ? true : undefined), 90_000);
  }
}, CLOUD_START_TIMEOUT_MS);

afterAll(async () => {
  await cloud?.stop();
});

describe('email templates in the local cloud', () => {
  it('refuses an unknown field, previews a contact and test-sends through SES', async () => {
    const broken = await marketer('POST', '/v1/email-templates', {
      name: 'Broken',
      subject: 'Hi',
      html: '<p>\n{{ contact.frstName }}</p>',
    });
    expect(broken.status).toBe(400);
    expect(broken.body.fieldErrors).toEqual([expect.objectContaining({ field: 'body.html', line: 2, column: 4 })]);

    const created = await marketer(
      'POST',
      '/v1/email-templates',
      {
        name: 'Welcome',
        subject: 'Welcome, {{ contact.firstName | default: "friend" }}',
        html: '<p>Hello {{ contact.firstName }} from {{ company.name }}</p>',
        text: 'Hello {{ contact.firstName }}',
      },
      { 'idempotency-key': 'welcome-1' },
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const company = await marketer('POST', '/v1/companies', makeCompany({ name: 'Initech & <Sons>' }));
    const contact = await marketer(
      'POST',
      '/v1/contacts',
      makeContact({ firstName: 'Peter', companyId: company.body.id }),
    );
    expect(contact.status).toBe(201);

    const path = `/v1/email-templates/${created.body.id}`;
    const preview = await marketer('POST', `${path}/preview`, { contactId: contact.body.id });
    expect(preview.status, JSON.stringify(preview.body)).toBe(200);
    expect(preview.body.subject).toBe('Welcome, Peter');
    expect(preview.body.html).toMatch(/^<p>Hello Peter from Initech &amp; &lt;Sons&gt;<\/p>/);

    const sent = await marketer('POST', `${path}/test-send`, { to: 'qa@initech.example', contactId: contact.body.id });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    expect(sent.body).toMatchObject({ from: 'marketing@crm.local', subject: '[Test] Welcome, Peter' });
    const mails = (await cloud.ses.sentEmails()).filter((m) => m.to.includes('qa@initech.example'));
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ subject: '[Test] Welcome, Peter' });
    expect(mails[0]!.from).toContain('marketing@crm.local');
    expect(mails[0]!.text).toContain('Unsubscribe: https://unsubscribe.invalid/preview');

    const outside = await marketer('POST', `${path}/test-send`, {
      to: 'qa@initech.example',
      from: { address: 'ceo@initech.example' },
    });
    expect(outside.status).toBe(400);
  });
});
