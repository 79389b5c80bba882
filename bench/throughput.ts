/**
 * Create / get / list through the API against the same DynamoDB request sent raw with the SDK, both straight to
 * DynamoDB Local, a fixed number in flight, in interleaved slices; plus CPU per request by thread (Linux) and the
 * HTTP floor (a request refused by validation, never reaching DynamoDB).
 */
import { performance } from 'node:perf_hooks';
import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { makeContact } from '../test/support/factories.ts';
import { type ApiCall, apiClient, type Doc, type RunContext } from './common.ts';
import { type CpuTimes, cpuDelta, cpuTimes, findDynamoPid } from './cpu.ts';
import { type LoadResult, type LoadSample, percentile, round, runLoad, runLoadSample, summarize } from './load.ts';
import { printTable } from './report.ts';
import type { CpuSplit, LoadFigure, RunFigures, ThroughputFigure, ThroughputOp } from './results.ts';

type Side = 'api' | 'raw';

/** Sums CPU deltas over slices and divides by the requests they served. */
function perRequest(deltas: Array<CpuTimes | undefined>, ops: number): CpuSplit | undefined {
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

const figure = (r: LoadResult): LoadFigure => ({
  ops: r.ops,
  errors: r.errors,
  perSecond: r.perSecond,
  p50Ms: r.p50Ms,
  p99Ms: r.p99Ms,
});

export interface ThroughputResult
  extends Pick<RunFigures, 'throughput' | 'httpNoDynamo' | 'coldFirstCallMs' | 'buildMsPerCreate'> {
  tenantId: string;
  call: ApiCall;
  /** The raw operations, to send once through the counting proxy and compare request shapes. */
  rawOpsVia: (client: Doc) => Record<string, () => Promise<unknown>>;
}

/** Runs with the functions pointed straight at DynamoDB Local, as the raw side is. */
export async function sectionThroughput(ctx: RunContext): Promise<ThroughputResult> {
  const { cloud, items, direct, profile, problems, lambdaDurations } = ctx;
  const tenantId = 'bench';
  const userId = 'bench-user';
  const call = apiClient(cloud.apiUrl, await cloud.token({ tenantId, roles: ['admin'], userId }));
  const ids: string[] = [];
  const dynamoPid = findDynamoPid();
  const warm = { concurrency: profile.concurrency, ...profile.warmup };

  // Cold starts: the first call of each operation starts the contacts function's container (reported, not timed).
  const cold = {} as Record<ThroughputOp, number>;
  const timeOnce = async (name: ThroughputOp, fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    cold[name] = round(performance.now() - t0, 1);
  };
  await timeOnce('create', async () => {
    ids.push((await call('POST', '/v1/contacts', 201, makeContact(), true)).id);
  });
  await timeOnce('get', () => call('GET', `/v1/contacts/${ids[0]}`, 200));
  await timeOnce('list', () => call('GET', '/v1/contacts?limit=25', 200));

  const apiOps: Record<ThroughputOp, () => Promise<unknown>> = {
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
  const rawOps = (client: Doc, writes: ReturnType<typeof prebuilt>): Record<ThroughputOp, () => Promise<unknown>> => {
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

  const throughput = {} as Record<ThroughputOp, ThroughputFigure>;
  let buildMsPerCreate = Number.NaN;
  for (const operation of ['create', 'get', 'list'] as const) {
    const n = operation === 'create' ? profile.run.maxOps : 0;
    const building = performance.now();
    const directWrites = prebuilt(n);
    // What the service's own item building costs (schema, phone normalisation, ElectroDB params), here in-process.
    if (n > 0) buildMsPerCreate = round((performance.now() - building) / n, 3);
    const sides = { api: apiOps[operation], raw: rawOps(direct, directWrites)[operation] };
    // Warm-up (JIT in the function and in DynamoDB Local's JVM), not counted.
    await runLoad(warm, sides.api);
    await runLoad(warm, rawOps(direct, prebuilt(operation === 'create' ? profile.warmup.maxOps : 0))[operation]);
    // Interleaved slices, rotating which side goes first: other load on the machine, and the table growing while
    // creating, weigh on both sides alike instead of on whichever ran last.
    const samples: Record<Side, LoadSample[]> = { api: [], raw: [] };
    const order: Side[] = ['api', 'raw'];
    const slice = {
      concurrency: profile.concurrency,
      maxOps: Math.ceil(profile.run.maxOps / profile.slices),
      maxMs: profile.run.maxMs / profile.slices,
    };
    const inLambdaMs: number[] = [];
    const cpu: Record<Side, Array<CpuTimes | undefined>> = { api: [], raw: [] };
    for (let k = 0; k < profile.slices; k++) {
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
    throughput[operation] = {
      api: figure(api),
      inLambdaP50Ms: percentile(
        inLambdaMs.sort((a, b) => a - b),
        50,
      ),
      raw: figure(raw),
      ratio: round(api.perSecond / raw.perSecond, 3),
      ...(cpuApi && cpuRaw ? { cpuMsPerRequest: { api: cpuApi, raw: cpuRaw } } : {}),
    };
  }

  // The floor: the same path (JWT authorizer, routing, Lambda invoke, handler, validation) with no DynamoDB call.
  const floorOp = () => call('GET', '/v1/contacts/not.an.id', 400);
  await runLoad(warm, floorOp);
  const floor = summarize([
    await runLoadSample(
      { concurrency: profile.concurrency, maxOps: profile.run.maxOps, maxMs: profile.run.maxMs / 2 },
      floorOp,
    ),
  ]);
  if (floor.errors > 0) problems.push(`no-DynamoDB floor: ${floor.errors} errors, first: ${floor.firstError}`);

  printTable(
    `1. Throughput at ${profile.concurrency} in flight (per side: ${profile.run.maxOps} ops or ` +
      `${profile.run.maxMs / 1000} s in ${profile.slices} interleaved slices)`,
    ['op', 'API req/s', 'p50 ms', 'p99 ms', 'in Lambda p50', 'raw req/s', 'p50 ms', 'p99 ms', 'API/raw'],
    (['create', 'get', 'list'] as const).map((op) => {
      const r = throughput[op];
      return [
        op,
        r.api.perSecond,
        r.api.p50Ms,
        r.api.p99Ms,
        r.inLambdaP50Ms,
        r.raw.perSecond,
        r.raw.p50Ms,
        r.raw.p99Ms,
        r.ratio,
      ];
    }),
  );
  console.log(
    `   no DynamoDB at all (GET /v1/contacts/not.an.id -> 400): ${floor.perSecond} req/s, p50 ${floor.p50Ms} ms`,
  );
  console.log(
    `   first calls (cold start included): ${JSON.stringify(cold)} ms; item building per create: ${buildMsPerCreate} ms`,
  );
  return {
    tenantId,
    call,
    throughput,
    httpNoDynamo: figure(floor),
    coldFirstCallMs: cold,
    buildMsPerCreate,
    rawOpsVia: (client) => rawOps(client, prebuilt(2)),
  };
}
