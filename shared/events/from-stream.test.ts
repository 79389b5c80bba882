import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOG, type CatalogEvent, type ClaimCheck } from '../../events/catalog.ts';
import { companyKeys, contactKeys, leadKeys, teamKeys, timelineIndex, userKeys } from '../db/keys.ts';
import { createModel } from '../db/model.ts';
import {
  boundRecordChange,
  CLAIM_CHECK_THRESHOLD_BYTES,
  EVENT_BUDGET_BYTES,
  entrySize,
  PUT_EVENTS_MAX_BYTES,
} from './bounds.ts';
import {
  ClaimCheckError,
  type ClaimCheckStore,
  claim,
  claimCheckKey,
  isClaimCheck,
  jsonBytes,
  resolveClaimCheck,
  resolveClaimChecks,
} from './claim-check.ts';
import { eventFromStreamRecord } from './from-stream.ts';

// Only used to render items exactly as ElectroDB stores them (params()); nothing is sent.
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const model = createModel({ table: 'stream-test', client });
afterAll(() => client.destroy());

type Item = Record<string, unknown>;

const TENANT = 'acme';
const T0 = '2026-01-01T10:00:00.000Z';
const T1 = '2026-01-01T11:00:00.000Z';

const INTERNAL = /^(pk|sk|gsi\d+(pk|sk)|__edb_[ev]__|tenantId|sortName|deletedBy|ttl)$/;

function storedContact(fields: Item = {}): Item {
  const item: Item = {
    tenantId: TENANT,
    contactId: '01CONTACT',
    firstName: 'Ada',
    lastName: 'Lovelace',
    sortName: 'ada lovelace',
    emails: ['ada@example.com'],
    phones: ['+442079460018'],
    tags: ['vip'],
    lifecycleStage: 'lead',
    ownerId: 'u1',
    jobTitle: 'Analyst',
    address: { city: 'London', country: 'GB' },
    customFields: { tier: 'gold' },
    version: 1,
    createdAt: T0,
    updatedAt: T0,
    createdBy: 'user-1',
    updatedBy: 'user-1',
    ...fields,
  };
  const keys = contactKeys(item as unknown as Parameters<typeof contactKeys>[0]);
  return model.entities.contact.put({ ...item, ...keys } as never).params().Item;
}

function storedCompany(fields: Item = {}): Item {
  const item: Item = {
    tenantId: TENANT,
    companyId: '01COMPANY',
    name: 'Analytical Engines',
    sortName: 'analytical engines',
    domains: ['engines.example'],
    tags: ['partner'],
    size: '11-50',
    customFields: {},
    version: 1,
    createdAt: T0,
    updatedAt: T0,
    createdBy: 'user-1',
    updatedBy: 'user-1',
    ...fields,
  };
  const keys = companyKeys(item as unknown as Parameters<typeof companyKeys>[0]);
  return model.entities.company.put({ ...item, ...keys } as never).params().Item;
}

function storedNote(fields: Item = {}): Item {
  const item: Item = {
    tenantId: TENANT,
    noteId: '01NOTE',
    subjectType: 'contact',
    subjectId: '01CONTACT',
    body: 'Called; interested.',
    pinned: false,
    occurredAt: T0,
    authorId: 'user-1',
    version: 1,
    createdAt: T0,
    updatedAt: T0,
    createdBy: 'user-1',
    updatedBy: 'user-1',
    ...fields,
  };
  const timeline = item.deletedAt
    ? {}
    : {
        gsi6pk: timelineIndex.pk(TENANT, String(item.subjectType), String(item.subjectId)),
        gsi6sk: timelineIndex.sk(String(item.occurredAt), 'note', String(item.noteId)),
      };
  return model.entities.note.put({ ...item, ...timeline } as never).params().Item;
}

const image = (item: Item) => marshall(item, { removeUndefinedValues: true, convertClassInstanceToMap: true });

