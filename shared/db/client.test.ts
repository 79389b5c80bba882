import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSts } from '../../infra/local/sts.ts';
import { makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

/**
 * The second wall at run time: a request's DynamoDB calls are signed with credentials STS issued for its tenant's
 * session (tag tenantId), not with the function's own. A recording proxy in front of DynamoDB Local reads the access
 * key of every call's signature.
 */
const ROLE = 'arn:aws:iam::000000000000:role/ContactsTenantAccess';
const trust = {
  Statement: [
    {
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::000000000000:role/ContactsFunction' },
      Action: ['sts:AssumeRole', 'sts:TagSession'],
      Condition: { StringLike: { 'aws:RequestTag/tenantId': '?*' } },
    },
  ],
};

let sts: LocalSts;
let proxy: Server;
const signedWith: Array<{ accessKey: string; target: string }> = [];
let handler: Parameters<typeof apiClient>[0];
let client: typeof import('./client.ts');
let context: typeof import('./tenant-context.ts');

beforeAll(async () => {
  const { endpoint } = await useFreshTable();
  sts = await LocalSts.start({ roles: { [ROLE]: trust } });
  const upstream = new URL(endpoint);
  proxy = createServer((req, res) => {
    const accessKey = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '(unsigned)';
    signedWith.push({
      accessKey,
      target: String(req.headers['x-amz-target'] ?? '')
        .split('.')
        .pop()!,
    });
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  process.env.AWS_ENDPOINT_URL_DYNAMODB = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  process.env.AWS_ENDPOINT_URL_STS = sts.endpoint;
  process.env.TENANT_ROLE_ARN = ROLE;
  client = await import('./client.ts');
  context = await import('./tenant-context.ts');
  handler = (await import('../../functions/http/contacts.ts')).handler;
});

afterAll(async () => {
  delete process.env.TENANT_ROLE_ARN;
  delete process.env.AWS_ENDPOINT_URL_STS;
  proxy.closeAllConnections();
  await new Promise((resolve) => proxy.close(resolve));
  await sts.stop();
});

const keysOf = (tenantId: string) => sts.sessionsTagged('tenantId', tenantId).map((s) => s.accessKeyId);

describe('tenant-scoped credentials', () => {
  it("signs every DynamoDB call of a request with its tenant's session, assumed once per warm container", async () => {
    const acme = uniqueTenant('acme');
    const beta = uniqueTenant('beta');
    const asAcme = apiClient(handler, { tenantId: acme, roles: ['admin'], userId: 'u1' });
    const asBeta = apiClient(handler, { tenantId: beta, roles: ['admin'], userId: 'u2' });

    signedWith.length = 0;
    const created = await asAcme('POST', '/v1/contacts', { body: makeContact({ tags: ['vip'] }) });
    expect(created.status).toBe(201);
    expect((await asAcme('GET', `/v1/contacts/${created.body.id}`)).status).toBe(200);
    expect((await asAcme('GET', '/v1/contacts?tag=vip')).body.items).toHaveLength(1);
    const acmeCalls = signedWith.splice(0);
    expect(keysOf(acme)).toHaveLength(1);
    expect(acmeCalls.length).toBeGreaterThanOrEqual(3);
    expect(new Set(acmeCalls.map((c) => c.accessKey))).toEqual(new Set(keysOf(acme)));
    expect(acmeCalls.map((c) => c.target)).toEqual(expect.arrayContaining(['GetItem', 'Query']));

    expect((await asBeta('GET', `/v1/contacts/${created.body.id}`)).status).toBe(404);
    const betaCalls = signedWith.splice(0);
    expect(keysOf(beta)).toHaveLength(1);
    expect(new Set(betaCalls.map((c) => c.accessKey))).toEqual(new Set(keysOf(beta)));
    expect(keysOf(beta)[0]).not.toBe(keysOf(acme)[0]);

    const session = sts.sessionsTagged('tenantId', acme)[0]!;
    expect(session).toMatchObject({ roleArn: ROLE, roleSessionName: `tenant-${acme}`, tags: { tenantId: acme } });
    expect(session.callerAccessKeyId).toBe(process.env.AWS_ACCESS_KEY_ID);
  });

  it("uses the function's own credentials outside a tenant (stream and event consumers)", async () => {
    signedWith.length = 0;
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    await client.documentClient.send(new GetCommand({ TableName: client.tableName(), Key: { pk: 'x', sk: 'y' } }));
    expect(signedWith.map((c) => c.accessKey)).toEqual([process.env.AWS_ACCESS_KEY_ID]);
    expect(client.clientInUse()).toBe(client.documentClient);
    const scoped = await context.runAsTenant('gamma', async () => client.clientInUse());
    expect(scoped).not.toBe(client.documentClient);
  });

  it('fails the request (no fallback to the function credentials) when STS refuses', async () => {
    const before = signedWith.length;
    process.env.TENANT_ROLE_ARN = 'arn:aws:iam::000000000000:role/NotInTheTemplate';
    client.resetTenantClients();
    try {
      const res = await apiClient(handler, { tenantId: uniqueTenant('d'), roles: ['admin'] })('GET', '/v1/contacts');
      expect(res.status).toBe(500);
      expect(signedWith.length).toBe(before);
    } finally {
      process.env.TENANT_ROLE_ARN = ROLE;
      client.resetTenantClients();
    }
  });
});
