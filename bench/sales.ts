/**
 * Sales (issue 6), in one tenant of the run's cloud:
 *   - convert-lead and move-stage throughput through the API, each beside the raw TransactWriteItems it amounts to.
 *     The raw side is the API's own transaction, captured by the counting proxy and replayed with fresh ids
 *     (bench/replay.ts): the same items, sizes, conditions and ConditionChecks, prebuilt before the clock starts.
 *     Interleaved slices, a fixed number in flight, as bench/throughput.ts. Each conversion creates the contact, the
 *     company and a deal; each move goes between two open stages. Every lead and deal is converted or moved once
 *     (version 1 -> 2), so both sides write alike.
 *   - the board at 10,000 deals in one pipeline: GET /v1/pipelines/{id}/board and the first stage's next page, each
 *     beside the raw reads of the same pages, sequential rounds; and with the counting proxy, the DynamoDB requests
 *     per board read (expected: the pipeline's GetItem + one Query per stage) and per next page (one Query).
 * Leads are seeded by replaying the API's own create transaction with fresh ids; deals with the deals module's key
 * builder (bench/items.ts), checked against a deal the API wrote. All seeding is BatchWriteItem straight to DynamoDB.
 */
import { performance } from 'node:perf_hooks';
import { BatchWriteItemCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import { type ApiCall, apiClient, type Doc, type RunContext, shape } from './common.ts';
import { isGuard } from './counts.ts';
import { type LoadResult, type LoadSample, percentile, round, runLoad, runLoadSample, summarize } from './load.ts';
import type { SeenRequest } from './proxy.ts';
import { replayable, replayIds, substitute, ulidsIn } from './replay.ts';
import { printTable } from './report.ts';
import type {
  BoardFigure,
  LoadFigure,
  ReadCountFigure,
  SalesFigures,
  SalesWriteFigure,
  TailLatency,
} from './results.ts';

const TENANT = 'bench-sales';
const USER = 'bench-user';
/** Deals per stage page, on the board and on the next page. */
const BOARD_LIMIT = 10;
const SEED_PARALLEL = 4;
const SEED_DEADLINE_MS = 180_000;
const STAGES = [
  { name: 'Qualify', probability: 10 },
  { name: 'Discover', probability: 25 },
  { name: 'Propose', probability: 50 },
  { name: 'Negotiate', probability: 75 },
  { name: 'Won', kind: 'won' },
  { name: 'Lost', kind: 'lost' },
];

interface Pipeline {
  id: string;
  version: number;
  stages: Array<{ id: string; name: string; probability: number; kind: 'open' | 'won' | 'lost' }>;
}
interface BoardBody {
  stages: Array<{ stage: { id: string }; deals: Array<{ id: string }>; nextCursor: string | null }>;
}
/** A seeded lead: its id and the ids (by the template lead's) its items were written with. */
interface SeededLead {
  id: string;
  ids: Map<string, string>;
}
type Wire = Record<string, unknown>;
type Key = Record<string, unknown>;

const figure = (r: LoadResult): LoadFigure => ({
  ops: r.ops,
  errors: r.errors,
  perSecond: r.perSecond,
  p50Ms: r.p50Ms,
  p99Ms: r.p99Ms,
});

function tail(values: number[]): TailLatency {
  const sorted = [...values].sort((a, b) => a - b);
  return { samples: sorted.length, p50Ms: round(percentile(sorted, 50), 2), p99Ms: round(percentile(sorted, 99), 2) };
}

function leadBody(marker: string): Record<string, unknown> {
  return {
    firstName: 'Grace',
    lastName: 'Hopper',
    emails: [`grace.${marker}@navy.example`],
    phones: ['+1 202 555 0143'],
    title: 'Rear Admiral',
    company: {
      name: 'Navy Labs',
      domain: 'navy.example',
      size: '51-200',
      industry: 'Software',
      address: { country: 'us', region: 'VA', postalCode: '22202' },
    },
    utm: { source: 'newsletter', medium: 'email', campaign: 'spring' },
    tags: ['event'],
  };
}

/** BatchWriteItem of puts, 25 per call, a few calls in flight, retrying unprocessed items. */
async function batchPut(client: Doc, tableName: string, items: Wire[], wire: boolean): Promise<void> {
  const deadline = Date.now() + SEED_DEADLINE_MS;
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      if (Date.now() > deadline) throw new Error(`sales: seeding took over ${SEED_DEADLINE_MS / 1000} s`);
      const start = next;
      next = Math.min(items.length, next + 25);
      let requests = items.slice(start, next).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt >= 10) throw new Error('sales: seeding left items unprocessed after 10 attempts');
        if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * attempt));
        const input = { RequestItems: { [tableName]: requests } };
        const { UnprocessedItems } = wire
          ? await client.send(new BatchWriteItemCommand(input as never))
          : await client.send(new BatchWriteCommand(input));
        requests = (UnprocessedItems?.[tableName] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: SEED_PARALLEL }, worker));
}

