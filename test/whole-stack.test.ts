import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { CLOUD_START_TIMEOUT_MS } from './support/assembly.ts';
import { makeCompany, makeContact } from './support/factories.ts';
import { api, eventually, startTestCloud } from './support/local-cloud.ts';
import { accepts, loopbackOnly } from './support/net.ts';

/** The whole stack over real HTTP: API Gateway emulation, JWT authorizer, Lambda workers, DynamoDB Local, stream,
 * EventBridge rules and targets, SMTP inbound, all from the synthesized CDK template. */
let cloud: LocalCloud;
let admin: ReturnType<typeof api>;

type HistoryEntry = { version: number; changes: Record<string, { old?: unknown; new?: unknown }> };

beforeAll(async () => {
  cloud = await startTestCloud();
  admin = api(cloud, await cloud.token({ tenantId: 'acme', roles: ['admin'], userId: 'alice' }));
}, CLOUD_START_TIMEOUT_MS);

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

  it('answers conditional requests over HTTP: 304 on a current If-None-Match, 428 once the tenant requires If-Match', async () => {
    const created = await admin('POST', '/v1/contacts', makeContact());
    const id = created.body.id;
    const notModified = await admin('GET', `/v1/contacts/${id}`, undefined, { 'if-none-match': '"1"' });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('etag')).toBe('"1"');
    expect(notModified.text).toBe('');
    const weak = await admin('PATCH', `/v1/contacts/${id}`, { jobTitle: 'X' }, { 'if-match': 'W/"1"' });
    expect(weak.status).toBe(412);
    const owner = api(cloud, await cloud.token({ tenantId: 'strict', roles: ['admin'] }));
    const settings = await owner('PATCH', '/v1/settings', { requireIfMatch: true });
    expect(settings.status).toBe(200);
    expect(settings.headers.get('etag')).toBe('"1"');
    const contact = await owner('POST', '/v1/contacts', makeContact());
    const required = await owner('PATCH', `/v1/contacts/${contact.body.id}`, { jobTitle: 'X' });
    // The contacts function caches settings for up to 30 s, but had not read this tenant's yet.
    expect(required.status).toBe(428);
    expect(required.body.code).toBe('request.precondition_required');
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

  it('every version of a contact grown as large as the API allows reaches /history with its old and new values', {
    timeout: 180_000,
  }, async () => {
    const big = api(cloud, await cloud.token({ tenantId: 'bigtenant', roles: ['admin'], userId: 'bob' }));
    const keys = Array.from({ length: 100 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    const defined = await big('PUT', '/v1/custom-fields/contact', {
      fields: keys.map((key) => ({ key, label: key, type: 'text' })),
    });
    expect(defined.status).toBe(200);
    const created = await big('POST', '/v1/contacts', makeContact({ firstName: 'Large' }));
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const value = (key: string, round: number) =>
      `${key}:${round}:`.padEnd(2000, String.fromCharCode(97 + (round % 26)));
    // Each PATCH stays under the 64 KiB body limit; the record grows until the stored-record cap (if any) refuses.
    const versions: Array<{ version: number; customFields: Record<string, string> }> = [];
    let grown = 0;
    let round = 0;
    while (grown < keys.length) {
      round += 1;
      const batch = keys.slice(grown, grown + 25);
      const patched = await big('PATCH', `/v1/contacts/${id}`, {
        customFields: Object.fromEntries(batch.map((k) => [k, value(k, round)])),
      });
      if (patched.status === 413 || patched.status === 422) break;
      expect(patched.status, patched.text.slice(0, 300)).toBe(200);
      versions.push({ version: patched.body.version, customFields: patched.body.customFields });
      grown += batch.length;
    }
    expect(grown).toBeGreaterThanOrEqual(25);
    // Then rewrite the largest allowed record several times: every change carries large old and new values.
    for (let again = 0; again < 3; again++) {
      round += 1;
      const rewritten = await big('PATCH', `/v1/contacts/${id}`, {
        customFields: Object.fromEntries(keys.slice(0, 25).map((k) => [k, value(k, round)])),
      });
      expect(rewritten.status, rewritten.text.slice(0, 300)).toBe(200);
      versions.push({ version: rewritten.body.version, customFields: rewritten.body.customFields });
    }

    const last = versions.at(-1)!.version;
    // Pages of history end at DynamoDB's 1 MB per Query, so a large record's history spans several pages.
    const allHistory = async () => {
      const items: Array<{ version: number }> = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
        const res = await big('GET', `/v1/contacts/${id}/history?limit=100${query}`);
        expect(res.status).toBe(200);
        items.push(...res.body.items);
        cursor = res.body.nextCursor;
      } while (cursor);
      return items;
    };
    const history = await eventually(async () => {
      const items = await allHistory();
      return items.length === last ? items : undefined;
    }, 60_000);
    expect(history.map((h: { version: number }) => h.version)).toEqual(
      Array.from({ length: last }, (_, i) => last - i),
    );
    // Full old and new values; only a change too large for one history item (over 380 KB, which a record within
    // the stored-record cap never reaches) may keep a value as a reference to its copy in the claim-check bucket.
    const [bucketId] = cloud.resolver
      .resourcesOfType('AWS::S3::Bucket')
      .map(([logicalId]) => logicalId)
      .filter((logicalId) => logicalId.startsWith('ClaimCheck'));
    const bucket = cloud.resolver.ref(bucketId!);
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: cloud.s3.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const fullValue = async (value: unknown) => {
      const reference = (value as { $claimCheck?: { key: string; sha256: string } }).$claimCheck;
      if (!reference) return value;
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: reference.key }));
      const body = await object.Body!.transformToByteArray();
      expect(createHash('sha256').update(body).digest('hex')).toBe(reference.sha256);
      return JSON.parse(Buffer.from(body).toString('utf8'));
    };
    const byVersion = new Map(history.map((h) => [h.version, h as unknown as HistoryEntry]));
    let previous: Record<string, string> = {};
    for (const { version, customFields } of versions) {
      const change = byVersion.get(version)!.changes.customFields!;
      const fits = JSON.stringify(previous).length + JSON.stringify(customFields).length < 300 * 1024;
      if (fits) expect(change.new, `v${version}`).toEqual(customFields);
      expect(await fullValue(change.new), `v${version}`).toEqual(customFields);
      if (Object.keys(previous).length > 0) {
        if (fits) expect(change.old, `v${version}`).toEqual(previous);
        expect(await fullValue(change.old), `v${version}`).toEqual(previous);
      }
      previous = customFields;
    }

    // The large values travelled as claim checks through the claim-check bucket of the local S3.
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: `events/bigtenant/contact/${id}/${last}/updated/` }),
    );
    s3.destroy();
    expect(listed.Contents?.map((o) => o.Key)).toContain(
      `events/bigtenant/contact/${id}/${last}/updated/changes/customFields/new`,
    );
  });

  it('inbound mail over SMTP to a declared mailbox is stored and published as email.received', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: cloud.smtpPort, secure: false });
    const mail = {
      from: 'Customer <customer@example.net>',
      to: 'support@crm.local',
      subject: 'Help with my order',
      text: 'It did not arrive.',
    };
    // No mailbox owns the address yet: the local SMTP server refuses it at RCPT TO.
    await expect(transport.sendMail(mail)).rejects.toMatchObject({ responseCode: 550 });
    const mailbox = await admin('POST', '/v1/mailboxes', { address: 'Support@crm.local', name: 'Support' });
    expect(mailbox.status, JSON.stringify(mailbox.body)).toBe(201);
    await transport.sendMail({ ...mail, to: 'support+T-1@crm.local' });
    transport.close();
    const event = await eventually(async () =>
      cloud.events.recentEvents().find((e) => e['detail-type'] === 'email.received'),
    );
    expect(event.detail).toMatchObject({
      schemaVersion: 2,
      tenantId: 'acme',
      recipient: 'support+T-1@crm.local',
      mailbox: { id: mailbox.body.id, address: 'support@crm.local', defaultPriority: 'normal' },
      verdicts: { spam: 'PASS', virus: 'PASS', spf: 'PASS', dkim: 'PASS', dmarc: 'PASS' },
      flagged: [],
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

describe('inbound mail verdicts, end to end', () => {
  it("applies each mailbox's policy to the verdicts a message sets with X-Local-Verdicts", async () => {
    // Two tenants receive one message; spam is rejected by one mailbox and flagged by the other.
    const strict = api(cloud, await cloud.token({ tenantId: 'strictmail', roles: ['admin'] }));
    const lenient = api(cloud, await cloud.token({ tenantId: 'lenientmail', roles: ['admin'] }));
    const declare = async (client: typeof admin, address: string, spam: string) => {
      const res = await client('POST', '/v1/mailboxes', { address, name: 'Help', verdictPolicy: { spam } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    };
    await declare(strict, 'help@strict.local', 'reject');
    await declare(lenient, 'help@lenient.local', 'flag');
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: cloud.smtpPort, secure: false });
    await transport.sendMail({
      from: 'spammer@example.net',
      // The rejecting tenant first: the handler decides for it before it publishes for the other.
      envelope: { from: 'spammer@example.net', to: ['help@strict.local', 'help@lenient.local'] },
      to: 'help@strict.local, help@lenient.local',
      subject: 'Cheap watches',
      text: 'Buy now.',
      headers: { 'X-Local-Verdicts': 'spam=FAIL' },
    });
    transport.close();
    const received = () =>
      cloud.events
        .recentEvents()
        .filter((e) => e['detail-type'] === 'email.received')
        .map((e) => e.detail as { tenantId: string; subject: string; sesMessageId: string; flagged: string[] })
        .filter((d) => d.subject === 'Cheap watches');
    const flagged = await eventually(async () => received().find((d) => d.tenantId === 'lenientmail'));
    expect(flagged.flagged).toEqual(['spam']);
    // Both tenants were decided in the same invocation, the rejecting one first: it got nothing.
    expect(received().map((d) => d.tenantId)).toEqual(['lenientmail']);
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
