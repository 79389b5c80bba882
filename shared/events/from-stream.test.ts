import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOG, type CatalogEvent } from '../../events/catalog.ts';
import { companyKeys, contactKeys, timelineIndex } from '../db/keys.ts';
import { createModel } from '../db/model.ts';
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
      schemaVersion: 1,
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
