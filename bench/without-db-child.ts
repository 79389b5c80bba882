/**
 * Bench only, run in its own process by without-db.ts: the API's own cost per call with the database answering
 * instantly. It imports the contacts function's deployed bundle, calls its handler in-process with API Gateway events,
 * and swaps the SDK's HTTP handler for InstantDynamoDB: every call first goes once to the real DynamoDB (Local) while
 * the responses are recorded, then the same call is replayed many times against those canned responses, so what is
 * timed is routing, auth, validation, ElectroDB, SDK serialization and signing, and JSON, never a database.
 */
import { performance } from 'node:perf_hooks';
import { HttpResponse } from '@smithy/core/protocols';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { makeContact } from '../test/support/factories.ts';

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

interface Canned {
  statusCode: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

type Handle = (typeof NodeHttpHandler.prototype)['handle'];

/**
 * A bench-only stand-in for DynamoDB at the SDK's HTTP layer (every AWS client in the process goes through it).
 * Recording passes requests on to the real endpoint and keeps each response; replaying answers each request with the
 * next recorded response at once, without a socket. Nothing else in the project uses it.
 */
class InstantDynamoDB {
  private recording: Canned[] | undefined;
  private canned: Canned[] = [];
  private next = 0;

  install(): void {
    const original: Handle = NodeHttpHandler.prototype.handle;
    const fake = this;
    NodeHttpHandler.prototype.handle = async function (this: NodeHttpHandler, request, options) {
      if (fake.recording) {
        const { response } = await original.call(this, request, options);
        const chunks: Buffer[] = [];
        for await (const chunk of response.body as AsyncIterable<Buffer>) chunks.push(chunk);
        const canned = {
          statusCode: response.statusCode,
          headers: { ...response.headers },
          body: Buffer.concat(chunks),
        };
        fake.recording.push(canned);
        return { response: new HttpResponse({ ...canned, body: new Uint8Array(canned.body) }) };
      }
      const canned = fake.canned[fake.next++];
      if (!canned) throw new Error('InstantDynamoDB: the call sent more requests than were recorded');
      // A fresh copy: the SDK adopts the body array as its own.
      return { response: new HttpResponse({ ...canned, body: new Uint8Array(canned.body) }) };
    } as Handle;
  }

  async record<T>(fn: () => Promise<T>): Promise<{ value: T; responses: Canned[] }> {
    this.recording = [];
    try {
      const value = await fn();
      return { value, responses: this.recording };
    } finally {
      this.recording = undefined;
    }
  }

  /** Arms the responses for one replayed call. */
  replay(responses: Canned[]): void {
    this.canned = responses;
    this.next = 0;
  }

  /** Every armed response was used: the replayed call sent what the recorded one did. */
  get exhausted(): boolean {
    return this.next === this.canned.length;
  }
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

  // One real call each, recorded: these are the canned responses.
  const t = config.tenantId;
  const createEvent = event(t, 'POST /v1/contacts', '/v1/contacts', { body: makeContact() });
  const created = await fake.record(() => call(createEvent, 201));
  const id = (JSON.parse(created.value.body!) as { id: string }).id;
  const getEvent = event(t, 'GET /v1/contacts/{contactId}', `/v1/contacts/${id}`, {
    pathParameters: { contactId: id },
  });
  const got = await fake.record(() => call(getEvent, 200));
  // The tenant is the throughput section's, with thousands of contacts: the recorded page is a full one.
  const listEvent = event(t, 'GET /v1/contacts', '/v1/contacts', { query: { limit: '25' } });
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