function streamRecord(eventName: 'INSERT' | 'MODIFY' | 'REMOVE', oldItem?: Item, newItem?: Item): DynamoDBRecord {
  const keySource = (newItem ?? oldItem)!;
  return {
    eventID: '1',
    eventName,
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: {
      Keys: image({ pk: keySource.pk, sk: keySource.sk }),
      ...(oldItem ? { OldImage: image(oldItem) } : {}),
      ...(newItem ? { NewImage: image(newItem) } : {}),
      SequenceNumber: '100',
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  } as unknown as DynamoDBRecord;
}

/** Asserts the event is on the catalog, from the right source, and that its detail parses with the catalog schema. */
function expectValid(event: CatalogEvent | undefined, detailType: keyof typeof CATALOG) {
  expect(event).toBeDefined();
  expect(event!.detailType).toBe(detailType);
  expect(event!.source).toBe(CATALOG[detailType].source);
  expect(CATALOG[detailType].schema.parse(event!.detail)).toEqual(event!.detail);
  return event!.detail as {
    schemaVersion: number;
    tenantId: string;
    entity: string;
    entityId: string;
    version: number;
    occurredAt: string;
    actorId?: string;
    changes: Record<string, { old?: unknown; new?: unknown }>;
    record: Item;
  };
}

function expectNoInternals(detail: { changes: Item; record: Item }) {
  for (const key of Object.keys(detail.record)) expect(key).not.toMatch(INTERNAL);
  for (const key of Object.keys(detail.changes)) expect(key).not.toMatch(INTERNAL);
}

describe('eventFromStreamRecord: contacts', () => {
  it('maps INSERT to contact.created with every public field as a change', () => {
    const item = storedContact();
    const detail = expectValid(eventFromStreamRecord(streamRecord('INSERT', undefined, item)), 'contact.created');
    expect(detail).toMatchObject({
      schemaVersion: 2,
      tenantId: TENANT,
      entity: 'contact',
      entityId: '01CONTACT',
      version: 1,
      occurredAt: T0,
      actorId: 'user-1',
    });
    expect(detail.record).toEqual({
      id: '01CONTACT',
      firstName: 'Ada',
      lastName: 'Lovelace',
      emails: ['ada@example.com'],
      phones: ['+442079460018'],
      tags: ['vip'],
      lifecycleStage: 'lead',
      ownerId: 'u1',
      jobTitle: 'Analyst',
      address: { city: 'London', country: 'GB' },
      customFields: { tier: 'gold' },
      version: 1,
      createdAt: T0,
      updatedAt: T0,
      createdBy: 'user-1',
      updatedBy: 'user-1',
    });
    const { id: _id, ...fields } = detail.record;
    expect(Object.keys(detail.changes).sort()).toEqual(Object.keys(fields).sort());
    for (const [key, value] of Object.entries(fields)) expect(detail.changes[key]).toEqual({ new: value });
    expectNoInternals(detail);
    // The stored item really did carry the internals that must be stripped.
    for (const key of ['pk', 'sk', 'gsi1pk', 'gsi4sk', 'gsi5pk', '__edb_e__', '__edb_v__', 'tenantId', 'sortName']) {
      expect(item).toHaveProperty(key);
    }
  });

  it('maps MODIFY to contact.updated with only the changed fields, old and new', () => {
    const before = storedContact();
    const after = storedContact({
      lastName: 'King',
      sortName: 'ada king',
      jobTitle: undefined,
      tags: ['vip', 'math'],
      address: { city: 'Paris', country: 'GB' },
      ownerId: 'u2',
      version: 2,
      updatedAt: T1,
      updatedBy: 'user-2',
    });
    const detail = expectValid(eventFromStreamRecord(streamRecord('MODIFY', before, after)), 'contact.updated');
    expect(detail).toMatchObject({ version: 2, occurredAt: T1, actorId: 'user-2', entityId: '01CONTACT' });
    expect(detail.changes).toEqual({
      lastName: { old: 'Lovelace', new: 'King' },
      jobTitle: { old: 'Analyst' },
      tags: { old: ['vip'], new: ['vip', 'math'] },
      address: { old: { city: 'London', country: 'GB' }, new: { city: 'Paris', country: 'GB' } },
      ownerId: { old: 'u1', new: 'u2' },
      version: { old: 1, new: 2 },
      updatedAt: { old: T0, new: T1 },
      updatedBy: { old: 'user-1', new: 'user-2' },
    });
    expect(detail.changes.jobTitle).not.toHaveProperty('new');
    expect(detail.record.lastName).toBe('King');
    expect(detail.record).not.toHaveProperty('jobTitle');
    expectNoInternals(detail);
  });

  it('maps a MODIFY that sets deletedAt to contact.deleted', () => {
    const before = storedContact();
    const deletedAt = '2026-01-02T09:00:00.000Z';
    const after = storedContact({
      version: 2,
      updatedAt: deletedAt,
      deletedAt,
      deletedBy: 'user-9',
      updatedBy: 'user-9',
    });
    const detail = expectValid(eventFromStreamRecord(streamRecord('MODIFY', before, after)), 'contact.deleted');
    expect(detail.occurredAt).toBe(deletedAt);
    expect(detail.actorId).toBe('user-9');
    expect(detail.changes.deletedAt).toEqual({ new: deletedAt });
    expect(detail.changes).not.toHaveProperty('deletedBy');
    expect(detail.record.deletedAt).toBe(deletedAt);
    expectNoInternals(detail);
  });

  it('maps a MODIFY that clears deletedAt to contact.restored', () => {
    const deletedAt = '2026-01-02T09:00:00.000Z';
    const before = storedContact({ version: 2, updatedAt: deletedAt, deletedAt, deletedBy: 'user-9' });
    const after = storedContact({ version: 3, updatedAt: T1, updatedBy: 'user-3' });
    const detail = expectValid(eventFromStreamRecord(streamRecord('MODIFY', before, after)), 'contact.restored');
    expect(detail.version).toBe(3);
    expect(detail.occurredAt).toBe(T1);
    expect(detail.changes.deletedAt).toEqual({ old: deletedAt });
    expect(detail.record).not.toHaveProperty('deletedAt');
    expectNoInternals(detail);
  });

  it('maps a MODIFY that sets mergedInto to contact.merged, naming the winner in its changes', () => {
    const before = storedContact({ version: 2 });
    const after = storedContact({ version: 3, updatedAt: T1, updatedBy: 'user-3', mergedInto: 'WINNER', mergedAt: T1 });
    const detail = expectValid(eventFromStreamRecord(streamRecord('MODIFY', before, after)), 'contact.merged');
    expect(detail.changes.mergedInto).toEqual({ new: 'WINNER' });
    expect(detail.actorId).toBe('user-3');
    expectNoInternals(detail);
  });

  it('maps a REMOVE (hard delete) to contact.deleted carrying the record as it was', () => {
    const before = storedContact();
    const detail = expectValid(eventFromStreamRecord(streamRecord('REMOVE', before, undefined)), 'contact.deleted');
    expect(detail.record.firstName).toBe('Ada');
    expect(detail.record.id).toBe('01CONTACT');
    expect(detail.changes.firstName).toEqual({ old: 'Ada' });
    expectNoInternals(detail);
  });

  it('publishes nothing for a MODIFY that changed nothing visible', () => {
    const item = storedContact();
    expect(eventFromStreamRecord(streamRecord('MODIFY', item, item))).toBeUndefined();
    // Only storage details moved (derived sort name and index keys): still nothing for consumers.
    const reindexed = { ...item, sortName: 'other', gsi4sk: 'other#01CONTACT', gsi1pk: 'acme#contact#owner#x' };
    expect(eventFromStreamRecord(streamRecord('MODIFY', item, reindexed))).toBeUndefined();
  });
});

describe('eventFromStreamRecord: companies and notes', () => {
  it('maps company INSERT, MODIFY, soft delete and restore', () => {
    const created = storedCompany({ ownerId: 'u1' });
    const c = expectValid(eventFromStreamRecord(streamRecord('INSERT', undefined, created)), 'company.created');
    expect(c).toMatchObject({ entity: 'company', entityId: '01COMPANY', tenantId: TENANT });
    expect(c.record).toMatchObject({ id: '01COMPANY', name: 'Analytical Engines', domains: ['engines.example'] });
    expect(c.changes.name).toEqual({ new: 'Analytical Engines' });
    expectNoInternals(c);

    const renamed = storedCompany({
      ownerId: 'u1',
      name: 'Engines Ltd',
      sortName: 'engines ltd',
      version: 2,
      updatedAt: T1,
    });
    const u = expectValid(eventFromStreamRecord(streamRecord('MODIFY', created, renamed)), 'company.updated');
    expect(u.changes).toEqual({
      name: { old: 'Analytical Engines', new: 'Engines Ltd' },
      version: { old: 1, new: 2 },
      updatedAt: { old: T0, new: T1 },
    });

    const deletedAt = '2026-01-03T00:00:00.000Z';
    const trashed = storedCompany({ ownerId: 'u1', version: 2, updatedAt: deletedAt, deletedAt, deletedBy: 'u9' });
    const d = expectValid(eventFromStreamRecord(streamRecord('MODIFY', created, trashed)), 'company.deleted');
    expect(d.occurredAt).toBe(deletedAt);
    expectNoInternals(d);

    const restored = storedCompany({ ownerId: 'u1', version: 3, updatedAt: T1 });
    expectValid(eventFromStreamRecord(streamRecord('MODIFY', trashed, restored)), 'company.restored');
  });

  it('maps note INSERT, MODIFY and soft delete', () => {
    const note = storedNote();
    const c = expectValid(eventFromStreamRecord(streamRecord('INSERT', undefined, note)), 'note.created');
    expect(c).toMatchObject({ entity: 'note', entityId: '01NOTE', version: 1, occurredAt: T0 });
    expect(c.record).toEqual({
      id: '01NOTE',
      subjectType: 'contact',
      subjectId: '01CONTACT',
      body: 'Called; interested.',
      pinned: false,
      occurredAt: T0,
      authorId: 'user-1',
      version: 1,
      createdAt: T0,
      updatedAt: T0,
      createdBy: 'user-1',
      updatedBy: 'user-1',
    });
    expectNoInternals(c);

    const edited = storedNote({ body: 'Called twice.', pinned: true, version: 2, updatedAt: T1 });
    const u = expectValid(eventFromStreamRecord(streamRecord('MODIFY', note, edited)), 'note.updated');
    expect(u.changes).toEqual({
      body: { old: 'Called; interested.', new: 'Called twice.' },
      pinned: { old: false, new: true },
      version: { old: 1, new: 2 },
      updatedAt: { old: T0, new: T1 },
    });

    const deleted = storedNote({ version: 2, updatedAt: T1, deletedAt: T1, deletedBy: 'user-1' });
    expect(deleted).not.toHaveProperty('gsi6pk');
    const d = expectValid(eventFromStreamRecord(streamRecord('MODIFY', note, deleted)), 'note.deleted');
    expect(d.changes.deletedAt).toEqual({ new: T1 });
    expect(d.changes).not.toHaveProperty('gsi6pk');
    expectNoInternals(d);
  });
});

describe('eventFromStreamRecord: internal items', () => {
  it('publishes nothing for lookup items', () => {
    const lookup = model.entities.lookup
      .put({ tenantId: TENANT, kind: 'contact.tag', value: 'vip', targetId: '01CONTACT', summary: { id: '01CONTACT' } })
      .params().Item;
    expect(eventFromStreamRecord(streamRecord('INSERT', undefined, lookup))).toBeUndefined();
    expect(eventFromStreamRecord(streamRecord('REMOVE', lookup, undefined))).toBeUndefined();
  });

  it('publishes nothing for idempotency records', () => {
    const idem = model.entities.idempotency
      .put({
        tenantId: TENANT,
        key: 'k1',
        requestHash: 'h',
        statusCode: 201,
        response: { id: '01CONTACT', version: 1 },
        createdAt: T0,
        expiresAt: 1_900_000_000,
      })
      .params().Item;
    expect(idem).toHaveProperty('ttl');
    expect(eventFromStreamRecord(streamRecord('INSERT', undefined, idem))).toBeUndefined();
    expect(eventFromStreamRecord(streamRecord('REMOVE', idem, undefined))).toBeUndefined();
  });

  it('publishes nothing for audit entries (written from the events themselves)', () => {
    const entry = model.entities.auditEntry
      .put({
        tenantId: TENANT,
        entity: 'contact',
        entityId: '01CONTACT',
        seq: '000000000001',
        version: 1,
        action: 'created',
        occurredAt: T0,
        changes: { firstName: { new: 'Ada' } },
      })
      .params().Item;
    expect(eventFromStreamRecord(streamRecord('INSERT', undefined, entry))).toBeUndefined();
  });

  it('publishes nothing for custom field definitions, unknown items or empty records', () => {
    const schema = model.entities.customFieldSchema
      .put({ tenantId: TENANT, entityType: 'contact', fields: [], version: 1, createdAt: T0, updatedAt: T0 })
      .params().Item;
    expect(eventFromStreamRecord(streamRecord('INSERT', undefined, schema))).toBeUndefined();
    expect(
      eventFromStreamRecord(streamRecord('INSERT', undefined, { pk: 'x', sk: 'y', tenantId: TENANT })),
    ).toBeUndefined();
    expect(eventFromStreamRecord({ eventName: 'INSERT', dynamodb: {} } as DynamoDBRecord)).toBeUndefined();
  });
});

/** Claim checks kept in memory: the S3 store is exercised against the local S3 in publisher.test.ts. */
function memoryStore(bucket = 'claim-checks'): ClaimCheckStore & { objects: Map<string, Uint8Array>; puts: string[] } {
  const objects = new Map<string, Uint8Array>();
  const puts: string[] = [];
  return {
    bucket,
    objects,
    puts,
    async put(key, body) {
      puts.push(key);
      objects.set(key, body);
    },
    async get(key) {
      const body = objects.get(key);
      if (!body) throw new Error(`NoSuchKey ${key}`);
      return body;
    },
  };
}

const sizeOf = (event: CatalogEvent) =>
  entrySize({ Source: event.source, DetailType: event.detailType, Detail: JSON.stringify(event.detail) });

const refOf = (value: unknown) => {
  expect(isClaimCheck(value), JSON.stringify(value)?.slice(0, 200)).toBe(true);
  return (value as ClaimCheck).$claimCheck;
};

describe('bounded change events (claim checks)', () => {
  const key = (...path: string[]) =>
    claimCheckKey({ tenantId: TENANT, entity: 'contact', entityId: '01CONTACT', version: 2, action: 'updated', path });

  it('stores a 200 KB value and the record aside, and the event stays far under the limit', async () => {
    const big = 'é'.repeat(100_000); // 200 KB of UTF-8
    const before = storedContact({ customFields: { tier: 'gold' } });
    const after = storedContact({ customFields: { tier: 'gold', bio: big }, version: 2, updatedAt: T1 });
    const event = eventFromStreamRecord(streamRecord('MODIFY', before, after))!;
    expect(sizeOf(event)).toBeGreaterThan(PUT_EVENTS_MAX_BYTES);

    const store = memoryStore();
    const bounded = await boundRecordChange(event, store);
    expect(sizeOf(bounded)).toBeLessThanOrEqual(EVENT_BUDGET_BYTES);
    const detail = expectValid(bounded, 'contact.updated');
    expect(detail.schemaVersion).toBe(2);
    // Small values stay inline; the large new value and the record are references with deterministic keys.
    expect(detail.changes.customFields!.old).toEqual({ tier: 'gold' });
    expect(detail.changes.version).toEqual({ old: 1, new: 2 });
    const value = refOf(detail.changes.customFields!.new);
    expect(value).toMatchObject({
      schemaVersion: 1,
      bucket: 'claim-checks',
      key: key('changes', 'customFields', 'new'),
    });
    expect(value.bytes).toBe(Buffer.byteLength(JSON.stringify({ tier: 'gold', bio: big })));
    expect(value.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(refOf(detail.record).key).toBe(key('record'));
    expect([...store.objects.keys()].sort()).toEqual([key('changes', 'customFields', 'new'), key('record')].sort());

    // The shared helper gives consumers the event as it was before bounding.
    expect(await resolveClaimChecks(store, detail as never)).toEqual(event.detail);
  });

  it('keeps a value of exactly the threshold inline and claims one byte more', async () => {
    const at = 'a'.repeat(CLAIM_CHECK_THRESHOLD_BYTES - 2); // JSON adds the two quotes
    const over = 'a'.repeat(CLAIM_CHECK_THRESHOLD_BYTES - 1);
    const before = storedContact();
    const bound = async (jobTitle: string) =>
      expectValid(
        await boundRecordChange(
          eventFromStreamRecord(
            streamRecord('MODIFY', before, storedContact({ jobTitle, version: 2, updatedAt: T1 })),
          )!,
          memoryStore(),
        ),
        'contact.updated',
      );
    expect(jsonBytes(at)).toBe(CLAIM_CHECK_THRESHOLD_BYTES);
    expect((await bound(at)).changes.jobTitle).toEqual({ old: 'Analyst', new: at });
    expect(jsonBytes(over)).toBe(CLAIM_CHECK_THRESHOLD_BYTES + 1);
    const claimed = await bound(over);
    expect(claimed.changes.jobTitle!.old).toBe('Analyst');
    expect(refOf(claimed.changes.jobTitle!.new).bytes).toBe(CLAIM_CHECK_THRESHOLD_BYTES + 1);
  });

  it('with many fields changed at once, claims the largest until the event fits and keeps small ones inline', async () => {
    const fields: Item = {};
    // 40 fields of 20-30 KB each: every one under the threshold, 2 MB together (old and new).
    for (let i = 0; i < 40; i++) fields[`field${i}`] = `${i}`.padEnd(20_000 + i * 250, 'x');
    // Raw attributes beside the entity's (the mapping publishes every non-storage attribute of the item).
    const before = {
      ...storedContact(),
      ...Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, `${v}-old`])),
    };
    const after = { ...storedContact({ lastName: 'King', version: 2, updatedAt: T1 }), ...fields };
    const event = eventFromStreamRecord(streamRecord('MODIFY', before, after))!;
    expect(sizeOf(event)).toBeGreaterThan(2_000_000);

    const store = memoryStore();
    const bounded = await boundRecordChange(event, store);
    expect(sizeOf(bounded)).toBeLessThanOrEqual(EVENT_BUDGET_BYTES);
    const detail = expectValid(bounded, 'contact.updated');
    expect(detail.changes.lastName).toEqual({ old: 'Lovelace', new: 'King' });
    expect(detail.changes.version).toEqual({ old: 1, new: 2 });
    const claimed = Object.values(detail.changes)
      .flatMap((c) => [c.old, c.new])
      .filter(isClaimCheck);
    const inline = Object.values(detail.changes)
      .flatMap((c) => [c.old, c.new])
      .filter((v) => !isClaimCheck(v));
    expect(claimed.length).toBeGreaterThan(0);
    // Largest first: no inline value is larger than a claimed one.
    const smallestClaimed = Math.min(...claimed.map((c) => c.$claimCheck.bytes));
    for (const value of inline) expect(jsonBytes(value)).toBeLessThanOrEqual(smallestClaimed);
    expect(await resolveClaimChecks(store, detail as never)).toEqual(event.detail);
  });

  it('claims the whole detail when even references do not fit, keeping who, when, what and the field names', async () => {
    const fields: Item = {};
    for (let i = 0; i < 3000; i++) fields[`f${i}`] = 'v'.repeat(150);
    const created = { ...storedContact(), ...fields };
    const event = eventFromStreamRecord(streamRecord('INSERT', undefined, created))!;
    const store = memoryStore();
    const bounded = await boundRecordChange(event, store);
    expect(sizeOf(bounded)).toBeLessThanOrEqual(EVENT_BUDGET_BYTES);
    const detail = CATALOG['contact.created'].schema.parse(bounded.detail) as Record<string, unknown>;
    expect(detail).toMatchObject({ schemaVersion: 2, tenantId: TENANT, entityId: '01CONTACT', version: 1 });
    expect(detail).not.toHaveProperty('changes');
    expect(detail.changedFields).toEqual(Object.keys((event.detail as { changes: object }).changes));
    expect((detail.$claimCheck as { key: string }).key).toBe(
      claimCheckKey({
        tenantId: TENANT,
        entity: 'contact',
        entityId: '01CONTACT',
        version: 1,
        action: 'created',
        path: ['detail'],
      }),
    );
    expect(store.puts).toHaveLength(1);
    expect(await resolveClaimChecks(store, detail as never)).toEqual(event.detail);
  });

  it('writes the same objects at the same keys when a batch is retried', async () => {
    const before = storedContact();
    const after = storedContact({ jobTitle: 'x'.repeat(50_000), version: 2, updatedAt: T1 });
    const record = streamRecord('MODIFY', before, after);
    const first = memoryStore();
    const second = memoryStore();
    const a = await boundRecordChange(eventFromStreamRecord(record)!, first);
    const b = await boundRecordChange(eventFromStreamRecord(record)!, second);
    expect(b).toEqual(a);
    expect([...second.objects.entries()]).toEqual([...first.objects.entries()]);
  });

  it('leaves small events untouched and writes nothing', async () => {
    const event = eventFromStreamRecord(streamRecord('INSERT', undefined, storedContact()))!;
    const store = memoryStore();
    expect(await boundRecordChange(event, store)).toEqual(event);
    expect(store.puts).toEqual([]);
  });

  it('resolves only references to its own bucket whose object matches size and hash', async () => {
    const store = memoryStore();
    const ref = (await claim(store, 'events/acme/x', { a: 1 })).$claimCheck;
    expect(await resolveClaimCheck(store, ref)).toEqual({ a: 1 });
    expect(await resolveClaimCheck(store, { ...ref, pointer: '/a' })).toBe(1);
    await expect(resolveClaimCheck(store, { ...ref, bucket: 'someone-elses' })).rejects.toThrow(ClaimCheckError);
    store.objects.set(ref.key, new TextEncoder().encode('{"a":2}'));
    await expect(resolveClaimCheck(store, ref)).rejects.toThrow(/does not match/);
    await expect(resolveClaimCheck(store, { ...ref, pointer: '/b' })).rejects.toThrow(ClaimCheckError);
  });

  it('never mistakes a record value for a claim check', () => {
    expect(isClaimCheck({ $claimCheck: { bucket: 'b' } })).toBe(false);
    expect(isClaimCheck({ tier: 'gold' })).toBe(false);
    expect(isClaimCheck('$claimCheck')).toBe(false);
  });
});

