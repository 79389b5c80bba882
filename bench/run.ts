/**
 * `npm run bench`: the CRM's performance numbers on this machine, against the local cloud (the synthesized CDK app:
 * HTTP API emulation with JWT auth, Lambda functions in worker threads, DynamoDB Local). Timing goals live here,
 * never in tests. Everything runs on 127.0.0.1, every loop is bounded by count and time, and the cloud is stopped
 * at the end, also on error or Ctrl-C. Sections:
 *   1. create / get / list contacts through the API vs the same DynamoDB request sent raw with the SDK
 *   2. DynamoDB requests per API call (a counting proxy in front of DynamoDB Local)
 *   3. list latency with 1,000 vs 50,000 contacts in the tenant
 *   4. per function: bundle size, module init time, and what fills the largest bundle
 * Prints a table per section and writes bench/results/latest.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { PROJECT_ROOT } from '../infra/constructs/crm-function.ts';
import { type LocalCloud, startLocalCloud } from '../infra/local/cloud.ts';
import { LOCAL_CREDENTIALS } from '../infra/local/dynamodb-local.ts';
import { makeContact } from '../test/support/factories.ts';
import { bundledFunctions, measureBundle, packageBreakdown } from './bundles.ts';
import { type CpuTimes, cpuDelta, cpuTimes, findDynamoPid } from './cpu.ts';
import { type LoadResult, type LoadSample, percentile, round, runLoad, runLoadSample, summarize } from './load.ts';
import { CountingProxy, type SeenRequest } from './proxy.ts';
import { printTable, verdict } from './report.ts';

const CONCURRENCY = 8;
/** Each measured run stops at whichever comes first. */
const RUN = { maxOps: 4_000, maxMs: 7_000 };
/** ...split into this many slices per side, interleaved with the other sides'. */
const SLICES = 4;
const WARMUP = { maxOps: 400, maxMs: 5_000 };
/** Sequential calls per operation when counting DynamoDB requests. */
const COUNT_CALLS = 20;
const TENANT_SIZES = { small: 1_000, large: 50_000 };
const SEED_PARALLEL = 4;
const SEED_DEADLINE_MS = 180_000;
/** List rounds per tenant: first page, 3 pages following nextCursor, 1 page from the middle of the partition. */
const LIST_ROUNDS = { warmup: 5, measured: 40, maxMs: 40_000 };
const INIT_RUNS = 5;
const BUNDLE_GOAL_BYTES = 300 * 1024;
const GOALS = {
  apiVsRaw: 0.5,
  requestsPerCall: 1,
  listP50Ratio: 1.5,
  bundleBytes: BUNDLE_GOAL_BYTES,
};
/** The whole run is cut off (and the cloud stopped) after this. */
const HARD_LIMIT_MS = 10 * 60_000;
const RESULTS_FILE = join(PROJECT_ROOT, 'bench', 'results', 'latest.json');

type Doc = DynamoDBDocumentClient;
type Items = typeof import('./items.ts');

const notes: string[] = [];
/** Function durations from the Lambda runtime's REPORT lines, collected by the cloud's log callback. */
const lambdaDurations: number[] = [];
const problems: string[] = [];

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    model: cpus[0]?.model ?? 'unknown',
    totalMemBytes: os.totalmem(),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => round(l, 2)),
  };
}

function docClient(endpoint: string, region: string): Doc {
  // The functions' client settings (shared/db/client.ts): same retries, same marshalling.
  const client = new DynamoDBClient({ endpoint, region, credentials: LOCAL_CREDENTIALS, maxAttempts: 3 });
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
}

/** The fields of API responses the benchmark reads (a created contact's id, a page). */
interface ApiBody {
  id: string;
  items: unknown[];
  nextCursor: string | null;
}

/** A JSON HTTP client for the local API with one tenant's dev token; an unexpected status throws. */
function apiClient(apiUrl: string, token: string) {
  return async (method: string, path: string, expect: number, body?: unknown, parse = false): Promise<ApiBody> => {
    const url = new URL(path, apiUrl);
    if (url.hostname !== '127.0.0.1') throw new Error(`refusing to send traffic to ${url.host}`);
    const response = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    if (response.status !== expect) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
    // Parsed only when read: the client's own work should not weigh on the server it measures.
    return (parse ? JSON.parse(text) : undefined) as ApiBody;
  };
}

