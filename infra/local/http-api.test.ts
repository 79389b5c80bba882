import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_AUDIENCE, FIXTURE_ORIGIN, synthFixture } from '../../test/fixtures/fixture-stack.ts';
import { LocalHttpApi, matchRoute, type RouteDef, stringifyClaim } from './http-api.ts';
import { LocalIssuer } from './issuer.ts';
import { LambdaRuntime } from './lambda-runtime.ts';
import { TemplateResolver } from './template.ts';

interface Echo {
  event: Record<string, unknown> & {
    headers: Record<string, string>;
    requestContext: Record<string, unknown> & { authorizer?: { jwt: { claims: Record<string, string> } } };
  };
  greeting: string;
  instanceId: string;
}

let runtime: LambdaRuntime;
let issuer: LocalIssuer;
let api: LocalHttpApi;
let bodyApi: LocalHttpApi;
let assemblyDir: string;
let dataDir: string;
const logs: string[] = [];

const get = (path: string, init?: RequestInit) => fetch(`${api.url}${path}`, init);
const echo = async (path: string, init?: RequestInit) => {
  const res = await get(path, init);
  expect(res.status).toBe(200);
  return (await res.json()) as Echo;
};
const token = (extra: Partial<Parameters<LocalIssuer['mint']>[0]> = {}) =>
  issuer.mint({ tenantId: 't1', userId: 'u1', roles: ['admin', 'sales'], audience: FIXTURE_AUDIENCE, ...extra });

beforeAll(async () => {
  const fixture = synthFixture();
  assemblyDir = fixture.assemblyDir;
  dataDir = mkdtempSync(join(tmpdir(), 'http-api-test-'));
  const resolver = new TemplateResolver(fixture.template);
  const log = (m: string) => logs.push(m);
  runtime = await LambdaRuntime.start({ resolver, assemblyDir, log });
  issuer = await LocalIssuer.create({ dataDir, issuerUrl: 'http://127.0.0.1/local-issuer' });
  // The fixture's two APIs: one of Route resources, one declared by its OpenAPI Body.
  const apis = resolver.resourcesOfType('AWS::ApiGatewayV2::Api');
  const apiId = (declaredByBody: boolean) => apis.find(([, r]) => Boolean(r.Properties?.Body) === declaredByBody)![0];
  api = await LocalHttpApi.start({ resolver, invoker: runtime, issuer, log, apiLogicalId: apiId(false) });
  bodyApi = await LocalHttpApi.start({ resolver, invoker: runtime, issuer, log, apiLogicalId: apiId(true) });
});