describe('eventFromStreamRecord: users and teams', () => {
  function storedUser(fields: Item = {}): Item {
    const item: Item = {
      tenantId: TENANT,
      userId: '5f0c-user',
      email: 'grace@example.com',
      name: 'Grace Hopper',
      roles: ['sales'],
      timeZone: 'Europe/Paris',
      status: 'invited',
      teamIds: [],
      sortName: 'grace hopper',
      version: 1,
      createdAt: T0,
      updatedAt: T0,
      createdBy: 'admin-1',
      updatedBy: 'admin-1',
      ...fields,
    };
    const keys = userKeys(item as unknown as Parameters<typeof userKeys>[0]);
    return model.entities.user.put({ ...item, ...keys } as never).params().Item;
  }

  it('maps a role change to user.updated with old and new roles, and a removal to user.deleted', () => {
    const before = storedUser();
    const after = storedUser({ roles: ['manager'], version: 2, updatedAt: T1 });
    const updated = expectValid(eventFromStreamRecord(streamRecord('MODIFY', before, after)), 'user.updated');
    expect(updated).toMatchObject({ entity: 'user', entityId: '5f0c-user', actorId: 'admin-1' });
    expect(updated.changes.roles).toEqual({ old: ['sales'], new: ['manager'] });
    expectNoInternals(updated);
    const removed = storedUser({ version: 3, status: 'disabled', deletedAt: T1, updatedAt: T1 });
    expect(eventFromStreamRecord(streamRecord('MODIFY', after, removed))?.detailType).toBe('user.deleted');
  });

  it('maps a team INSERT to team.created', () => {
    const item = {
      tenantId: TENANT,
      teamId: '01TEAM',
      name: 'Inside',
      members: [{ userId: 'u1', availability: 'available' }],
      sortName: 'inside',
      version: 1,
      createdAt: T0,
      updatedAt: T0,
    };
    const stored = model.entities.team.put({ ...item, ...teamKeys(item) } as never).params().Item;
    const created = expectValid(eventFromStreamRecord(streamRecord('INSERT', undefined, stored)), 'team.created');
    expect(created.record).toMatchObject({ id: '01TEAM', members: [{ userId: 'u1', availability: 'available' }] });
  });
});