/** A request body reduced to its structure (keys, types, array lengths): ids and timestamps differ, shape must not. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, shape((value as Record<string, unknown>)[k])]),
    );
  }
  return typeof value;
}

interface ThroughputRow {
  operation: string;
  api: LoadResult;
  /** The function's own duration per invoke (the runtime's REPORT line, whole ms): the rest is API and client. */
  inLambda: LatencyStats;
  raw: LoadResult;
  ratio: number;
  /** CPU ms per request by thread/process (Linux only): where each side's cost goes. */
  cpuPerRequest?: Record<Side, CpuTimes & { totalMs: number }>;
  pass: boolean;
}

type Side = 'api' | 'raw';

/** Sums CPU deltas over slices and divides by the requests they served. */
function perRequest(deltas: Array<CpuTimes | undefined>, ops: number): (CpuTimes & { totalMs: number }) | undefined {
  if (deltas.some((d) => d === undefined) || ops === 0) return undefined;
  const sum = (k: keyof CpuTimes) => round(deltas.reduce((a, d) => a + d![k], 0) / ops, 3);
  const t = {
    mainMs: sum('mainMs'),
    lambdaMs: sum('lambdaMs'),
    nodeOtherMs: sum('nodeOtherMs'),
    dynamoMs: sum('dynamoMs'),
  };
  return { ...t, totalMs: round(t.mainMs + t.lambdaMs + t.nodeOtherMs + t.dynamoMs, 3) };
}

/**
 * Section 1 runs with the functions pointed straight at DynamoDB Local, as the raw side is: the counting proxy would
 * put an extra hop (in this process) on the API side only.
 */