/** One API call through the counting proxy: the requests it sent (beside the guards) and its TransactWriteItems. */
async function recorded<T>(ctx: RunContext, fn: () => Promise<T>) {
  ctx.proxy.record();
  ctx.proxy.takeSamples();
  const result = await fn();
  const seen = ctx.proxy.stopRecording().filter((r) => !isGuard(r));
  const samples = ctx.proxy.takeSamples();
  return { result, seen, transaction: samples.TransactWriteItems };
}

/** Requests per read over `calls` recorded calls, against the expected operations (in any order). */
async function countReads(
  ctx: RunContext,
  calls: number,
  expected: string[],
  fn: () => Promise<unknown>,
): Promise<ReadCountFigure> {
  const perCall: SeenRequest[][] = [];
  for (let k = 0; k < calls; k++) perCall.push((await recorded(ctx, fn)).seen);
  const operations: Record<string, number> = {};
  for (const r of perCall.flat()) operations[r.operation] = (operations[r.operation] ?? 0) + 1;
  const sorted = (ops: string[]) => [...ops].sort().join(' ');
  return {
    calls,
    perCall: round(perCall.flat().length / calls, 2),
    operations: Object.fromEntries(Object.entries(operations).map(([op, c]) => [op, round(c / calls, 2)])),
    expected,
    asExpected: perCall.every((c) => sorted(c.map((r) => r.operation)) === sorted(expected)),
  };
}

/** Warm-up, then API and raw in interleaved slices (rotating which goes first), as the throughput section. */
async function compare(
  ctx: RunContext,
  name: string,
  api: () => Promise<unknown>,
  raw: () => Promise<unknown>,
): Promise<{ api: LoadResult; raw: LoadResult; inLambdaP50Ms: number }> {
  const { profile, problems, lambdaDurations } = ctx;
  const { run, warmupOps } = profile.sales;
  const warm = { concurrency: profile.concurrency, maxOps: warmupOps, maxMs: 10_000 };
  await runLoad(warm, api);
  await runLoad(warm, raw);
  const slice = {
    concurrency: profile.concurrency,
    maxOps: Math.ceil(run.maxOps / profile.slices),
    maxMs: run.maxMs / profile.slices,
  };
  const samples = { api: [] as LoadSample[], raw: [] as LoadSample[] };
  const sides = { api, raw };
  const order = ['api', 'raw'] as const;
  const inLambdaMs: number[] = [];
  for (let k = 0; k < profile.slices; k++) {
    for (const side of k % 2 === 0 ? order : [...order].reverse()) {
      lambdaDurations.length = 0;
      samples[side].push(await runLoadSample(slice, sides[side]));
      if (side === 'api') inLambdaMs.push(...lambdaDurations);
    }
  }
  const inLambdaP50Ms = percentile(
    inLambdaMs.sort((a, b) => a - b),
    50,
  );
  const result = { api: summarize(samples.api), raw: summarize(samples.raw), inLambdaP50Ms };
  for (const side of order) {
    const r = result[side] as LoadResult;
    if (r.errors > 0) problems.push(`${name} ${side}: ${r.errors} errors, first: ${r.firstError}`);
  }
  return result;
}

/** Hands out prebuilt work, one item per op; running out is an error (the pools are sized for the runs). */
function pool<T>(name: string, items: T[]): () => T {
  let next = 0;
  return () => {
    const item = items[next++];
    if (item === undefined) throw new Error(`${name}: out of prebuilt items`);
    return item;
  };
}

