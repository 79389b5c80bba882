import { beforeAll, describe, expect, it } from 'vitest';
import { uniqueTenant } from '../../test/support/factories.ts';
import { useFreshTable } from '../../test/support/table.ts';
import type { Principal } from '../auth/principal.ts';

let backfill: typeof import('./backfill.ts');
let service: typeof import('./service.ts');
let model: typeof import('../db/store.ts').model;
let keys: typeof import('../db/keys.ts');

beforeAll(async () => {
  await useFreshTable();
  backfill = await import('./backfill.ts');
  service = await import('./service.ts');
  model = (await import('../db/store.ts')).model;
  keys = await import('../db/keys.ts');
});

const principal = (tenantId: string): Principal => ({ tenantId, userId: 'mk-1', roles: ['marketing'] }) as Principal;
const DAY = 86_400_000;

/** Contacts written as the contacts service stores them (name index keys included), `n` at a time in parallel. */
async function putContacts(tenantId: string, count: number, attributes: (i: number) => Record<string, unknown>) {
  const now = new Date().toISOString();
  const ids = Array.from({ length: count }, (_, i) => `c${String(i).padStart(5, '0')}`);
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(
      ids.slice(i, i + 50).map((contactId, j) => {
        const sortName = `name ${contactId}`;
        return model.entities.contact
          .put({
            tenantId,
            contactId,
            sortName,
            version: 1,
            createdAt: now,
            updatedAt: now,
            ...attributes(i + j),
            ...keys.contactKeys({ tenantId, contactId, sortName, updatedAt: now }),
          })
          .go();
      }),
    );
  }
  return ids;
}

/** What the state machine does: Start, then Page until done (or superseded). */
async function run(tenantId: string, segmentId: string, name: string, mode: 'backfill' | 'sweep' = 'backfill') {
  let state = await backfill.startBackfill({ tenantId, segmentId, run: name, mode });
  let pages = 0;
  while (state.decision === 'page') {
    state = await backfill.backfillPage(state);
    pages += 1;
  }
  return { decision: state.decision, pages };
}