async function sectionThroughput(cloud: LocalCloud, items: Items, direct: Doc) {
  const tenantId = 'bench';
  const userId = 'bench-user';
  const call = apiClient(cloud.apiUrl, await cloud.token({ tenantId, roles: ['admin'], userId }));
  const ids: string[] = [];
  const dynamoPid = findDynamoPid();
  const warm = { concurrency: CONCURRENCY, ...WARMUP };

  // Cold starts: the first call of each operation starts the contacts function's container (reported, not timed).
  const cold: Record<string, number> = {};
  const timeOnce = async (name: string, fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    cold[name] = round(performance.now() - t0, 1);
  };
  await timeOnce('create', async () => {
    ids.push((await call('POST', '/v1/contacts', 201, makeContact(), true)).id);
  });
  await timeOnce('get', () => call('GET', `/v1/contacts/${ids[0]}`, 200));
  await timeOnce('list', () => call('GET', '/v1/contacts?limit=25', 200));

  const apiOps: Record<string, (i: number) => Promise<unknown>> = {
    create: async () => {
      const created = await call('POST', '/v1/contacts', 201, makeContact(), true);
      if (ids.length < 5_000) ids.push(created.id);
    },
    get: () => call('GET', `/v1/contacts/${ids[Math.floor(Math.random() * ids.length)]}`, 200),
    list: () => call('GET', '/v1/contacts?limit=25', 200),
  };
  // The raw writes are built before the clock starts, with the service's own code: raw means the request alone.
  const prebuilt = (n: number) =>
    Array.from({ length: n }, () => items.createContactWrite(tenantId, userId, makeContact()));
  const rawOps = (client: Doc, writes: ReturnType<typeof prebuilt>): Record<string, () => Promise<unknown>> => {
    let written = 0;
    return {
      create: async () => {
        const w = writes[written++];
        if (!w) throw new Error('raw create: out of prebuilt writes');
        if (w.items.length === 1) await client.send(new PutCommand(w.put));
        else await client.send(new TransactWriteCommand({ TransactItems: w.items }));
      },
      get: async () => {
        const id = ids[Math.floor(Math.random() * ids.length)]!;
        const { Item } = await client.send(new GetCommand(items.getContactParams(tenantId, id)));
        if (!Item) throw new Error('raw get: no item');
      },
      list: async () => {
        const { Items } = await client.send(new QueryCommand(items.listContactsParams(tenantId)));
        if (Items?.length !== 25) throw new Error(`raw list: ${Items?.length} items`);
      },
    };
  };

  const rows: ThroughputRow[] = [];
  let buildMsPerCreate: number | undefined;
  for (const operation of ['create', 'get', 'list'] as const) {
    const n = operation === 'create' ? RUN.maxOps : 0;
    const building = performance.now();
    const directWrites = prebuilt(n);
    // What the service's own item building costs (schema, phone normalisation, ElectroDB params), here in-process.
    if (n > 0) buildMsPerCreate = round((performance.now() - building) / n, 3);
    const sides = { api: apiOps[operation]!, raw: rawOps(direct, directWrites)[operation]! };
    // Warm-up (JIT in the function and in DynamoDB Local's JVM), not counted.
    await runLoad(warm, sides.api);
    await runLoad(warm, rawOps(direct, prebuilt(operation === 'create' ? WARMUP.maxOps : 0))[operation]!);
    // Interleaved slices, rotating which side goes first: other load on the machine, and the table growing while
    // creating, weigh on both sides alike instead of on whichever ran last.
    const samples: Record<Side, LoadSample[]> = { api: [], raw: [] };
    const order = Object.keys(sides) as Side[];
    const slice = { concurrency: CONCURRENCY, maxOps: Math.ceil(RUN.maxOps / SLICES), maxMs: RUN.maxMs / SLICES };
    const inLambdaMs: number[] = [];
    const cpu: Record<Side, Array<CpuTimes | undefined>> = { api: [], raw: [] };
    for (let k = 0; k < SLICES; k++) {
      const first = k % order.length;
      for (const side of [...order.slice(first), ...order.slice(0, first)]) {
        lambdaDurations.length = 0;
        const before = cpuTimes(dynamoPid);
        samples[side].push(await runLoadSample(slice, sides[side]));
        cpu[side].push(cpuDelta(before, cpuTimes(dynamoPid)));
        if (side === 'api') inLambdaMs.push(...lambdaDurations);
      }
    }
    const api = summarize(samples.api);
    const raw = summarize(samples.raw);
    const cpuApi = perRequest(cpu.api, api.ops);
    const cpuRaw = perRequest(cpu.raw, raw.ops);
    for (const [side, r] of Object.entries({ api, raw })) {
      if (r.errors > 0) problems.push(`${operation} ${side}: ${r.errors} errors, first: ${r.firstError}`);
    }
    const ratio = round(api.perSecond / raw.perSecond, 3);
    rows.push({
      operation,
      api,
      inLambda: stats(inLambdaMs),
      raw,
      ratio,
      ...(cpuApi && cpuRaw ? { cpuPerRequest: { api: cpuApi, raw: cpuRaw } } : {}),
      pass: ratio >= GOALS.apiVsRaw && api.errors === 0,
    });
  }

  // The floor: the same path (JWT authorizer, routing, Lambda invoke, handler, validation) with no DynamoDB call.
  const floorOp = () => call('GET', '/v1/contacts/not.an.id', 400);
  await runLoad(warm, floorOp);
  const floorBefore = cpuTimes(dynamoPid);
  const floorSample = await runLoadSample(
    { concurrency: CONCURRENCY, maxOps: RUN.maxOps, maxMs: RUN.maxMs / 2 },
    floorOp,
  );
  const floorCpu = perRequest([cpuDelta(floorBefore, cpuTimes(dynamoPid))], floorSample.latencies.length);
  const floor = { ...summarize([floorSample]), ...(floorCpu ? { cpuPerRequest: floorCpu } : {}) };
  if (floor.errors > 0) problems.push(`no-DynamoDB floor: ${floor.errors} errors, first: ${floor.firstError}`);

  printTable(
    `1. Throughput at ${CONCURRENCY} in flight (per side: ${RUN.maxOps} ops or ${RUN.maxMs / 1000} s in ${SLICES} ` +
      `interleaved slices; goal: API >= ${GOALS.apiVsRaw * 100}% of raw)`,
    ['op', 'API req/s', 'p50 ms', 'p99 ms', 'in Lambda p50', 'raw req/s', 'p50 ms', 'p99 ms', 'API/raw', 'goal'],
    rows.map((r) => [
      r.operation,
      r.api.perSecond,
      r.api.p50Ms,
      r.api.p99Ms,
      r.inLambda.p50Ms,
      r.raw.perSecond,
      r.raw.p50Ms,
      r.raw.p99Ms,
      r.ratio.toFixed(3),
      verdict(r.pass),
    ]),
  );
  console.log(
    `   no DynamoDB at all (GET /v1/contacts/not.an.id -> 400 from validation): ${floor.perSecond} req/s, ` +
      `p50 ${floor.p50Ms} ms, p99 ${floor.p99Ms} ms`,
  );
  console.log(`   first calls (cold start included): ${JSON.stringify(cold)} ms`);
  console.log(
    `   building one create's items with the service code (zod, phones, keys, ElectroDB params), in the bench ` +
      `process: ${buildMsPerCreate} ms`,
  );
  if (rows.every((r) => r.cpuPerRequest) && floor.cpuPerRequest) {
    const cpuRows: Array<Array<string | number>> = [];
    for (const r of rows) {
      for (const side of ['api', 'raw'] as const) {
        const c = r.cpuPerRequest![side];
        cpuRows.push([r.operation, side, c.mainMs, c.lambdaMs, c.nodeOtherMs, c.dynamoMs, c.totalMs]);
      }
    }
    const f = floor.cpuPerRequest;
    cpuRows.push(['no-db 400', 'api', f.mainMs, f.lambdaMs, f.nodeOtherMs, f.dynamoMs, f.totalMs]);
    printTable(
      '   CPU ms per request, both cores (where the time goes; main = bench client + API Gateway emulation)',
      ['op', 'side', 'main thread', 'Lambda worker', 'V8/libuv helpers', 'DynamoDB Local', 'total'],
      cpuRows,
    );
  }
  // Section 2 sends the same raw requests through the counting proxy, to compare them with the API's.
  const rawOpsVia = (client: Doc) => rawOps(client, prebuilt(2));
  return { tenantId, ids, cold, rows, floor, buildMsPerCreate, call, rawOpsVia };
}

