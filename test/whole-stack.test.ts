import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { makeCompany, makeContact } from './support/factories.ts';
import { api, eventually, startTestCloud } from './support/local-cloud.ts';
import { accepts, loopbackOnly } from './support/net.ts';

/** The whole stack over real HTTP: API Gateway emulation, JWT authorizer, Lambda workers, DynamoDB Local, stream,
 * EventBridge rules and targets, SMTP inbound, all from the synthesized CDK template. */
let cloud: LocalCloud;
let admin: ReturnType<typeof api>;

beforeAll(async () => {
  cloud = await startTestCloud();
  admin = api(cloud, await cloud.token({ tenantId: 'acme', roles: ['admin'], userId: 'alice' }));
}, 180_000);

afterAll(async () => {
  await cloud?.stop();
});

describe('the API over HTTP', () => {
  it('refuses requests without a valid token at the authorizer', async () => {
    expect((await api(cloud)('GET', '/v1/contacts')).status).toBe(401);
    expect((await api(cloud, 'not-a-jwt')('GET', '/v1/contacts')).status).toBe(401);
  });

  it('creates, reads, updates and lists a contact', async () => {
    const created = await admin('POST', '/v1/contacts', makeContact({ firstName: 'Whole', lastName: 'Stack' }));
    expect(created.status).toBe(201);
    expect(created.headers.get('etag')).toBe('"1"');
    const id = created.body.id;
    const got = await admin('GET', `/v1/contacts/${id}`);
    expect(got.body).toEqual(created.body);
    const patched = await admin('PATCH', `/v1/contacts/${id}`, { jobTitle: 'Engineer' }, { 'if-match': '"1"' });
    expect(patched.status).toBe(200);
    expect(patched.body.jobTitle).toBe('Engineer');
    const stale = await admin('PATCH', `/v1/contacts/${id}`, { jobTitle: 'X' }, { 'if-match': '"1"' });
    expect(stale.status).toBe(412);
    expect(stale.headers.get('content-type')).toBe('application/problem+json');
    const listed = await admin('GET', '/v1/contacts?q=whole');
    expect(listed.body.items.map((c: { id: string }) => c.id)).toEqual([id]);
  });

  it('keeps tenants apart and enforces roles', async () => {
    const created = await admin('POST', '/v1/companies', makeCompany());
    const other = api(cloud, await cloud.token({ tenantId: 'globex', roles: ['admin'] }));
    expect((await other('GET', `/v1/companies/${created.body.id}`)).status).toBe(404);
    const readonly = api(cloud, await cloud.token({ tenantId: 'acme', roles: ['readonly'] }));
    expect((await readonly('GET', `/v1/companies/${created.body.id}`)).status).toBe(200);
    expect((await readonly('POST', '/v1/companies', makeCompany())).status).toBe(403);
  });

  it('answers CORS preflights for allowed origins', async () => {
    const response = await fetch(`${cloud.apiUrl}/v1/contacts`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:3000',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,idempotency-key',
      },
    });
    expect(response.status).toBeLessThan(300);
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
  });

  it('serves the OpenAPI document and the reference page without a token', async () => {
    const doc = await api(cloud)('GET', '/v1/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\.1/);
    expect(Object.keys(doc.body.paths)).toContain('/v1/contacts');
    const page = await api(cloud)('GET', '/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
  });
});

describe('events through the stream', () => {
  it('a create over HTTP reaches the audit-trail rule target, with the changed fields', async () => {
    const created = await admin('POST', '/v1/contacts', makeContact({ firstName: 'Evented' }));
    const id = created.body.id;
    await admin('PATCH', `/v1/contacts/${id}`, { lifecycleStage: 'customer' });

    const event = await eventually(async () =>
      cloud.events
        .recentEvents()
        .find((e) => e['detail-type'] === 'contact.created' && (e.detail as { entityId: string }).entityId === id),
    );
    expect(event.source).toBe('crm.contacts');
    expect((event.detail as { changes: Record<string, unknown> }).changes.firstName).toEqual({ new: 'Evented' });

    const history = await eventually(async () => {
      const res = await admin('GET', `/v1/contacts/${id}/history`);
      return res.body.items.length === 2 ? res.body.items : undefined;
    });
    expect(history[0]).toMatchObject({
      version: 2,
      action: 'updated',
      actorId: 'alice',
      changes: { lifecycleStage: { old: 'lead', new: 'customer' } },
    });
    expect(history[1]).toMatchObject({ version: 1, action: 'created' });
  });

  it('inbound mail over SMTP is stored and published as email.received', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: cloud.smtpPort, secure: false });
    await transport.sendMail({
      from: 'Customer <customer@example.net>',
      to: 'support@crm.local',
      subject: 'Help with my order',
      text: 'It did not arrive.',
    });
    transport.close();
    const event = await eventually(async () =>
      cloud.events.recentEvents().find((e) => e['detail-type'] === 'email.received'),
    );
    expect(event.detail).toMatchObject({
      from: { address: 'customer@example.net', name: 'Customer' },
      subject: 'Help with my order',
      text: expect.stringContaining('It did not arrive.'),
    });
    // The raw message is stored in the inbound bucket: read it back through S3.
    const s3 = new S3Client({
      region: cloud.aws.region,
      endpoint: cloud.aws.endpoints.AWS_ENDPOINT_URL_S3!,
      credentials: cloud.aws,
    });
    try {
      const stored: string[] = [];
      for (const Bucket of cloud.s3.buckets) {
        const listed = await s3.send(new ListObjectsV2Command({ Bucket }));
        for (const { Key } of listed.Contents ?? []) {
          const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
          stored.push(await got.Body!.transformToString());
        }
      }
      expect(stored.filter((raw) => raw.includes('Subject: Help with my order'))).toEqual([
        expect.stringContaining('It did not arrive.'),
      ]);
    } finally {
      s3.destroy();
    }
  });
});

/** Every port the cloud opened for clients: API, SMTP, SES web UI and each AWS endpoint (DynamoDB Local's too). */
const portsOf = (c: LocalCloud) => {
  const urls = [c.apiUrl, c.sesWebUiUrl, `smtp://127.0.0.1:${c.smtpPort}`, ...Object.values(c.aws.endpoints)];
  return [...new Set(urls.map((url) => Number(new URL(url).port)))];
};

describe('network', () => {
  it('every server listens on 127.0.0.1 only, except DynamoDB Local, which has no such option', async () => {
    const dynamoPort = Number(new URL(cloud.dynamo.endpoint).port);
    const ports = portsOf(cloud).filter((port) => port !== dynamoPort);
    expect(ports.length).toBeGreaterThanOrEqual(6);
    for (const port of ports) expect(await loopbackOnly(port), `port ${port}`).toBe(true);
    // Documented: it listens on every interface (hence its -cors allow-list), as this check shows.
    expect(await loopbackOnly(dynamoPort)).toBe(false);
  });
});

describe('shutdown', () => {
  it('closes every port it opened: API, SMTP, SES web UI and every AWS endpoint, DynamoDB Local included', async () => {
    const ports = portsOf(cloud);
    expect(ports.length).toBeGreaterThanOrEqual(7);
    for (const port of ports) expect(await accepts(port), `port ${port} before stop`).toBe(true);
    await cloud.stop();
    for (const port of ports) expect(await accepts(port), `port ${port} after stop`).toBe(false);
  });
});
