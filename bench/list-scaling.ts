/**
 * List latency by tenant size, page by page: the first page, the next page (page 2 through the first page's cursor)
 * and a middle page (a cursor at the middle of the partition), each through the API and as the raw Query of the same
 * page (same key condition, limit and ExclusiveStartKey), interleaved. The goal is on the API's own added cost (the
 * median over rounds of API minus raw, each pair measured back to back): DynamoDB Local itself slows down deep in a large partition, and that is not the API's doing.
 */
import { performance } from 'node:perf_hooks';
import { BatchWriteCommand, QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { type ApiCall, apiClient, canonical, type Doc, type Items, latency, type RunContext } from './common.ts';
import { round } from './load.ts';
import { printTable } from './report.ts';
import {
  addedRatio,
  type ListTenantFigure,
  medianOf,
  PAGE_KINDS,
  type PageKind,
  type RunFigures,
  TENANT_KEYS,
  type TenantKey,
} from './results.ts';

const SEED_PARALLEL = 4;
const SEED_DEADLINE_MS = 180_000;
const PAGE = 25;

type Key = Record<string, unknown>;

/** Seeds `count` contacts into a tenant with BatchWriteItem (25 per call, a few calls in flight); keys in index order. */
async function seed(client: Doc, tableName: string, items: Items, tenantId: string, count: number): Promise<Key[]> {
  const keys: Key[] = [];
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
  // DynamoDB orders sort keys by their UTF-8 bytes.
  return keys.sort((a, b) => Buffer.compare(Buffer.from(String(a.gsi4sk)), Buffer.from(String(b.gsi4sk))));
}

interface Page {
  /** The API's cursor for the page (none for the first). */
  cursor?: string;
  /** The raw Query's ExclusiveStartKey for the same page. */
  startKey?: Key;
}

interface Tenant {
  key: TenantKey;
  tenantId: string;
  count: number;
  seedSeconds: number;
  call: ApiCall;
  pages: Record<PageKind, Page>;
  ms: Record<PageKind, { api: number[]; raw: number[] }>;
}

const path = (cursor?: string) => `/v1/contacts?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;

export async function sectionListScaling(
  ctx: RunContext,
  /** Points the functions at DynamoDB Local directly (after the request check through the proxy). */
  direct: () => Promise<void>,
): Promise<RunFigures['listScaling']> {
  const { cloud, items, profile, proxy, problems } = ctx;
  const rawQuery = (client: Doc, tenantId: string, startKey?: Key): Promise<QueryCommandOutput> =>
    client.send(
      new QueryCommand({
        ...items.listContactsParams(tenantId, PAGE),
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );

  const tenants: Tenant[] = [];
  for (const key of TENANT_KEYS) {
    const count = profile.tenantSizes[key];
    const tenantId = `bench-list-${key}`;
    const t0 = performance.now();
    const keys = await seed(ctx.direct, cloud.tableName, items, tenantId, count);
    const seedSeconds = round((performance.now() - t0) / 1000, 1);
    const call = apiClient(cloud.apiUrl, await cloud.token({ tenantId, roles: ['readonly'] }));
    // Page 2 as a client reaches it: through the first page's cursor (API) and LastEvaluatedKey (raw).
    const first = await call('GET', path(), 200, undefined, true);
    const firstRaw = await rawQuery(ctx.direct, tenantId);
    if (!first.nextCursor || !firstRaw.LastEvaluatedKey) throw new Error(`${tenantId}: the first page has no next`);
    const middle = keys[Math.floor(keys.length / 2)]!;
    tenants.push({
      key,
      tenantId,
      count,
      seedSeconds,
      call,
      pages: {
        first: {},
        next: { cursor: first.nextCursor, startKey: firstRaw.LastEvaluatedKey },
        // A client gets to the middle by paging; we start there directly.
        middle: { cursor: items.cursorAfter(middle), startKey: middle },
      },
      ms: { first: { api: [], raw: [] }, next: { api: [], raw: [] }, middle: { api: [], raw: [] } },
    });
  }

  // Same page: with the functions on the counting proxy, the API's Query must be the raw one, byte for byte once
  // keys are sorted, and both must return the same contacts.
  let samePage = true;
  for (const t of tenants) {
    for (const kind of PAGE_KINDS) {
      const page = t.pages[kind];
      proxy.takeSamples();
      const api = await t.call('GET', path(page.cursor), 200, undefined, true);
      const apiRequest = proxy.takeSamples().Query;
      const raw = await rawQuery(ctx.viaProxy, t.tenantId, page.startKey);
      const rawRequest = proxy.takeSamples().Query;
      const sameRequest =
        apiRequest !== undefined && JSON.stringify(canonical(apiRequest)) === JSON.stringify(canonical(rawRequest));
      const apiIds = api.items.map((c) => c.id).join(',');
      const rawIds = (raw.Items ?? []).map((c) => String(c.contactId)).join(',');
      const sameItems = api.items.length === PAGE && apiIds === rawIds;
      if (!sameRequest) {
        problems.push(
          `list ${t.key} ${kind} page: the API's Query differs from the raw one: ` +
            `${JSON.stringify(canonical(apiRequest)).slice(0, 400)} vs ${JSON.stringify(canonical(rawRequest)).slice(0, 400)}`,
        );
      }
      if (!sameItems)
        problems.push(`list ${t.key} ${kind} page: the API and the raw Query returned different contacts`);
      samePage &&= sameRequest && sameItems;
    }
  }

  await direct();
  const timed = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  const deadline = Date.now() + profile.listRounds.maxMs;
  const rounds = profile.listRounds.warmup + profile.listRounds.measured;
  let measured = 0;
  for (let r = 0; r < rounds && Date.now() < deadline; r++) {
    const keep = r >= profile.listRounds.warmup;
    if (keep) measured++;
    // Alternate which tenant goes first and, within a page, which side: neither always runs right after the other.
    for (const t of r % 2 === 0 ? tenants : [...tenants].reverse()) {
      for (const kind of PAGE_KINDS) {
        const page = t.pages[kind];
        const api = () => timed(() => t.call('GET', path(page.cursor), 200));
        const raw = () => timed(() => rawQuery(ctx.direct, t.tenantId, page.startKey));
        let apiMs: number;
        let rawMs: number;
        if (r % 2 === 0) {
          apiMs = await api();
          rawMs = await raw();
        } else {
          rawMs = await raw();
          apiMs = await api();
        }
        if (keep) {
          t.ms[kind].api.push(apiMs);
          t.ms[kind].raw.push(rawMs);
        }
      }
    }
  }
  if (measured < profile.listRounds.measured) {
    problems.push(
      `list: only ${measured} of ${profile.listRounds.measured} rounds within ${profile.listRounds.maxMs} ms`,
    );
  }

  const figures = {} as Record<TenantKey, ListTenantFigure>;
  for (const t of tenants) {
    const pages = {} as ListTenantFigure['pages'];
    for (const kind of PAGE_KINDS) {
      const api = latency(t.ms[kind].api);
      const raw = latency(t.ms[kind].raw);
      // Paired by round (the two ran back to back, under the same load on the machine), then the median.
      const added = t.ms[kind].api.map((ms, i) => ms - t.ms[kind].raw[i]!);
      pages[kind] = { api, raw, addedP50Ms: round(medianOf(added), 2) };
    }
    figures[t.key] = { contacts: t.count, seedSeconds: t.seedSeconds, pages };
  }
  const ratio = {} as Record<PageKind, number | null>;
  for (const kind of PAGE_KINDS) {
    ratio[kind] = addedRatio(figures.small.pages[kind].addedP50Ms, figures.large.pages[kind].addedP50Ms);
  }
  printTable(
    `3. GET /v1/contacts?limit=${PAGE} by page and tenant size (sequential, ${measured} rounds; API and raw Query of ` +
      'the same page; added = median of API - raw per round)',
    ['page', 'contacts', 'API p50', 'API p95', 'raw p50', 'raw p95', 'added', 'added large/small'],
    PAGE_KINDS.flatMap((kind) =>
      TENANT_KEYS.map((key) => {
        const p = figures[key].pages[kind];
        return [
          kind,
          figures[key].contacts,
          p.api.p50Ms,
          p.api.p95Ms,
          p.raw.p50Ms,
          p.raw.p95Ms,
          p.addedP50Ms,
          key === 'large' ? String(ratio[kind] ?? 'n/a') : '',
        ];
      }),
    ),
  );
  console.log(`   same pages through the API and raw: ${samePage ? 'yes' : 'NO'}`);
  return { tenants: figures, addedRatio: ratio, samePage };
}
