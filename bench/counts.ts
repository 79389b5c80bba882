/**
 * DynamoDB requests per API call: the functions point at a counting proxy, calls go one at a time (and the stream
 * pipeline is stopped), so every request the proxy sees during a call is that call's. Each call is checked against
 * the requests it is expected to send, and create/get/list against the raw request of the throughput section.
 */
import { makeContact } from '../test/support/factories.ts';
import { type ApiCall, type RunContext, shape } from './common.ts';
import { round } from './load.ts';
import type { SeenRequest } from './proxy.ts';
import { printTable } from './report.ts';
import type { RequestCountFigure } from './results.ts';

/** What each API call should send to DynamoDB, in order: the goal. */
export const EXPECTED_REQUESTS: Record<string, string[]> = {
  create: ['TransactWriteItems'],
  get: ['GetItem'],
  list: ['Query'],
  'get by email': ['Query'],
  patch: ['GetItem', 'TransactWriteItems'],
  delete: ['GetItem', 'TransactWriteItems'],
  restore: ['GetItem', 'TransactWriteItems'],
};

/**
 * Entities of the per-tenant guards and cached configuration (quota lease, settings, assignment rules: each read at
 * most once per container every 30 s): amortized over many calls, reported apart.
 */
const GUARD_ENTITIES = new Set(['quotaWindow', 'tenantSettings', 'assignmentRules']);
export const isGuard = (r: SeenRequest) => r.entities.length > 0 && r.entities.every((e) => GUARD_ENTITIES.has(e));

/** The DynamoDB operation a raw request of the throughput section sends, to compare with the API's. */
const RAW_TARGET: Record<string, string> = { create: 'TransactWriteItems', get: 'GetItem', list: 'Query' };

export async function sectionRequestCounts(
  ctx: RunContext,
  call: ApiCall,
  raw: Record<string, () => Promise<unknown>>,
): Promise<Record<string, RequestCountFigure>> {
  const { proxy, profile, problems } = ctx;
  const created: Array<{ id: string; email: string }> = [];
  const contact = (k: number) => created[k % created.length]!;
  const calls: Record<string, (k: number) => Promise<unknown>> = {
    create: async () => {
      const c = await call('POST', '/v1/contacts', 201, makeContact(), true);
      created.push({ id: c.id, email: c.emails![0]! });
    },
    get: (k) => call('GET', `/v1/contacts/${contact(k).id}`, 200),
    list: () => call('GET', '/v1/contacts?limit=25', 200),
    'get by email': async (k) => {
      const page = await call(
        'GET',
        `/v1/contacts?email=${encodeURIComponent(contact(k).email)}`,
        200,
        undefined,
        true,
      );
      if (page.items[0]?.id !== contact(k).id) throw new Error('get by email: the contact was not found by its email');
    },
    // A new tag changes the lookups too, so the write is a transaction whatever else the record carries.
    patch: (k) =>
      call('PATCH', `/v1/contacts/${contact(k).id}`, 200, { jobTitle: `Analyst ${k}`, tags: ['vip', `t${k}`] }),
    delete: (k) => call('DELETE', `/v1/contacts/${contact(k).id}`, 204),
    restore: (k) => call('POST', `/v1/contacts/${contact(k).id}/restore`, 200),
  };
  const rows: Record<string, RequestCountFigure> = {};
  for (const [operation, fn] of Object.entries(calls)) {
    const expected = EXPECTED_REQUESTS[operation]!;
    const perCall: SeenRequest[][] = [];
    let guardRequests = 0;
    for (let k = 0; k < profile.countCalls; k++) {
      proxy.record();
      await fn(k);
      const seen = proxy.stopRecording();
      guardRequests += seen.filter(isGuard).length;
      perCall.push(seen.filter((r) => !isGuard(r)));
    }
    const all = perCall.flat();
    const operations: Record<string, number> = {};
    for (const r of all) operations[r.operation] = (operations[r.operation] ?? 0) + 1;
    const counts = perCall.map((c) => c.length);
    const asExpected = perCall.every((c) => c.map((r) => r.operation).join(' ') === expected.join(' '));
    if (!asExpected) {
      const odd = perCall.find((c) => c.map((r) => r.operation).join(' ') !== expected.join(' '))!;
      problems.push(
        `${operation}: expected ${expected.join(' + ')}, a call sent ${odd.map((r) => r.operation).join(' + ') || 'nothing'}`,
      );
    }
    let sameAsRaw: boolean | undefined;
    const target = RAW_TARGET[operation];
    if (target) {
      // One more call each way, to compare the API's DynamoDB request with the raw one of the throughput section.
      proxy.takeSamples();
      await fn(0);
      const apiSample = proxy.takeSamples();
      await raw[operation]!();
      const rawSample = proxy.takeSamples();
      sameAsRaw =
        apiSample[target] !== undefined &&
        JSON.stringify(shape(apiSample[target])) === JSON.stringify(shape(rawSample[target]));
      if (!sameAsRaw) {
        problems.push(`${operation}: the API's ${target} request differs in shape from the raw one (or was not seen)`);
      }
    }
    rows[operation] = {
      expected,
      calls: profile.countCalls,
      perCall: round(all.length / profile.countCalls, 2),
      minPerCall: Math.min(...counts),
      maxPerCall: Math.max(...counts),
      operations,
      entities: [...new Set(all.flatMap((r) => r.entities))].sort(),
      asExpected,
      guardRequests,
      ...(sameAsRaw !== undefined ? { sameAsRaw } : {}),
    };
  }
  printTable(
    `2. DynamoDB requests per API call (${profile.countCalls} sequential calls each)`,
    [
      'call',
      'expected',
      'per call',
      'min',
      'max',
      'operations seen',
      'entities',
      'same as raw',
      'as expected',
      'guards (all calls)',
    ],
    Object.entries(rows).map(([op, r]) => [
      op,
      r.expected.join(' + '),
      r.perCall,
      r.minPerCall,
      r.maxPerCall,
      Object.entries(r.operations)
        .map(([name, count]) => `${name} x${count}`)
        .join(', '),
      r.entities.join('+') || '-',
      r.sameAsRaw === undefined ? '-' : r.sameAsRaw ? 'yes' : 'NO',
      r.asExpected ? 'yes' : 'NO',
      r.guardRequests ?? 0,
    ]),
  );
  return rows;
}