interface CountRow {
  operation: string;
  /** The API's request to DynamoDB has the same shape as the raw one section 1 sent (so the ratio compares alike). */
  sameRequestShape: boolean;
  calls: number;
  requests: number;
  perCall: number;
  minPerCall: number;
  maxPerCall: number;
  operations: Record<string, number>;
  entities: string[];
  pass: boolean;
}

/** Section 2 runs with the functions pointed at the counting proxy. */
async function sectionRequestCounts(
  proxy: CountingProxy,
  call: ReturnType<typeof apiClient>,
  ids: string[],
  raw: Record<string, () => Promise<unknown>>,
) {
  const calls: Record<string, (k: number) => Promise<unknown>> = {
    create: () => call('POST', '/v1/contacts', 201, makeContact()),
    get: (k) => call('GET', `/v1/contacts/${ids[k % ids.length]}`, 200),
    list: () => call('GET', '/v1/contacts?limit=25', 200),
  };
  const rows: CountRow[] = [];
  for (const [operation, fn] of Object.entries(calls)) {
    // Sequential calls, and the stream pipeline is stopped: every request seen during a call is that call's.
    const perCall: SeenRequest[][] = [];
    for (let k = 0; k < COUNT_CALLS; k++) {
      proxy.record();
      await fn(k);
      perCall.push(proxy.stopRecording());
    }
    const all = perCall.flat();
    const operations: Record<string, number> = {};
    for (const r of all) operations[r.operation] = (operations[r.operation] ?? 0) + 1;
    const counts = perCall.map((c) => c.length);
    // One more call each way, to compare the API's DynamoDB request with the raw one of section 1.
    const target = { create: 'TransactWriteItems', get: 'GetItem', list: 'Query' }[operation]!;
    proxy.takeSamples();
    await fn(0);
    const apiSample = proxy.takeSamples();
    await raw[operation]!();
    const rawSample = proxy.takeSamples();
    const sameRequestShape =
      apiSample[target] !== undefined &&
      JSON.stringify(shape(apiSample[target])) === JSON.stringify(shape(rawSample[target]));
    if (!sameRequestShape) {
      problems.push(`${operation}: the API's ${target} request differs in shape from the raw one (or was not seen)`);
    }
    rows.push({
      operation,
      sameRequestShape,
      calls: COUNT_CALLS,
      requests: all.length,
      perCall: round(all.length / COUNT_CALLS, 2),
      minPerCall: Math.min(...counts),
      maxPerCall: Math.max(...counts),
      operations,
      entities: [...new Set(all.flatMap((r) => r.entities))].sort(),
      pass: counts.every((c) => c === GOALS.requestsPerCall),
    });
  }
  printTable(
    `2. DynamoDB requests per API call (${COUNT_CALLS} sequential calls each; goal: exactly ${GOALS.requestsPerCall})`,
    ['op', 'calls', 'requests', 'per call', 'min', 'max', 'operations seen', 'items written', 'same as raw', 'goal'],
    rows.map((r) => [
      r.operation,
      r.calls,
      r.requests,
      r.perCall,
      r.minPerCall,
      r.maxPerCall,
      Object.entries(r.operations)
        .map(([op, n]) => `${op} x${n}`)
        .join(', '),
      r.entities.join('+') || '-',
      r.sameRequestShape ? 'yes' : 'NO',
      verdict(r.pass),
    ]),
  );
  return rows;
}