afterAll(async () => {
  await api?.stop();
  await bodyApi?.stop();
  await runtime?.stop();
  for (const dir of [assemblyDir, dataDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('route matching', () => {
  const route = (routeKey: string): RouteDef => {
    const [method, path] = routeKey.split(' ') as [string, string];
    return routeKey === '$default'
      ? { routeKey, authorizationType: 'NONE', authorizationScopes: [] }
      : { routeKey, method, segments: path.split('/').slice(1), authorizationType: 'NONE', authorizationScopes: [] };
  };
  const routes = ['GET /pets/dog/1', 'GET /pets/dog/{id}', 'ANY /pets/{proxy+}', 'GET /pets/{type}/{id}', 'GET /'];
  const pick = (list: string[], method: string, path: string) => matchRoute(list.map(route), method, path);

  it('prefers the most specific route, then the exact method, then $default', () => {
    expect(pick(routes, 'GET', '/pets/dog/1')?.route.routeKey).toBe('GET /pets/dog/1');
    expect(pick(routes, 'GET', '/pets/dog/2')).toMatchObject({
      route: { routeKey: 'GET /pets/dog/{id}' },
      pathParameters: { id: '2' },
    });
    expect(pick(routes, 'GET', '/pets/cat/1')?.route.routeKey).toBe('GET /pets/{type}/{id}');
    expect(pick(routes, 'POST', '/pets/dog/1')).toMatchObject({
      route: { routeKey: 'ANY /pets/{proxy+}' },
      pathParameters: { proxy: 'dog/1' },
    });
    expect(pick(routes, 'GET', '/')?.route.routeKey).toBe('GET /');
    expect(pick(routes, 'GET', '/pets')).toBeUndefined();
    expect(pick([...routes, '$default'], 'GET', '/pets')?.route.routeKey).toBe('$default');
    expect(pick(['ANY /a/{x}', 'GET /a/{x}'], 'GET', '/a/1')?.route.routeKey).toBe('GET /a/{x}');
    expect(pick(['ANY /a/{proxy+}', 'ANY /a/b/{proxy+}'], 'GET', '/a/b/c')?.route.routeKey).toBe('ANY /a/b/{proxy+}');
  });
});

describe('claims', () => {
  it('are strings as API Gateway passes them; arrays as "[a b]"', () => {
    expect(stringifyClaim(['admin', 'sales'])).toBe('[admin sales]');
    expect(stringifyClaim(1700000000)).toBe('1700000000');
    expect(stringifyClaim(true)).toBe('true');
    expect(stringifyClaim({ b: 1, a: ['x'] })).toBe('map[a:[x] b:1]');
  });
});

describe('LocalHttpApi', () => {
  it('routes by method and path and passes path parameters', async () => {
    const byId = await echo('/echo/123');
    expect(byId.event).toMatchObject({ routeKey: 'GET /echo/{id}', pathParameters: { id: '123' } });
    const fixed = await echo('/echo/fixed');
    expect(fixed.event.routeKey).toBe('GET /echo/fixed');
    expect(fixed.event).not.toHaveProperty('pathParameters');
    const greedy = await echo('/echo/a/b%20c', { method: 'DELETE' });
    expect(greedy.event).toMatchObject({ routeKey: 'ANY /echo/{proxy+}', pathParameters: { proxy: 'a/b c' } });
    const missing = await get('/nowhere');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ message: 'Not Found' });
  });

  it('builds the payload format 2.0 event', async () => {
    const { event } = await echo('/echo/42?a=1&a=2&b=x%20y', {
      headers: { 'x-multi': 'one', cookie: 'c1=v1; c2=v2', 'user-agent': 'vitest' },
    });
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'GET /echo/{id}',
      rawPath: '/echo/42',
      rawQueryString: 'a=1&a=2&b=x%20y',
      cookies: ['c1=v1', 'c2=v2'],
      queryStringParameters: { a: '1,2', b: 'x y' },
      pathParameters: { id: '42' },
      isBase64Encoded: false,
      stageVariables: { stageVar: 'one' },
    });
    expect(event).not.toHaveProperty('body');
    expect(event.headers['x-multi']).toBe('one');
    expect(event.headers).not.toHaveProperty('cookie');
    expect(event.headers['x-forwarded-for']).toBe('127.0.0.1');
    const rc = event.requestContext;
    expect(rc).toMatchObject({
      accountId: '000000000000',
      apiId: api.apiId,
      domainName: new URL(api.url).host,
      http: { method: 'GET', path: '/echo/42', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      routeKey: 'GET /echo/{id}',
      stage: '$default',
    });
    expect(rc).not.toHaveProperty('authorizer');
    expect(rc.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(typeof rc.timeEpoch).toBe('number');
    expect(typeof rc.requestId).toBe('string');
  });

  it('passes text bodies as text and binary bodies base64-encoded', async () => {
    const text = await echo('/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name":"Ada"}',
    });
    expect(text.event).toMatchObject({ body: '{"name":"Ada"}', isBase64Encoded: false });
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const binary = await echo('/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(binary.event).toMatchObject({ body: bytes.toString('base64'), isBase64Encoded: true });
    expect(binary.event.headers['content-length']).toBe('5');
  });

  it('maps Lambda results as API Gateway does for format 2.0', async () => {
    const bare = await get('/echo/x?mode=bare');
    expect(bare.status).toBe(200);
    expect(bare.headers.get('content-type')).toBe('application/json');
    expect(await bare.json()).toEqual({ hello: 'world' });
    const string = await get('/echo/x?mode=string');
    expect(await string.text()).toBe('"just a string"');
    const cookies = await get('/echo/x?mode=cookies');
    expect(cookies.status).toBe(201);
    expect(cookies.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect(cookies.headers.get('x-custom')).toBe('7');
    expect(await cookies.text()).toBe('ok');
    const binary = await get('/echo/x?mode=binary');
    expect(Buffer.from(await binary.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]));
    const invalid = await get('/echo/x?mode=invalid');
    expect(invalid.status).toBe(500);
    expect(await invalid.json()).toEqual({ message: 'Internal Server Error' });
    expect(bare.headers.get('apigw-requestid')).toBeTruthy();
    expect(bare.headers.get('x-amzn-requestid')).toBe(bare.headers.get('apigw-requestid'));
  });

  it('rejects missing and bad tokens with 401', async () => {
    const none = await get('/secure/1');
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ message: 'Unauthorized' });
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const garbage = await get('/secure/1', { headers: { authorization: 'Bearer not-a-jwt' } });
    expect(garbage.status).toBe(401);
    expect(garbage.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const wrongAudience = await get('/secure/1', { headers: { authorization: await token({ audience: 'other' }) } });
    expect(wrongAudience.status).toBe(401);
    const expired = await get('/secure/1', { headers: { authorization: await token({ expiresIn: -30 }) } });
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toContain('the token has expired');
    const foreign = await LocalIssuer.create({
      dataDir: join(dataDir, 'foreign'),
      issuerUrl: 'http://127.0.0.1/local-issuer',
    });
    const forged = await foreign.mint({ tenantId: 't1', roles: ['admin'], audience: FIXTURE_AUDIENCE });
    expect((await get('/secure/1', { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
  });

  it('passes JWT claims as strings, with arrays as API Gateway formats them', async () => {
    const { event } = await echo('/secure/1', { headers: { authorization: `Bearer ${await token()}` } });
    const jwt = event.requestContext.authorizer?.jwt as { claims: Record<string, string>; scopes: unknown };
    expect(jwt.claims).toMatchObject({
      sub: 'u1',
      aud: FIXTURE_AUDIENCE,
      iss: 'http://127.0.0.1/local-issuer',
      token_use: 'id',
      'custom:tenantId': 't1',
      'cognito:groups': '[admin sales]',
      email_verified: 'true',
    });
    expect(jwt.claims.exp).toMatch(/^\d+$/);
    expect(Object.values(jwt.claims).every((v) => typeof v === 'string')).toBe(true);
    expect(jwt.scopes).toBeNull();
    // A bare token (no Bearer prefix) is accepted too.
    expect((await get('/secure/1', { headers: { authorization: await token() } })).status).toBe(200);
  });

  it('enforces route authorization scopes', async () => {
    const denied = await get('/scoped', { headers: { authorization: `Bearer ${await token()}` } });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({ message: 'Forbidden' });
    const scoped = await token({ claims: { scope: 'openid crm/admin' } });
    const { event } = await echo('/scoped', { headers: { authorization: `Bearer ${scoped}` } });
    expect(event.requestContext.authorizer).toMatchObject({ jwt: { scopes: ['openid', 'crm/admin'] } });
  });

  it('answers CORS preflight from the API configuration, without auth', async () => {
    const preflight = await get('/secure/1', {
      method: 'OPTIONS',
      headers: {
        origin: FIXTURE_ORIGIN,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(Object.fromEntries(preflight.headers)).toMatchObject({
      'access-control-allow-origin': FIXTURE_ORIGIN,
      'access-control-allow-methods': 'GET,POST',
      'access-control-allow-headers': 'authorization,content-type',
      'access-control-max-age': '600',
      'access-control-allow-credentials': 'true',
    });
    const stranger = await get('/secure/1', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('adds CORS headers for allowed origins and drops the integration own ones', async () => {
    const allowed = await get('/echo/1', { headers: { origin: FIXTURE_ORIGIN } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe(FIXTURE_ORIGIN);
    expect(allowed.headers.get('access-control-expose-headers')).toBe('x-request-id');
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    const other = await get('/echo/1', { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const unauthorized = await get('/secure/1', { headers: { origin: FIXTURE_ORIGIN } });
    expect(unauthorized.headers.get('access-control-allow-origin')).toBe(FIXTURE_ORIGIN);
  });

  it('throttles a route past its burst with 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await get('/limited');
      statuses.push(res.status);
      if (res.status === 429) expect(await res.json()).toEqual({ message: 'Too Many Requests' });
      else await res.arrayBuffer();
    }
    expect(statuses[0]).toBe(200);
    expect(statuses).toContain(429);
    // Other routes have their own bucket.
    expect((await get('/echo/1')).status).toBe(200);
  });

  it('answers 500 when the function fails or times out, and the timed-out container is recycled', async () => {
    const thrown = await get('/throw');
    expect(thrown.status).toBe(500);
    expect(await thrown.json()).toEqual({ message: 'Internal Server Error' });
    const before = (await (await get('/slow?fast=1')).json()) as { instanceId: string };
    const slow = await get('/slow');
    expect(slow.status).toBe(500);
    expect(await slow.json()).toEqual({ message: 'Internal Server Error' });
    const after = (await (await get('/slow?fast=1')).json()) as { instanceId: string };
    expect(after.instanceId).not.toBe(before.instanceId);
  });

  it('runs each function with its own environment', async () => {
    expect((await echo('/echo/1')).greeting).toBe('echo-a');
    expect((await echo('/other')).greeting).toBe('echo-b');
  });

  it('refuses bodies over 10 MB with 413', async () => {
    const res = await get('/echo', { method: 'POST', body: Buffer.alloc(10 * 1024 * 1024 + 1) });
    expect(res.status).toBe(413);
  });

  it('serves the local issuer discovery document and key set (local-only routes)', async () => {
    const jwks = (await (await get('/.well-known/jwks.json')).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys[0]?.kid).toBe(issuer.keyId);
    const config = (await (await get('/.well-known/openid-configuration')).json()) as Record<string, unknown>;
    expect(config).toMatchObject({ issuer: issuer.issuerUrl, jwks_uri: `${api.url}/.well-known/jwks.json` });
  });

  it('writes an access log line per request', () => {
    expect(
      logs.some((l) => /\[apigateway\] 127\.0\.0\.1 \S+ "GET \/echo\/1 HTTP\/1\.1" 200 \d+ GET \/echo\/\{id\}/.test(l)),
    ).toBe(true);
  });
});

describe('an API declared by its OpenAPI Body', () => {
  const at = (path: string, init?: RequestInit) => fetch(`${bodyApi.url}${path}`, init);

  it('routes each operation to its integration, with path parameters', async () => {
    const res = await at('/body/7');
    expect(res.status).toBe(200);
    const { event } = (await res.json()) as Echo;
    expect(event).toMatchObject({ routeKey: 'GET /body/{id}', pathParameters: { id: '7' } });
    expect((await at('/elsewhere')).status).toBe(404);
  });

  it('puts an operation with a security requirement behind the JWT authorizer, and one without in front', async () => {
    expect((await at('/body-secure/1')).status).toBe(401);
    const authorized = await at('/body-secure/1', { headers: { authorization: `Bearer ${await token()}` } });
    expect(authorized.status).toBe(200);
    const { event } = (await authorized.json()) as Echo;
    expect(event.requestContext.authorizer?.jwt.claims['custom:tenantId']).toBe('t1');
    expect(bodyApi.jwtAudience()).toBe(FIXTURE_AUDIENCE);
  });

  it('answers CORS preflight from x-amazon-apigateway-cors', async () => {
    const res = await at('/body/1', {
      method: 'OPTIONS',
      headers: { origin: FIXTURE_ORIGIN, 'access-control-request-method': 'GET' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(FIXTURE_ORIGIN);
    expect(res.headers.get('access-control-max-age')).toBe('60');
  });
});
