import type { Context, EventBridgeEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CatalogEvent, catalogEvent } from '../../events/catalog.ts';
import type { Principal } from '../../shared/auth/principal.ts';
import { boundRecordChange } from '../../shared/events/bounds.ts';
import { isClaimCheck, resolveClaimCheck } from '../../shared/events/claim-check.ts';
import { startLocalClaimChecks } from '../../test/support/local-claim-checks.ts';
import { useFreshTable } from '../../test/support/table.ts';

/** The audit-trail handler against DynamoDB Local and the local S3: claim checks are stored and read for real. */

let claimChecks: Awaited<ReturnType<typeof startLocalClaimChecks>>;
let handler: (event: EventBridgeEvent<string, unknown>, context: Context) => Promise<void>;
let history: typeof import('../../shared/audit/service.ts').history;

const principal = { tenantId: 'acme', userId: 'alice', roles: ['admin'] } as unknown as Principal;
const context = {
  functionName: 'audit-trail',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

beforeAll(async () => {
  await useFreshTable('audit-trail');
  claimChecks = await startLocalClaimChecks();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_S3: claimChecks.endpoint,
    CLAIM_CHECK_BUCKET: claimChecks.bucket,
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  ({ handler } = (await import('./audit-trail.ts')) as unknown as { handler: typeof handler });
  ({ history } = await import('../../shared/audit/service.ts'));
});

afterAll(async () => {
  await claimChecks?.stop();
});

const T0 = '2026-01-01T10:00:00.000Z';

function changeEvent(
  entityId: string,
  version: number,
  changes: Record<string, { old?: unknown; new?: unknown }>,
  record: Record<string, unknown> = { id: entityId, version },
): CatalogEvent {
  return catalogEvent(version === 1 ? 'contact.created' : 'contact.updated', {
    schemaVersion: 2,
    tenantId: 'acme',
    entity: 'contact',
    entityId,
    version,
    occurredAt: T0,
    actorId: 'alice',
    changes,
    record,
  });
}

const delivered = (event: CatalogEvent): EventBridgeEvent<string, unknown> =>
  ({
    version: '0',
    id: 'evt-1',
    'detail-type': event.detailType,
    source: event.source,
    account: '000000000000',
    time: T0,
    region: 'us-east-1',
    resources: [],
    detail: JSON.parse(JSON.stringify(event.detail)),
  }) as EventBridgeEvent<string, unknown>;

const historyOf = async (id: string) => (await history(principal, 'contact', id, { limit: 10 })).items;

describe('the audit trail with claim checks', () => {
  it('writes full old and new values into the history when the event carried claim checks', async () => {
    const old = { bio: 'o'.repeat(150_000) };
    const next = { bio: 'n'.repeat(150_000) };
    const event = await boundRecordChange(
      changeEvent('01AUDIT1', 2, { customFields: { old, new: next }, jobTitle: { old: 'A', new: 'B' } }),
      claimChecks.store,
    );
    const detail = event.detail as { changes: Record<string, { new?: unknown }> };
    expect(isClaimCheck(detail.changes.customFields!.new)).toBe(true);

    await handler(delivered(event), context);
    // A redelivery (EventBridge is at least once) rewrites the same entry.
    await handler(delivered(event), context);

    const items = await historyOf('01AUDIT1');
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ version: 2, action: 'updated', actorId: 'alice' });
    expect(items[0]!.changes).toEqual({ customFields: { old, new: next }, jobTitle: { old: 'A', new: 'B' } });
  });

  it('keeps the largest values as references when the entry would pass the 400 KB item limit', async () => {
    const values = Object.fromEntries(
      ['a', 'b', 'c'].map((f, i) => [f, { old: f.repeat(100_000 + i), new: f.toUpperCase().repeat(100_000 + i) }]),
    );
    const event = await boundRecordChange(changeEvent('01AUDIT2', 2, values), claimChecks.store);
    await handler(delivered(event), context);

    const [entry] = await historyOf('01AUDIT2');
    const sides = Object.entries(entry!.changes).flatMap(([field, change]) =>
      (['old', 'new'] as const).map((side) => ({ field, side, value: change[side] })),
    );
    const referenced = sides.filter((s) => typeof s.value === 'object' && s.value !== null && '$claimCheck' in s.value);
    const kept = sides.filter((s) => typeof s.value === 'string');
    expect(referenced.length + kept.length).toBe(6);
    expect(referenced.length).toBeGreaterThan(0);
    expect(kept.length).toBeGreaterThan(0);
    for (const { field, side, value } of kept) expect(value).toBe(values[field]![side]);
    for (const { field, side, value } of referenced) {
      // Shown without the bucket; with it, the reference resolves to the full value.
      const reference = (value as { $claimCheck: Record<string, unknown> }).$claimCheck;
      expect(reference).not.toHaveProperty('bucket');
      const full = await resolveClaimCheck(claimChecks.store, {
        ...(reference as { key: string; bytes: number; sha256: string; schemaVersion: 1 }),
        bucket: claimChecks.bucket,
      });
      expect(full).toBe(values[field]![side]);
    }
  });

  it('resolves a claimed whole detail, with references into it for what the entry cannot hold', async () => {
    const fields = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`f${i}`, { new: 'v'.repeat(150) }]));
    const event = await boundRecordChange(changeEvent('01AUDIT3', 1, fields), claimChecks.store);
    expect(event.detail).toHaveProperty('$claimCheck');
    await handler(delivered(event), context);
    const [entry] = await historyOf('01AUDIT3');
    const reference = (entry!.changes as unknown as { $claimCheck: { pointer: string; key: string } }).$claimCheck;
    expect(reference.pointer).toBe('/changes');
  });

  it('with many small claimed values, resolves as many as the entry can hold and references the rest', async () => {
    // 90 values of 5 KB: the event claims some of them; resolved, they would pass the entry's budget.
    const fields = Object.fromEntries(Array.from({ length: 90 }, (_, i) => [`f${i}`, { new: 'v'.repeat(5000) }]));
    const event = await boundRecordChange(changeEvent('01AUDIT4', 1, fields), claimChecks.store);
    expect(event.detail).toHaveProperty('changes');
    await handler(delivered(event), context);
    const [entry] = await historyOf('01AUDIT4');
    expect(Object.keys(entry!.changes)).toHaveLength(90);
    const values = Object.values(entry!.changes).map((c) => c.new);
    expect(values.filter((v) => v === 'v'.repeat(5000)).length).toBeGreaterThan(60);
    const referenced = values.filter((v) => typeof v === 'object') as Array<{ $claimCheck: { key: string } }>;
    expect(referenced.length).toBeGreaterThan(0);
    expect(referenced[0]!.$claimCheck.key).toMatch(/^events\/acme\/contact\/01AUDIT4\/1\/created\/changes\/f\d+\/new$/);
  });

  it('still takes archived version 1 events', async () => {
    const event = changeEvent('01AUDIT5', 1, { firstName: { new: 'Ada' } });
    await handler(delivered({ ...event, detail: { ...(event.detail as object), schemaVersion: 1 } }), context);
    expect((await historyOf('01AUDIT5'))[0]!.changes).toEqual({ firstName: { new: 'Ada' } });
  });
});
