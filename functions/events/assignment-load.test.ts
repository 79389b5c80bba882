import type { Context, EventBridgeEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CatalogEvent, catalogEvent } from '../../events/catalog.ts';
import { boundRecordChange } from '../../shared/events/bounds.ts';
import { isClaimCheck } from '../../shared/events/claim-check.ts';
import { uniqueTenant } from '../../test/support/factories.ts';
import { startLocalClaimChecks } from '../../test/support/local-claim-checks.ts';
import { useFreshTable } from '../../test/support/table.ts';

/** The assignment-load consumer against DynamoDB Local and the local S3 (claim-checked records are read back). */

let claimChecks: Awaited<ReturnType<typeof startLocalClaimChecks>>;
let handler: (event: EventBridgeEvent<string, unknown>, context: Context) => Promise<void>;
let openLoad: typeof import('../../shared/assignment/service.ts').openLoad;
const context = {
  functionName: 'assignment-load',
  awsRequestId: 'r',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

beforeAll(async () => {
  await useFreshTable('assignment-load');
  claimChecks = await startLocalClaimChecks();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_S3: claimChecks.endpoint,
    CLAIM_CHECK_BUCKET: claimChecks.bucket,
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  ({ handler } = (await import('./assignment-load.ts')) as unknown as { handler: typeof handler });
  ({ openLoad } = await import('../../shared/assignment/service.ts'));
});

afterAll(async () => {
  await claimChecks?.stop();
});

type Action = 'created' | 'updated' | 'deleted' | 'restored';

function changeOf(
  entity: 'contact' | 'lead' | 'deal' | 'ticket',
  tenantId: string,
  action: Action,
  entityId: string,
  version: number,
  record: Record<string, unknown>,
  changes: Record<string, { old?: unknown; new?: unknown }> = {},
): CatalogEvent {
  // The detail's entity matches its detail-type; the catalog's per-type typing cannot see that through a template.
  return catalogEvent(`${entity}.${action}` as 'contact.created', {
    schemaVersion: 2,
    tenantId,
    entity: entity as 'contact',
    entityId,
    version,
    occurredAt: '2026-01-01T10:00:00.000Z',
    changes,
    record: { id: entityId, version, ...record },
  });
}

const change = (...args: Parameters<typeof changeOf> extends [unknown, ...infer R] ? R : never) =>
  changeOf('contact', ...args);

const deliver = (event: CatalogEvent) =>
  handler(
    {
      version: '0',
      id: 'evt',
      'detail-type': event.detailType,
      source: event.source,
      account: '000000000000',
      time: '2026-01-01T10:00:00.000Z',
      region: 'us-east-1',
      resources: [],
      detail: JSON.parse(JSON.stringify(event.detail)),
    } as EventBridgeEvent<string, unknown>,
    context,
  );

describe('open loads follow record changes', () => {
  it('counts creates with an owner a person chose, reassignments, deletions and restores, each exactly once', async () => {
    const t = uniqueTenant('load');
    const loads = async () => [await openLoad(t, 'u1'), await openLoad(t, 'u2')];
    const created = change(t, 'created', 'c1', 1, { ownerId: 'u1' }, { ownerId: { new: 'u1' } });
    await deliver(created);
    await deliver(created); // EventBridge delivers at least once
    expect(await loads()).toEqual([1, 0]);
    // An owner an assignment rule chose was counted by the chooser already.
    await deliver(change(t, 'created', 'c2', 1, { ownerId: 'u2', assignedByRule: 'all' }));
    expect(await loads()).toEqual([1, 0]);
    const reassigned = change(t, 'updated', 'c1', 2, { ownerId: 'u2' }, { ownerId: { old: 'u1', new: 'u2' } });
    await deliver(reassigned);
    await deliver(reassigned);
    expect(await loads()).toEqual([0, 1]);
    await deliver(change(t, 'updated', 'c1', 3, { ownerId: 'u2', jobTitle: 'CTO' }, { jobTitle: { new: 'CTO' } }));
    expect(await loads()).toEqual([0, 1]);
    await deliver(change(t, 'deleted', 'c1', 4, { ownerId: 'u2', deletedAt: '2026-01-01T11:00:00.000Z' }));
    expect(await loads()).toEqual([0, 0]);
    await deliver(change(t, 'restored', 'c1', 5, { ownerId: 'u2' }));
    expect(await loads()).toEqual([0, 1]);
    await deliver(change(t, 'updated', 'c1', 6, {}, { ownerId: { old: 'u2' } }));
    expect(await loads()).toEqual([0, 0]);
  });

  it('counts a lead until it is converted or disqualified, and a deal while it is open', async () => {
    const t = uniqueTenant('load');
    const load = () => openLoad(t, 'u1');
    await deliver(changeOf('lead', t, 'created', 'l1', 1, { ownerId: 'u1', status: 'new' }));
    await deliver(changeOf('deal', t, 'created', 'd1', 1, { ownerId: 'u1', status: 'open' }));
    expect(await load()).toBe(2);
    await deliver(
      changeOf(
        'lead',
        t,
        'updated',
        'l1',
        2,
        { ownerId: 'u1', status: 'working' },
        { status: { old: 'new', new: 'working' } },
      ),
    );
    expect(await load()).toBe(2);
    await deliver(
      changeOf(
        'lead',
        t,
        'updated',
        'l1',
        3,
        { ownerId: 'u1', status: 'converted' },
        { status: { old: 'working', new: 'converted' } },
      ),
    );
    expect(await load()).toBe(1);
    const won = changeOf(
      'deal',
      t,
      'updated',
      'd1',
      2,
      { ownerId: 'u1', status: 'won' },
      { status: { old: 'open', new: 'won' } },
    );
    await deliver(won);
    await deliver(won);
    expect(await load()).toBe(0);
    // Reopened and handed to someone else in one change; deleting a closed deal changes nothing.
    await deliver(
      changeOf(
        'deal',
        t,
        'updated',
        'd1',
        3,
        { ownerId: 'u2', status: 'open' },
        { status: { old: 'won', new: 'open' }, ownerId: { old: 'u1', new: 'u2' } },
      ),
    );
    expect([await load(), await openLoad(t, 'u2')]).toEqual([0, 1]);
    await deliver(changeOf('lead', t, 'deleted', 'l1', 4, { ownerId: 'u1', status: 'converted' }));
    expect(await load()).toBe(0);
    // A rule counted a deal it assigned; created closed, that count is taken back.
    await deliver(changeOf('deal', t, 'created', 'd2', 1, { ownerId: 'u1', status: 'won', assignedByRule: 'r' }));
    expect(await load()).toBe(-1);
  });

  it("counts a ticket on its assignee's ticket load while unresolved, and not twice when the routing workflow assigned it", async () => {
    const t = uniqueTenant('load');
    const tickets = async () => [await openLoad(t, 'a1', 'tickets'), await openLoad(t, 'a2', 'tickets')];
    // Created with an assignee by a person: +1 on the ticket load, nothing on the records load.
    const created = changeOf('ticket', t, 'created', 't1', 1, { assigneeId: 'a1', status: 'open' });
    await deliver(created);
    await deliver(created);
    expect(await tickets()).toEqual([1, 0]);
    expect(await openLoad(t, 'a1')).toBe(0);
    // Pending and on hold still count; solved leaves the load; a reopen counts again.
    const step = (version: number, status: string, from: string) =>
      changeOf(
        'ticket',
        t,
        'updated',
        't1',
        version,
        { assigneeId: 'a1', status },
        { status: { old: from, new: status } },
      );
    await deliver(step(2, 'pending', 'open'));
    await deliver(step(3, 'on_hold', 'pending'));
    expect(await tickets()).toEqual([1, 0]);
    await deliver(step(4, 'solved', 'on_hold'));
    expect(await tickets()).toEqual([0, 0]);
    await deliver(step(5, 'open', 'solved'));
    expect(await tickets()).toEqual([1, 0]);
    // Routed by the workflow: its chooser added a2's load already, so the update adds nothing to a2.
    await deliver(changeOf('ticket', t, 'created', 't2', 1, { status: 'new' }));
    const routed = changeOf(
      'ticket',
      t,
      'updated',
      't2',
      2,
      { status: 'new', assigneeId: 'a2', routing: { status: 'routed', assigneeId: 'a2' } },
      { assigneeId: { new: 'a2' }, routing: { new: { status: 'routed', assigneeId: 'a2' } } },
    );
    await deliver(routed);
    expect(await tickets()).toEqual([1, 0]);
    // A later reassignment by a person moves it like any other.
    await deliver(
      changeOf(
        'ticket',
        t,
        'updated',
        't2',
        3,
        { status: 'new', assigneeId: 'a1' },
        { assigneeId: { old: 'a2', new: 'a1' } },
      ),
    );
    expect(await tickets()).toEqual([2, -1]);
    await deliver(changeOf('ticket', t, 'deleted', 't1', 6, { assigneeId: 'a1', status: 'open' }));
    expect(await tickets()).toEqual([1, -1]);
  });

  it('reads a claim-checked record back to find its owner', async () => {
    const t = uniqueTenant('load');
    const big = change(t, 'deleted', 'c9', 7, {
      ownerId: 'u9',
      customFields: { notes: 'x'.repeat(60_000) },
      deletedAt: '2026-01-01T11:00:00.000Z',
    });
    const bounded = await boundRecordChange(big, claimChecks.store);
    expect(isClaimCheck((bounded.detail as { record: unknown }).record)).toBe(true);
    await deliver(bounded);
    expect(await openLoad(t, 'u9')).toBe(-1);
  });

  it("changes only the event's tenant's counters", async () => {
    const a = uniqueTenant('load-a');
    const b = uniqueTenant('load-b');
    await deliver(change(a, 'created', 'c1', 1, { ownerId: 'shared-id' }));
    expect(await openLoad(a, 'shared-id')).toBe(1);
    expect(await openLoad(b, 'shared-id')).toBe(0);
  });

  it('refuses an event off the catalog schema (it goes to the failure queue)', async () => {
    await expect(
      handler(
        { 'detail-type': 'contact.created', source: 'crm.contacts', detail: { tenantId: 'x' } } as EventBridgeEvent<
          string,
          unknown
        >,
        context,
      ),
    ).rejects.toThrow();
  });
});