async function memberIds(tenantId: string, segmentId: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await service.listMembers(principal(tenantId), segmentId, { limit: 100, cursor: cursor ?? undefined });
    ids.push(...page.items.map((m) => m.contactId));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

describe('segment backfill', () => {
  it('pages through every contact, resumes a page lost to a crash without counting twice, and re-evaluates on edit', async () => {
    const t = uniqueTenant('bf');
    const ids = await putContacts(t, 1100, (i) => ({
      tags: i % 3 === 0 ? ['vip'] : ['x'],
      lifecycleStage: i % 2 ? 'lead' : 'customer',
    }));
    const vips = ids.filter((_, i) => i % 3 === 0);
    const segment = await service.createSegment(principal(t), {
      kind: 'dynamic',
      name: 'VIPs',
      filter: { field: 'tags', op: 'contains', value: 'vip' },
    });

    // First page, then a crash after its member writes but before the progress write: put the progress back.
    let state = await backfill.startBackfill({ tenantId: t, segmentId: segment.id, run: 'run-1' });
    expect(state).toMatchObject({ decision: 'page', evaluation: 1 });
    const before = (await service.readSegment(t, segment.id))!.backfill;
    state = await backfill.backfillPage(state);
    const afterFirst = (await service.readSegment(t, segment.id))!;
    expect(afterFirst.backfill).toMatchObject({ status: 'running', processed: 500, phase: 'contacts' });
    expect(afterFirst.memberCount).toBe(vips.filter((id) => id < 'c00500').length);
    await model.entities.segment.patch({ tenantId: t, segmentId: segment.id }).set({ backfill: before }).go();

    // Another delivery of the creation event starts a second execution: it finds the run taken and stops.
    expect((await run(t, segment.id, 'run-duplicate')).decision).toBe('skip');
    // The local cloud re-runs the interrupted execution under its name: it resumes from the stored page.
    const resumed = await run(t, segment.id, 'run-1');
    expect(resumed).toEqual({ decision: 'done', pages: 4 });
    const done = await service.getSegment(principal(t), segment.id);
    expect(done.backfill).toMatchObject({ status: 'done', evaluation: 1, processed: 1100, matched: vips.length });
    expect(done.backfill?.finishedAt).toBeDefined();
    expect(done.memberCount).toBe(vips.length);
    expect(await memberIds(t, segment.id)).toEqual(vips);
    // A finished run re-started (a late redelivery) does nothing.
    expect(await run(t, segment.id, 'run-1')).toEqual({ decision: 'done', pages: 0 });

    // A deleted contact's membership is found in the members phase of the next evaluation.
    await model.entities.contact
      .patch({ tenantId: t, contactId: vips[0]! })
      .set({ deletedAt: new Date().toISOString() })
      .go();
    // New filter: VIP customers. The old run, if still going, is superseded.
    const edited = await service.patchSegment(principal(t), segment.id, {
      filter: {
        all: [
          { field: 'tags', op: 'contains', value: 'vip' },
          { field: 'lifecycleStage', op: 'eq', value: 'customer' },
        ],
      },
    });
    expect(edited.backfill).toMatchObject({ status: 'pending', evaluation: 2 });
    expect(
      (
        await backfill.backfillPage({
          tenantId: t,
          segmentId: segment.id,
          run: 'run-1',
          evaluation: 1,
          decision: 'page',
        })
      ).decision,
    ).toBe('skip');
    expect((await run(t, segment.id, 'run-2')).decision).toBe('done');
    const expected = ids.filter((_, i) => i % 3 === 0 && i % 2 === 0 && i !== 0);
    const refiltered = await service.getSegment(principal(t), segment.id);
    expect(refiltered.memberCount).toBe(expected.length);
    expect(refiltered.backfill).toMatchObject({ status: 'done', evaluation: 2 });
    expect(await memberIds(t, segment.id)).toEqual(expected);
    const member = await model.entities.segmentMember
      .get({ tenantId: t, segmentId: segment.id, contactId: expected[0]! })
      .go();
    expect(member.data).toMatchObject({ evaluation: 2, filterVersion: 2 });
    // 1,100 contacts written and evaluated: minutes on a loaded 2-core machine, not a failure.
  }, 300_000);

  it('sweeps lapsed time windows from the members, and lets contacts enter a negated window', async () => {
    const t = uniqueTenant('sw');
    const now = Date.now();
    const ids = await putContacts(t, 6, () => ({}));
    const opened = (contactId: string, daysAgo: number) => {
      const at = new Date(now - daysAgo * DAY).toISOString();
      return model.entities.contactEngagement.put({ tenantId: t, contactId, lastOpenedAt: at, updatedAt: at }).go();
    };
    for (const [i, id] of ids.entries()) await opened(id, i + 0.5); // opened 0.5..5.5 days ago
    const recent = await service.createSegment(principal(t), {
      kind: 'dynamic',
      name: 'Opened this week',
      filter: { field: 'engagement.opened', op: 'withinDays', value: 7 },
    });
    const lapsed = await service.createSegment(principal(t), {
      kind: 'dynamic',
      name: 'Not opened for 3 days',
      filter: { not: { field: 'engagement.opened', op: 'withinDays', value: 3 } },
    });
    // No sweep before the first backfill is done.
    expect((await run(t, recent.id, 'early-sweep', 'sweep')).decision).toBe('skip');
    await run(t, recent.id, 'b-recent');
    await run(t, lapsed.id, 'b-lapsed');
    expect((await service.getSegment(principal(t), recent.id)).memberCount).toBe(6);
    expect(await memberIds(t, lapsed.id)).toEqual(ids.slice(3));

    // Time passes for two of them (their last opens move back, as they do relative to now).
    await opened(ids[0]!, 8);
    await opened(ids[1]!, 9);
    const sweep = await run(t, recent.id, 'sweep-1', 'sweep');
    expect(sweep.decision).toBe('done');
    const swept = await service.getSegment(principal(t), recent.id);
    expect(swept.memberCount).toBe(4);
    expect(swept.backfill).toMatchObject({ status: 'done', evaluation: 2, processed: 6, matched: 4 });
    expect(await memberIds(t, recent.id)).toEqual(ids.slice(2));

    await run(t, lapsed.id, 'sweep-2', 'sweep');
    expect(await memberIds(t, lapsed.id)).toEqual([ids[0], ids[1], ids[3], ids[4], ids[5]]);
    expect((await service.getSegment(principal(t), lapsed.id)).memberCount).toBe(5);
    // A segment without time windows is never swept.
    const plain = await service.createSegment(principal(t), {
      kind: 'dynamic',
      name: 'All',
      filter: { field: 'createdAt', op: 'exists' },
    });
    await run(t, plain.id, 'b-plain');
    expect((await run(t, plain.id, 'sweep-3', 'sweep')).decision).toBe('skip');
  });
});

describe('the backfill workflow function', () => {
  it('dispatches start, page and fail as the state machine calls them, and refuses a malformed task', async () => {
    const { handler } = await import('../../functions/workflows/segment-backfill.ts');
    const call = (event: unknown) =>
      (handler as unknown as (e: unknown, c: unknown) => Promise<Record<string, unknown>>)(event, {
        awsRequestId: 'test',
        functionName: 'segment-backfill',
      });
    const t = uniqueTenant('wf');
    await putContacts(t, 3, (i) => ({ tags: i === 1 ? ['vip'] : [] }));
    const segment = await service.createSegment(principal(t), {
      kind: 'dynamic',
      name: 'VIPs',
      filter: { field: 'tags', op: 'contains', value: 'vip' },
    });
    // What EventBridge passes as the execution's input, then each task's payload: { step, run, state }.
    let state: Record<string, unknown> = { tenantId: t, segmentId: segment.id };
    state = await call({ step: 'start', run: 'exec-1', state });
    expect(state).toMatchObject({ decision: 'page', evaluation: 1 });
    while (state.decision === 'page') state = await call({ step: 'page', run: 'exec-1', state });
    expect(state.decision).toBe('done');
    expect((await service.getSegment(principal(t), segment.id)).memberCount).toBe(1);

    // A failure caught by the state machine marks the run's progress failed; a later claim may take it over.
    const edited = await service.patchSegment(principal(t), segment.id, {
      filter: { field: 'tags', op: 'exists', value: false },
    });
    state = await call({ step: 'start', run: 'exec-2', state: { tenantId: t, segmentId: segment.id } });
    await call({
      step: 'fail',
      run: 'exec-2',
      state: { ...state, error: { Error: 'Lambda.Unknown', Cause: 'boom' } },
    });
    const failed = await service.readSegment(t, segment.id);
    expect(failed?.backfill).toMatchObject({ status: 'failed', evaluation: edited.backfill?.evaluation });
    expect(failed?.backfill?.error).toContain('Lambda.Unknown: boom');
    expect((await run(t, segment.id, 'exec-3')).decision).toBe('done');
    expect((await service.getSegment(principal(t), segment.id)).memberCount).toBe(2);

    await expect(call({ step: 'jump', run: 'x', state: { tenantId: t, segmentId: segment.id } })).rejects.toThrow();
  });
});