/** Seeds `count` contacts into a tenant with BatchWriteItem (25 per call, a few calls in flight). */
async function seed(client: Doc, tableName: string, items: Items, tenantId: string, count: number) {
  const keys: Array<Record<string, unknown>> = [];
  const deadline = Date.now() + SEED_DEADLINE_MS;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      if (Date.now() > deadline) throw new Error(`seeding ${tenantId} took over ${SEED_DEADLINE_MS / 1000} s`);
      const start = next;
      next = Math.min(count, next + 25);
      const batch = Array.from({ length: next - start }, (_, j) => items.seedContactItem(tenantId, start + j));
      for (const item of batch) keys.push({ pk: item.pk, sk: item.sk, gsi4pk: item.gsi4pk, gsi4sk: item.gsi4sk });
      let requests = batch.map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt >= 10) throw new Error(`seeding ${tenantId}: items still unprocessed after 10 attempts`);
        if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * attempt));
        const { UnprocessedItems } = await client.send(
          new BatchWriteCommand({ RequestItems: { [tableName]: requests } }),
        );
        requests = (UnprocessedItems?.[tableName] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: SEED_PARALLEL }, worker));
  keys.sort((a, b) => String(a.gsi4sk).localeCompare(String(b.gsi4sk)));
  return keys;
}

interface LatencyStats {
  samples: number;
  p50Ms: number;
  p99Ms: number;
}

function stats(values: number[]): LatencyStats {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50Ms: round(percentile(sorted, 50), 2),
    p99Ms: round(percentile(sorted, 99), 2),
  };
}

