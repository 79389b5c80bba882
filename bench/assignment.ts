/**
 * The assignment fairness figure (issue 6): a team of N available members and one round-robin rule for contacts,
 * then 1,000 contact creates without an owner fired at once through the API; the figure is max - min of the
 * contacts each member got (goal 0 when N divides the count, else 1). Counted twice: from the create responses and
 * from the stored owner lists (GET /v1/contacts?ownerId=), which must agree.
 *
 * Not wired into run.ts here; call it with the cloud's API URL, an admin token of a fresh tenant, and a document
 * client on the cloud's table: the team is written through the `team` entity, as the teams API may not exist yet.
 */
import { randomUUID } from 'node:crypto';
import type { Doc } from './common.ts';

export interface AssignmentFairnessOptions {
  apiUrl: string;
  /** A bearer token with the admin role (assignment:manage, contacts:write) for `tenantId`. */
  token: string;
  tenantId: string;
  /** Where the team item is written: a document client on the cloud's DynamoDB and its table. */
  table: { client: Doc; tableName: string };
  /** Team size (default 8, which divides 1,000: the goal is then exactly 0). */
  members?: number;
  /** Contact creates fired at once (default 1,000). */
  creates?: number;
  /** Attempts per create on 429 / 5xx / network errors, each with the same Idempotency-Key (default 6). */
  attempts?: number;
}

export interface AssignmentFairness {
  members: number;
  creates: number;
  /** Creates that succeeded (after retries) and were given an owner. */
  assigned: number;
  failed: number;
  /** max - min of contacts per member, from the create responses. */
  fairness: number;
  /** The same from the stored owner lists. */
  storedFairness: number;
  /** The best possible: 0 when members divides creates, else 1. */
  ideal: number;
  perMember: Record<string, number>;
  /** Attempts that were retried, by HTTP status (or 'network'). */
  retried: Record<string, number>;
  durationMs: number;
}

async function writeTeam(options: AssignmentFairnessOptions, teamId: string, userIds: string[]): Promise<void> {
  const { createModel } = await import('../shared/db/model.ts');
  const model = createModel({ table: options.table.tableName, client: options.table.client });
  const now = new Date().toISOString();
  await model.entities.team
    .put({
      tenantId: options.tenantId,
      teamId,
      name: 'Bench team',
      sortName: 'bench team',
      members: userIds.map((userId) => ({ userId, availability: 'available' })),
      version: 1,
      createdAt: now,
      updatedAt: now,
    })
    .go();
}

const RETRYABLE = new Set([429, 500, 502, 503, 504]);

export async function measureAssignmentFairness(options: AssignmentFairnessOptions): Promise<AssignmentFairness> {
  const memberCount = options.members ?? 8;
  const creates = options.creates ?? 1_000;
  const attempts = options.attempts ?? 6;
  const headers = { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' };
  const url = (path: string) => new URL(path, options.apiUrl).toString();
  const teamId = `bench-${randomUUID().slice(0, 8)}`;
  const userIds = Array.from({ length: memberCount }, (_, i) => `bench-rep-${String(i).padStart(2, '0')}`);

  await writeTeam(options, teamId, userIds);
  const rules = [{ id: 'bench-round-robin', entities: ['contact'], teamId, method: 'roundRobin' }];
  const put = await fetch(url('/v1/assignment-rules'), { method: 'PUT', headers, body: JSON.stringify({ rules }) });
  if (put.status !== 200) throw new Error(`PUT /v1/assignment-rules: ${put.status} ${await put.text()}`);

  const retried: Record<string, number> = {};
  const retry = (why: string) => {
    retried[why] = (retried[why] ?? 0) + 1;
  };
  const createOne = async (i: number): Promise<string | undefined> => {
    const body = JSON.stringify({ firstName: 'Bench', lastName: `Fair ${i}`, emails: [`fair-${i}@bench.example`] });
    const key = `fair-${teamId}-${i}`;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const res = await fetch(url('/v1/contacts'), {
          method: 'POST',
          headers: { ...headers, 'idempotency-key': key },
          body,
        });
        if (res.status === 201 || res.status === 200) return ((await res.json()) as { ownerId?: string }).ownerId;
        if (!RETRYABLE.has(res.status)) throw new Error(`POST /v1/contacts: ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
        retry(String(res.status));
      } catch (error) {
        if (attempt === attempts || (error instanceof Error && error.message.startsWith('POST'))) throw error;
        retry('network');
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt + Math.random() * 200));
    }
    throw new Error('POST /v1/contacts: out of attempts');
  };

  const started = performance.now();
  const outcomes = await Promise.allSettled(Array.from({ length: creates }, (_, i) => createOne(i)));
  const durationMs = performance.now() - started;

  const perMember = Object.fromEntries(userIds.map((u) => [u, 0]));
  let assigned = 0;
  for (const outcome of outcomes) {
    if (outcome.status === 'fulfilled' && outcome.value !== undefined && outcome.value in perMember) {
      perMember[outcome.value]! += 1;
      assigned += 1;
    }
  }
  const spread = (counts: number[]) => Math.max(...counts) - Math.min(...counts);

  const stored: number[] = [];
  for (const userId of userIds) {
    let count = 0;
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ ownerId: userId, limit: '100', ...(cursor ? { cursor } : {}) });
      const res = await fetch(url(`/v1/contacts?${query}`), { headers });
      if (res.status !== 200) throw new Error(`GET /v1/contacts?ownerId: ${res.status} ${await res.text()}`);
      const page = (await res.json()) as { items: unknown[]; nextCursor: string | null };
      count += page.items.length;
      cursor = page.nextCursor;
    } while (cursor);
    stored.push(count);
  }

  return {
    members: memberCount,
    creates,
    assigned,
    failed: outcomes.filter((o) => o.status === 'rejected').length,
    fairness: spread(Object.values(perMember)),
    storedFairness: spread(stored),
    ideal: creates % memberCount === 0 ? 0 : 1,
    perMember,
    retried,
    durationMs: Math.round(durationMs),
  };
}