export async function sectionSales(
  ctx: RunContext,
  point: { direct: () => Promise<void>; proxy: () => Promise<void> },
): Promise<SalesFigures> {
  const { cloud, items, profile, problems } = ctx;
  const table = cloud.tableName;
  const call: ApiCall = apiClient(
    cloud.apiUrl,
    await cloud.token({ tenantId: TENANT, roles: ['admin'], userId: USER }),
  );
  const perSide = profile.sales.warmupOps + profile.sales.run.maxOps;
  const sendRaw = (input: Wire) => ctx.direct.send(new TransactWriteItemsCommand(input as never));

  // Everything counted or captured goes through the proxy; the timings below run with the functions on DynamoDB
  // Local directly, like the raw side.
  await point.proxy();
  const pipeline = async (name: string) =>
    (await call('POST', '/v1/pipelines', 201, { name, stages: STAGES }, true)) as unknown as Pipeline;
  const sales = await pipeline('Sales');
  const boardPipeline = await pipeline('Board');
  const keep = new Set(
    [sales, boardPipeline].flatMap((p) => [p.id, ...p.stages.map((s) => s.id)]).map((id) => id.toUpperCase()),
  );
  const [first, second] = sales.stages as [Pipeline['stages'][0], Pipeline['stages'][0]];

  // --- Convert lead -------------------------------------------------------------------------------------------
  // The template lead's create transaction, replayed with fresh ids, seeds the leads both sides convert.
  const created = await recorded(ctx, () => call('POST', '/v1/leads', 201, leadBody(ulid().toLowerCase()), true));
  const leadTemplate = replayable(created.transaction);
  const templateLeadId = created.result.id.toUpperCase();
  const leadItems: Wire[] = [];
  const leads: SeededLead[] = [];
  const t0 = performance.now();
  for (let k = 0; k < 2 * perSide + 1; k++) {
    const ids = replayIds(leadTemplate, keep);
    leads.push({ id: ids.get(templateLeadId)!, ids });
    const tx = JSON.parse(substitute(leadTemplate, ids)) as { TransactItems: Array<{ Put?: { Item: Wire } }> };
    for (const op of tx.TransactItems) if (op.Put) leadItems.push(op.Put.Item);
  }
  await batchPut(ctx.direct, table, leadItems, true);
  const leadSeedSeconds = round((performance.now() - t0) / 1000, 1);
  const convertBody = {
    deal: {
      name: 'Pilot',
      amount: 150_000,
      currency: 'EUR',
      pipelineId: sales.id,
      stageId: first.id,
      expectedCloseDate: '2027-03-31',
    },
  };
  // The conversion of one seeded lead is the template of the raw conversions: same contact, company, deal, stage
  // history, timeline links, lookups, pipeline ConditionCheck and lead put (conditioned on version 1).
  const lead0 = leads.pop()!;
  const converted = await recorded(ctx, () => call('POST', `/v1/leads/${lead0.id}/convert`, 200, convertBody, true));
  const convertTemplate = replayable(converted.transaction);
  const lead0Ids = new Map([...lead0.ids].map(([template, id]) => [id, template] as const));
  const rawConvert = (lead: SeededLead): Wire =>
    JSON.parse(
      substitute(
        convertTemplate,
        replayIds(
          convertTemplate,
          keep,
          new Map([...lead0Ids].map(([id0, template]) => [id0, lead.ids.get(template)!])),
        ),
      ),
    ) as Wire;
  if (!ulidsIn(convertTemplate).has(lead0.id.toUpperCase()))
    problems.push('convert: the lead id is not in its transaction');

  // --- Move stage -----------------------------------------------------------------------------------------------
  const moveDeals = Array.from({ length: 2 * perSide + 1 }, (_, n) =>
    items.seedDealItem(TENANT, USER, sales.id, first, n),
  );
  await batchPut(ctx.direct, table, moveDeals, false);
  const dealIds = moveDeals.map((d) => String(d.dealId));
  const deal0 = dealIds.pop()!;
  const moved = await recorded(ctx, () => call('POST', `/v1/deals/${deal0}/stage`, 200, { stageId: second.id }, true));
  const moveTemplate = replayable(moved.transaction);
  const rawMove = (dealId: string): Wire =>
    JSON.parse(
      substitute(moveTemplate, replayIds(moveTemplate, keep, new Map([[deal0.toUpperCase(), dealId]]))),
    ) as Wire;

  // A seeded deal must be what the API writes: the same attributes, of the same types, as a deal created through it.
  const apiDeal = await call(
    'POST',
    '/v1/deals',
    201,
    { name: 'Shape check', amount: 100_000, currency: 'EUR', pipelineId: sales.id, expectedCloseDate: '2027-01-01' },
    true,
  );
  const { Item: apiDealItem } = await ctx.direct.send(new GetCommand(items.getDealParams(TENANT, apiDeal.id)));
  const seededAsApi = JSON.stringify(shape(apiDealItem)) === JSON.stringify(shape(moveDeals[0]));
  if (!seededAsApi) {
    problems.push(
      `sales: a seeded deal differs from one the API wrote: ${JSON.stringify(shape(moveDeals[0]))} vs ` +
        JSON.stringify(shape(apiDealItem)),
    );
  }

  // --- Board ----------------------------------------------------------------------------------------------------
  const boardDeals = profile.sales.boardDeals;
  const b0 = performance.now();
  await batchPut(
    ctx.direct,
    table,
    Array.from({ length: boardDeals }, (_, n) =>
      items.seedDealItem(TENANT, USER, boardPipeline.id, boardPipeline.stages[n % boardPipeline.stages.length]!, n),
    ),
    false,
  );
  const boardSeedSeconds = round((performance.now() - b0) / 1000, 1);
  const boardPath = `/v1/pipelines/${boardPipeline.id}/board?limit=${BOARD_LIMIT}`;
  const stage0 = boardPipeline.stages[0]!;
  const nextPath = (cursor: string) =>
    `/v1/pipelines/${boardPipeline.id}/stages/${stage0.id}/deals?limit=${BOARD_LIMIT}&cursor=${encodeURIComponent(cursor)}`;
  const rawStage = (stageId: string, startKey?: Key) =>
    ctx.direct.send(
      new QueryCommand({
        ...items.stageDealsParams(TENANT, boardPipeline.id, stageId, BOARD_LIMIT),
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
  const rawBoard = async () => {
    const { Item } = await ctx.direct.send(new GetCommand(items.getPipelineParams(TENANT, boardPipeline.id)));
    if (!Item) throw new Error('raw board: no pipeline');
    return Promise.all((Item.stages as Array<{ id: string }>).map((s) => rawStage(s.id)));
  };
  const board = (await call('GET', boardPath, 200, undefined, true)) as unknown as BoardBody;
  const cursor = board.stages[0]?.nextCursor;
  const rawPages = await rawBoard();
  const startKey = rawPages[0]?.LastEvaluatedKey;
  if (!cursor || !startKey) throw new Error('sales: the board has no second page in its first stage');
  const idsOf = (list: Array<Record<string, unknown>> | undefined, field: string) =>
    (list ?? []).map((d) => String(d[field])).join(',');
  let sameDeals =
    board.stages.length === boardPipeline.stages.length &&
    board.stages.every(
      (s, i) => s.deals.length === BOARD_LIMIT && idsOf(s.deals, 'id') === idsOf(rawPages[i]?.Items, 'dealId'),
    );
  const next = await call('GET', nextPath(cursor), 200, undefined, true);
  const rawNext = await rawStage(stage0.id, startKey);
  sameDeals &&= next.items.length === BOARD_LIMIT && idsOf(next.items, 'id') === idsOf(rawNext.Items, 'dealId');
  if (!sameDeals) problems.push('sales board: the API and the raw Queries returned different deals');
  const calls = profile.countCalls;
  const boardRequests = await countReads(ctx, calls, ['GetItem', ...boardPipeline.stages.map(() => 'Query')], () =>
    call('GET', boardPath, 200),
  );
  const nextPageRequests = await countReads(ctx, calls, ['Query'], () => call('GET', nextPath(cursor), 200));
  for (const [name, r] of Object.entries({ board: boardRequests, 'board next page': nextPageRequests })) {
    if (!r.asExpected) {
      problems.push(`sales ${name}: expected ${r.expected.join(' + ')}, saw ${JSON.stringify(r.operations)} per call`);
    }
  }

  // --- Timed, with the functions on DynamoDB Local directly -------------------------------------------------------
  await point.direct();
  const half = (list: string[] | SeededLead[], k: number) => list.slice(k * perSide, (k + 1) * perSide);
  const apiLeads = pool('convert api', half(leads, 0) as SeededLead[]);
  const rawConverts = pool('convert raw', (half(leads, 1) as SeededLead[]).map(rawConvert));
  const convert = await compare(
    ctx,
    'convert lead',
    () => call('POST', `/v1/leads/${apiLeads().id}/convert`, 200, convertBody),
    () => sendRaw(rawConverts()),
  );
  const apiDeals = pool('move api', half(dealIds, 0) as string[]);
  const rawMoves = pool('move raw', (half(dealIds, 1) as string[]).map(rawMove));
  const move = await compare(
    ctx,
    'move stage',
    () => call('POST', `/v1/deals/${apiDeals()}/stage`, 200, { stageId: second.id }),
    () => sendRaw(rawMoves()),
  );

  const timed = async (fn: () => Promise<unknown>) => {
    const t = performance.now();
    await fn();
    return performance.now() - t;
  };
  const ms = {
    board: { api: [] as number[], raw: [] as number[] },
    next: { api: [] as number[], raw: [] as number[] },
  };
  const reads = {
    board: { api: () => call('GET', boardPath, 200), raw: rawBoard },
    next: { api: () => call('GET', nextPath(cursor), 200), raw: () => rawStage(stage0.id, startKey) },
  };
  const { warmup, measured, maxMs } = profile.sales.boardRounds;
  const deadline = Date.now() + maxMs;
  let rounds = 0;
  for (let r = 0; r < warmup + measured && Date.now() < deadline; r++) {
    const keep = r >= warmup;
    if (keep) rounds++;
    for (const kind of ['board', 'next'] as const) {
      const sides = r % 2 === 0 ? (['api', 'raw'] as const) : (['raw', 'api'] as const);
      for (const side of sides) {
        const t = await timed(reads[kind][side]);
        if (keep) ms[kind][side].push(t);
      }
    }
  }
  if (rounds < measured) problems.push(`sales board: only ${rounds} of ${measured} rounds within ${maxMs} ms`);

  const write = (
    r: { api: LoadResult; raw: LoadResult; inLambdaP50Ms: number },
    captured: typeof moved,
  ): SalesWriteFigure => {
    const tx = JSON.parse(replayable(captured.transaction)) as { TransactItems: unknown[] };
    const sent = captured.seen.find((s) => s.operation === 'TransactWriteItems');
    return {
      api: figure(r.api),
      inLambdaP50Ms: r.inLambdaP50Ms,
      raw: figure(r.raw),
      ratio: round(r.api.perSecond / r.raw.perSecond, 3),
      requests: captured.seen.map((s) => s.operation),
      transactItems: tx.TransactItems.length,
      requestBytes: sent?.bytes ?? Number.NaN,
    };
  };
  const boardFigure: BoardFigure = {
    deals: boardDeals,
    stages: boardPipeline.stages.length,
    limit: BOARD_LIMIT,
    seedSeconds: boardSeedSeconds,
    board: { api: tail(ms.board.api), raw: tail(ms.board.raw) },
    nextPage: { api: tail(ms.next.api), raw: tail(ms.next.raw) },
    boardRequests,
    nextPageRequests,
    sameDeals,
    seededAsApi,
  };
  const result: SalesFigures = {
    convertLead: write(convert, converted),
    moveStage: write(move, moved),
    board: boardFigure,
  };

  printTable(
    `7. Sales writes at ${profile.concurrency} in flight (per side: ${profile.sales.run.maxOps} ops or ` +
      `${profile.sales.run.maxMs / 1000} s in ${profile.slices} slices; raw = the API's TransactWriteItems replayed ` +
      'with fresh ids)',
    [
      'call',
      'API/s',
      'p50 ms',
      'p99 ms',
      'in Lambda p50',
      'raw/s',
      'p50 ms',
      'p99 ms',
      'API/raw',
      'items',
      'bytes',
      'requests',
    ],
    (['convertLead', 'moveStage'] as const).map((k) => {
      const w = result[k];
      return [
        k,
        w.api.perSecond,
        w.api.p50Ms,
        w.api.p99Ms,
        w.inLambdaP50Ms,
        w.raw.perSecond,
        w.raw.p50Ms,
        w.raw.p99Ms,
        w.ratio,
        w.transactItems,
        w.requestBytes,
        w.requests.join(' + '),
      ];
    }),
  );
  printTable(
    `8. Board with ${boardDeals} deals in ${boardFigure.stages} stages (${BOARD_LIMIT} per stage page; ${rounds} ` +
      `sequential rounds; seeded in ${boardSeedSeconds} s, leads in ${leadSeedSeconds} s)`,
    ['read', 'API p50', 'API p99', 'raw p50', 'raw p99', 'DynamoDB requests per read', 'as expected'],
    [
      [
        'board',
        boardFigure.board.api.p50Ms,
        boardFigure.board.api.p99Ms,
        boardFigure.board.raw.p50Ms,
        boardFigure.board.raw.p99Ms,
        JSON.stringify(boardRequests.operations),
        boardRequests.asExpected ? 'yes' : 'NO',
      ],
      [
        'next page',
        boardFigure.nextPage.api.p50Ms,
        boardFigure.nextPage.api.p99Ms,
        boardFigure.nextPage.raw.p50Ms,
        boardFigure.nextPage.raw.p99Ms,
        JSON.stringify(nextPageRequests.operations),
        nextPageRequests.asExpected ? 'yes' : 'NO',
      ],
    ],
  );
  console.log(
    `   same deals through the API and raw: ${sameDeals ? 'yes' : 'NO'}; seeded deals as the API writes them: ` +
      `${seededAsApi ? 'yes' : 'NO'}`,
  );
  return result;
}