async function sectionListScaling(cloud: LocalCloud, items: Items, direct: Doc) {
  const tenants = [
    { label: '1k', tenantId: 'bench-list-1k', count: TENANT_SIZES.small },
    { label: '50k', tenantId: 'bench-list-50k', count: TENANT_SIZES.large },
  ];
  const seeded: Array<{
    label: string;
    tenantId: string;
    count: number;
    seedSeconds: number;
    call: ReturnType<typeof apiClient>;
    middleKey: Record<string, unknown>;
    middleCursor: string;
    api: { first: number[]; next: number[]; middle: number[] };
    raw: { first: number[]; middle: number[] };
  }> = [];
  for (const t of tenants) {
    const t0 = performance.now();
    const keys = await seed(direct, cloud.tableName, items, t.tenantId, t.count);
    const seedSeconds = round((performance.now() - t0) / 1000, 1);
    seeded.push({
      ...t,
      seedSeconds,
      call: apiClient(cloud.apiUrl, await cloud.token({ tenantId: t.tenantId, roles: ['readonly'] })),
      // A page from the middle of the name order: a client gets there by paging; we start there directly.
      middleKey: keys[Math.floor(keys.length / 2)]!,
      middleCursor: items.cursorAfter(keys[Math.floor(keys.length / 2)]!),
      api: { first: [], next: [], middle: [] },
      raw: { first: [], middle: [] },
    });
  }

  const timed = async <T>(fn: () => Promise<T>) => {
    const t0 = performance.now();
    const value = await fn();
    return { ms: performance.now() - t0, value };
  };
  const page = (s: (typeof seeded)[number], cursor?: string) =>
    s.call(
      'GET',
      `/v1/contacts?limit=25${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      200,
      undefined,
      true,
    );
  const listRound = async (s: (typeof seeded)[number], keep: boolean) => {
    const first = await timed(() => page(s));
    if (first.value.items.length !== 25) throw new Error(`${s.label}: first page has ${first.value.items.length}`);
    let cursor: string | null = first.value.nextCursor;
    const next: number[] = [];
    for (let p = 0; p < 3 && cursor; p++) {
      const r = await timed(() => page(s, cursor!));
      next.push(r.ms);
      cursor = r.value.nextCursor;
    }
    const middle = await timed(() => page(s, s.middleCursor));
    if (middle.value.items.length !== 25) throw new Error(`${s.label}: middle page has ${middle.value.items.length}`);
    const raw = await timed(() => direct.send(new QueryCommand(items.listContactsParams(s.tenantId))));
    const rawMiddle = await timed(() =>
      direct.send(new QueryCommand({ ...items.listContactsParams(s.tenantId), ExclusiveStartKey: s.middleKey })),
    );
    if (keep) {
      s.api.first.push(first.ms);
      s.api.next.push(...next);
      s.api.middle.push(middle.ms);
      s.raw.first.push(raw.ms);
      s.raw.middle.push(rawMiddle.ms);
    }
  };
  const deadline = Date.now() + LIST_ROUNDS.maxMs;
  for (let r = 0; r < LIST_ROUNDS.warmup + LIST_ROUNDS.measured && Date.now() < deadline; r++) {
    // Alternate which tenant goes first, so neither always runs right after the other.
    for (const s of r % 2 === 0 ? seeded : [...seeded].reverse()) await listRound(s, r >= LIST_ROUNDS.warmup);
  }

  const result = seeded.map((s) => ({
    tenant: s.label,
    contacts: s.count,
    seedSeconds: s.seedSeconds,
    all: stats([...s.api.first, ...s.api.next, ...s.api.middle]),
    firstPage: stats(s.api.first),
    nextPages: stats(s.api.next),
    middlePage: stats(s.api.middle),
    rawQueryFirstPage: stats(s.raw.first),
    rawQueryMiddlePage: stats(s.raw.middle),
  }));
  const [small, large] = result as [(typeof result)[0], (typeof result)[0]];
  const ratioP50 = round(large.all.p50Ms / small.all.p50Ms, 3);
  const ratioP99 = round(large.all.p99Ms / small.all.p99Ms, 3);
  const pass = ratioP50 <= GOALS.listP50Ratio;
  printTable(
    `3. GET /v1/contacts?limit=25 latency by tenant size (sequential; per round: first page, 3 next pages, ` +
      `1 mid-partition page; goal: p50(50k)/p50(1k) <= ${GOALS.listP50Ratio})`,
    [
      'tenant',
      'seeded in s',
      'requests',
      'p50 ms',
      'p99 ms',
      'first p50',
      'next p50',
      'middle p50',
      'raw Query first p50',
      'raw middle p50',
    ],
    result.map((r) => [
      r.tenant,
      r.seedSeconds,
      r.all.samples,
      r.all.p50Ms,
      r.all.p99Ms,
      r.firstPage.p50Ms,
      r.nextPages.p50Ms,
      r.middlePage.p50Ms,
      r.rawQueryFirstPage.p50Ms,
      r.rawQueryMiddlePage.p50Ms,
    ]),
  );
  console.log(`   ratio 50k/1k: p50 ${ratioP50.toFixed(3)} (${verdict(pass)}), p99 ${ratioP99.toFixed(3)}`);
  return { tenants: result, ratioP50, ratioP99, pass };
}

async function sectionBundles(cloud: LocalCloud) {
  const measures = [];
  for (const fn of bundledFunctions(cloud.lambda.functions())) {
    measures.push(await measureBundle(fn, cloud.resolver.region, INIT_RUNS));
  }
  measures.sort((a, b) => b.bytes - a.bytes);
  const rows = measures.map((m) => ({ ...m, pass: m.bytes < GOALS.bundleBytes }));
  printTable(
    `4. Function bundles (index.mjs, minified, no .map; goal < ${GOALS.bundleBytes / 1024} KiB) and module init ` +
      `(median of ${INIT_RUNS} fresh node processes)`,
    ['function', 'entry', 'KiB', 'init p50 ms', 'SDK-only p50 ms', 'init runs ms', 'goal'],
    rows.map((m) => [
      m.function,
      m.entry,
      round(m.bytes / 1024, 1),
      m.initMedianMs,
      m.sdkInitMedianMs,
      m.initMs.join(' '),
      verdict(m.pass),
    ]),
  );
  console.log(
    '   SDK-only: importing just the @aws-sdk packages the bundle imports (external), in the same kind of process',
  );
  const largest = rows[0]!;
  const breakdown = await packageBreakdown(largest.entry);
  const top = breakdown.packages.slice(0, 5);
  printTable(
    `   top 5 packages in the largest bundle (${largest.entry}; esbuild metafile of a re-bundle with the same ` +
      `options: ${round(breakdown.outputBytes / 1024, 1)} KiB vs ${round(largest.bytes / 1024, 1)} KiB deployed)`,
    ['package', 'KiB', 'share'],
    top.map((p) => [p.name, round(p.bytes / 1024, 1), `${round(p.share * 100, 1)}%`]),
  );
  return {
    functions: rows,
    largest: { entry: largest.entry, ...breakdown, packages: breakdown.packages.slice(0, 15) },
  };
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const m = machine();
  const gib = round(m.totalMemBytes / 2 ** 30, 1);
  console.log(`bench: ${m.cpus} x ${m.model}, ${gib} GiB, node ${m.node}, load average ${m.loadAverage.join(' ')}`);
  // The stage throttle (100 req/s per route by default) would measure the limit, not the system: lift it to the
  // maximum the app accepts, through CDK context (CDK_CONTEXT_JSON is how the CLI passes -c values).
  const context = JSON.parse(process.env.CDK_CONTEXT_JSON ?? '{}') as Record<string, unknown>;
  process.env.CDK_CONTEXT_JSON = JSON.stringify({ ...context, throttleRateLimit: 10_000, throttleBurstLimit: 5_000 });
  notes.push('API stage throttle raised to 10,000 req/s (burst 5,000) via CDK context for the run.');

  const dataDir = await mkdtemp(join(os.tmpdir(), 'crm-bench-'));
  let cloud: LocalCloud | undefined;
  let proxy: CountingProxy | undefined;
  const clients: Doc[] = [];
  const cloudLog: string[] = [];
  let stopping: Promise<void> | undefined;
  const cleanup = () => {
    stopping ??= (async () => {
      for (const c of clients) c.destroy();
      await cloud?.stop().catch((e: Error) => console.error(`stopping the cloud failed: ${e.message}`));
      await proxy?.stop().catch(() => undefined);
      await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
    })();
    return stopping;
  };
  const interrupt = (signal: string) => {
    console.error(`\nbench: ${signal}, stopping the local cloud`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', () => interrupt('SIGINT'));
  process.once('SIGTERM', () => interrupt('SIGTERM'));
  const hardLimit = setTimeout(() => {
    console.error(`bench: over ${HARD_LIMIT_MS / 60_000} minutes, giving up`);
    void cleanup().finally(() => process.exit(1));
  }, HARD_LIMIT_MS);
  hardLimit.unref();

  try {
    const t0 = performance.now();
    cloud = await startLocalCloud({
      dataDir,
      persist: false,
      waitTimeScale: 0,
      functionDynamoEndpoint: async (real) => {
        proxy = await CountingProxy.start(real);
        return proxy.endpoint;
      },
      // Only failures are kept: the per-request REPORT and access lines would be noise.
      log: (line) => {
        const report = /\] REPORT RequestId: \S+ Duration: (\d+) ms/.exec(line);
        if (report) {
          if (lambdaDurations.length < 100_000) lambdaDurations.push(Number(report[1]));
          return;
        }
        if (cloudLog.length < 50 && /ERROR|failed|crashed|timed out|Timedout/i.test(line)) cloudLog.push(line);
      },
    });
    const startupSeconds = round((performance.now() - t0) / 1000, 1);
    console.log(`local cloud up in ${startupSeconds} s (synth + bundling + DynamoDB Local): ${cloud.apiUrl}`);
    if (!proxy) throw new Error('the functions were not pointed at the counting proxy');
    // Stream consumers (publisher, audit trail) run on their own capacity in AWS; here they would share the two
    // cores with whatever is being measured, and 51k seeded contacts would each become an event. Stop them.
    await cloud.streams.stop();
    notes.push('Stream poller stopped after start: no stream → EventBridge → audit-trail work during the run.');

    // items.ts binds the entity model to TABLE_NAME at import (see there).
    process.env.TABLE_NAME = cloud.tableName;
    const items: Items = await import('./items.ts');
    const region = cloud.resolver.region;
    const direct = docClient(cloud.dynamo.endpoint, region);
    const viaProxy = docClient(proxy.endpoint, region);
    clients.push(direct, viaProxy);

    // Throughput with the functions talking to DynamoDB Local directly, like the raw side; counting through the proxy.
    await cloud.lambda.updateEnvironment({ AWS_ENDPOINT_URL_DYNAMODB: cloud.dynamo.endpoint });
    const throughput = await sectionThroughput(cloud, items, direct);
    await cloud.lambda.updateEnvironment({ AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint });
    const requestCounts = await sectionRequestCounts(
      proxy,
      throughput.call,
      throughput.ids,
      throughput.rawOpsVia(viaProxy),
    );
    const listScaling = await sectionListScaling(cloud, items, direct);
    const bundles = await sectionBundles(cloud);

    if (cloudLog.length > 0) problems.push(...cloudLog.map((l) => `cloud log: ${l}`));
    const finishedAt = new Date();
    const results = {
      timestamp: finishedAt.toISOString(),
      durationSeconds: round((finishedAt.getTime() - startedAt.getTime()) / 1000, 1),
      machine: { ...m, loadAverageAtEnd: machine().loadAverage },
      config: {
        concurrency: CONCURRENCY,
        run: RUN,
        slices: SLICES,
        warmup: WARMUP,
        countCalls: COUNT_CALLS,
        tenantSizes: TENANT_SIZES,
        listRounds: LIST_ROUNDS,
        initRuns: INIT_RUNS,
      },
      goals: GOALS,
      startupSeconds,
      throughput: {
        coldFirstCallMs: throughput.cold,
        operations: throughput.rows,
        apiWithoutDynamo: throughput.floor,
        buildMsPerCreate: throughput.buildMsPerCreate,
      },
      dynamoRequestsPerCall: requestCounts,
      listScaling,
      bundles,
      notes,
      problems,
    };
    await mkdir(join(PROJECT_ROOT, 'bench', 'results'), { recursive: true });
    await writeFile(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);

    const verdicts = [
      ...throughput.rows.map((r) => r.pass),
      ...requestCounts.map((r) => r.pass),
      listScaling.pass,
      ...bundles.functions.map((f) => f.pass),
    ];
    const passed = verdicts.filter(Boolean).length;
    console.log(`\ngoals met: ${passed}/${verdicts.length}`);
    for (const n of notes) console.log(`note: ${n}`);
    for (const p of problems) console.log(`problem: ${p}`);
    console.log(`wrote ${RESULTS_FILE} (${results.durationSeconds} s)`);
    return 0;
  } catch (error) {
    console.error('bench failed:', error);
    for (const line of cloudLog) console.error(line);
    return 1;
  } finally {
    await cleanup();
  }
}

// Exit explicitly: a stray keep-alive socket must not keep a finished benchmark running.
process.exit(await main());