describe('eventFromStreamRecord: leads and form submissions', () => {
  function storedLead(fields: Item = {}): Item {
    const item: Item = {
      tenantId: TENANT,
      leadId: '01LEAD',
      firstName: 'Ada',
      sortName: 'ada',
      emails: ['ada@example.com'],
      source: 'form',
      status: 'new',
      version: 1,
      createdAt: T0,
      updatedAt: T0,
      ...fields,
    };
    const keys = leadKeys(item as unknown as Parameters<typeof leadKeys>[0]);
    return model.entities.lead.put({ ...item, ...keys } as never).params().Item;
  }

  it('maps lead INSERT and MODIFY to lead.created and lead.updated, a score update naming only score fields', () => {
    const lead = storedLead();
    const c = expectValid(eventFromStreamRecord(streamRecord('INSERT', undefined, lead)), 'lead.created');
    expect(c).toMatchObject({ entity: 'lead', entityId: '01LEAD', version: 1 });
    expectNoInternals(c);
    const scored = storedLead({ score: 15, scoreReasons: [{ ruleId: 'software' }], scoredAt: T1, version: 2 });
    const u = expectValid(eventFromStreamRecord(streamRecord('MODIFY', lead, scored)), 'lead.updated');
    expect(Object.keys(u.changes).sort()).toEqual(['score', 'scoreReasons', 'scoredAt', 'version']);
  });

  it('maps a form submission INSERT to form.submitted (and nothing else of submissions)', () => {
    const item = model.entities.formSubmission
      .put({
        tenantId: TENANT,
        submissionId: '01SUB',
        formId: '01FORM',
        leadId: '01LEAD',
        outcome: 'created',
        values: { interest: 'demo' },
        occurredAt: T0,
        version: 1,
        createdAt: T0,
        updatedAt: T0,
        gsi6pk: timelineIndex.pk(TENANT, 'lead', '01LEAD'),
        gsi6sk: timelineIndex.sk(T0, 'formSubmission', '01SUB'),
      })
      .params().Item as Item;
    const d = expectValid(eventFromStreamRecord(streamRecord('INSERT', undefined, item)), 'form.submitted');
    expect(d).toMatchObject({ entity: 'formSubmission', entityId: '01SUB', tenantId: TENANT });
    expect(d.record).toMatchObject({ formId: '01FORM', leadId: '01LEAD', values: { interest: 'demo' } });
    expect(d.changes.leadId).toEqual({ new: '01LEAD' });
    expectNoInternals(d);
    expect(eventFromStreamRecord(streamRecord('REMOVE', item, undefined))).toBeUndefined();
  });
});
