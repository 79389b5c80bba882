/**
 * Bench only, run in its own process by without-db.ts: the API's own cost per call with the database answering
 * instantly. It imports the contacts function's deployed bundle, calls its handler in-process with API Gateway events,
 * and swaps the SDK's HTTP handler for InstantDynamoDB: every call first goes once to the real DynamoDB (Local) while
 * the responses are recorded, then the same call is replayed many times against those canned responses, so what is
 * timed is routing, auth, validation, ElectroDB, SDK serialization and signing, and JSON, never a database.
 */
import { performance } from 'node:perf_hooks';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { makeContact } from '../test/support/factories.ts';
import { InstantDynamoDB } from './instant-dynamodb.ts';

export interface ChildConfig {
  bundleUrl: string;
  tenantId: string;
  warmupCalls: number;
  rounds: number;
  batch: number;
}

export interface ChildResult {
  ops: Record<string, { calls: number; wallUs: number[]; cpuUs: number; requestsPerCall: number }>;
}

const context = {
  awsRequestId: 'bench',
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'bench',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:bench',
  memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '1024',
  logGroupName: '/aws/lambda/bench',
  logStreamName: 'bench',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 10_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
} as Context;

/** An HTTP API (payload 2.0) event as the JWT authorizer passes it, for one route of the contacts function. */
function event(
  tenantId: string,
  routeKey: string,
  path: string,
  extra: { pathParameters?: Record<string, string>; query?: Record<string, string>; body?: unknown },
): APIGatewayProxyEventV2WithJWTAuthorizer {
  const [method] = routeKey.split(' ') as [string];
  const rawQueryString = new URLSearchParams(extra.query ?? {}).toString();
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString,
    headers: { 'content-type': 'application/json', host: '127.0.0.1' },
    ...(extra.query ? { queryStringParameters: extra.query } : {}),
    ...(extra.pathParameters ? { pathParameters: extra.pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'bench',
      domainName: '127.0.0.1',
      domainPrefix: '127',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId: 'bench-request',
      routeKey,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
      authorizer: {
        principalId: '',
        integrationLatency: 0,
        jwt: {
          claims: { sub: 'bench-user', 'custom:tenantId': tenantId, 'cognito:groups': '[admin]' },
          scopes: [],
        },
      },
    },
    isBase64Encoded: false,
    ...(extra.body !== undefined ? { body: JSON.stringify(extra.body) } : {}),
  } as unknown as APIGatewayProxyEventV2WithJWTAuthorizer;
}

async function main(config: ChildConfig): Promise<ChildResult> {
  const fake = new InstantDynamoDB();
  fake.install();
  const { handler } = (await import(config.bundleUrl)) as {
    handler: (e: APIGatewayProxyEventV2WithJWTAuthorizer, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;
  };
  const call = async (e: APIGatewayProxyEventV2WithJWTAuthorizer, expect: number) => {
    const result = await handler(e, context);
    if (result.statusCode !== expect)
      throw new Error(`${e.routeKey}: ${result.statusCode} ${result.body?.slice(0, 300)}`);
    return result;
  };

  const t = config.tenantId;
  const createEvent = event(t, 'POST /v1/contacts', '/v1/contacts', { body: makeContact() });
  // A real call first, its responses dropped: what a warm container has cached (credentials, say) is not fetched
  // again, so it must not be in the recording either.
  const primed = await fake.record(() => call(createEvent, 201));
  const id = (JSON.parse(primed.value.body!) as { id: string }).id;
  const getEvent = event(t, 'GET /v1/contacts/{contactId}', `/v1/contacts/${id}`, {
    pathParameters: { contactId: id },
  });
  // The tenant is the throughput section's, with thousands of contacts: the page is a full one.
  const listEvent = event(t, 'GET /v1/contacts', '/v1/contacts', { query: { limit: '25' } });
  await fake.record(() => call(getEvent, 200));
  await fake.record(() => call(listEvent, 200));
  // Then one real call each, recorded: these are the canned responses.
  const created = await fake.record(() => call(createEvent, 201));
  const got = await fake.record(() => call(getEvent, 200));
  const listed = await fake.record(() => call(listEvent, 200));
  const items = (JSON.parse(listed.value.body!) as { items: unknown[] }).items.length;
  if (items === 0) throw new Error('list: the recorded page is empty');

  const ops = {
    create: { event: createEvent, expect: 201, responses: created.responses },
    get: { event: getEvent, expect: 200, responses: got.responses },
    list: { event: listEvent, expect: 200, responses: listed.responses },
  };
  const replayed = async (op: (typeof ops)[keyof typeof ops]) => {
    fake.replay(op.responses);
    await call(op.event, op.expect);
    if (!fake.exhausted) throw new Error(`${op.event.routeKey}: the replayed call sent fewer requests than recorded`);
  };
  const names = Object.keys(ops) as Array<keyof typeof ops>;
  for (let i = 0; i < config.warmupCalls; i++) for (const name of names) await replayed(ops[name]);

  const result: ChildResult = { ops: {} };
  for (const name of names) {
    result.ops[name] = { calls: 0, wallUs: [], cpuUs: 0, requestsPerCall: ops[name].responses.length };
  }
  for (let r = 0; r < config.rounds; r++) {
    // Rotate the order, so no operation always follows the same one.
    for (const name of [...names.slice(r % names.length), ...names.slice(0, r % names.length)]) {
      const out = result.ops[name]!;
      const cpu = process.cpuUsage();
      for (let i = 0; i < config.batch; i++) {
        const t0 = performance.now();
        await replayed(ops[name]);
        out.wallUs.push((performance.now() - t0) * 1000);
      }
      const used = process.cpuUsage(cpu);
      out.cpuUs += used.user + used.system;
      out.calls += config.batch;
    }
  }
  return result;
}

const config = JSON.parse(process.env.BENCH_WITHOUT_DB ?? 'null') as ChildConfig | null;
if (!config || !process.send) throw new Error('without-db-child.ts is started by bench/without-db.ts');
main(config).then(
  (result) => process.send!({ result }, () => process.exit(0)),
  (error: Error) => process.send!({ error: error.stack ?? error.message }, () => process.exit(1)),
);
