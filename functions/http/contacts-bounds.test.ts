import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LOCAL_CREDENTIALS } from '../../infra/local/dynamodb-local.ts';
import { itemSize } from '../../shared/db/item-size.ts';
import { makeCompany, makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

/**
 * Records and lookup items have bounds: a record is capped at 64 KiB as DynamoDB counts it, lookup items carry a
 * small summary, a write touches only the lookups that changed, and an expired Idempotency-Key acts as new.
 */

const CAP = 64 * 1024;
/** A lookup item: keys, the value and the summary; well under this whatever the record holds. */
const LOOKUP_ITEM_MAX = 1024;

type Client = ReturnType<typeof apiClient>;
let contactsAs: (tenantId: string) => Client;
let companiesAs: (tenantId: string) => Client;
let customFieldsAs: (tenantId: string) => Client;
let raw: DynamoDBDocumentClient;
let tableName: string;
let model: typeof import('../../shared/db/store.ts').model;
let MAX_RECORD_BYTES: number;

beforeAll(async () => {
  const table = await useFreshTable('crm-bounds');
  tableName = table.tableName;
  raw = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: table.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS }),
  );
  const contacts = (await import('./contacts.ts')).handler;
  const companies = (await import('./companies.ts')).handler;
  const customFields = (await import('./custom-fields.ts')).handler;
  model = (await import('../../shared/db/store.ts')).model;
  MAX_RECORD_BYTES = (await import('../../shared/records/lifecycle.ts')).MAX_RECORD_BYTES;
  contactsAs = (tenantId) => apiClient(contacts, { tenantId, roles: ['admin'] });
  companiesAs = (tenantId) => apiClient(companies, { tenantId, roles: ['admin'] });
  customFieldsAs = (tenantId) => apiClient(customFields, { tenantId, roles: ['admin'] });
});

afterAll(() => raw.destroy());
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** A tenant with 100 text custom fields f0..f99 declared for contacts and companies. */
async function tenantWithTextFields(): Promise<string> {
  const tenantId = uniqueTenant('bounds');
  const fields = Array.from({ length: 100 }, (_, i) => ({ key: `f${i}`, label: `Field ${i}`, type: 'text' }));
  for (const entityType of ['contact', 'company']) {
    const res = await customFieldsAs(tenantId)('PUT', `/v1/custom-fields/${entityType}`, { body: { fields } });
    expect(res.status).toBe(200);
  }
  return tenantId;
}

/** The stored item as it lies in the table. */
async function storedContact(tenantId: string, contactId: string): Promise<Record<string, unknown>> {
  const { Key } = model.entities.contact.get({ tenantId, contactId }).params();
  const { Item } = await raw.send(new GetCommand({ TableName: tableName, Key }));
  return Item!;
}

interface Write {
  type: 'Put' | 'TransactWrite';
  /** The item size of each Put (record, lookups, idempotency record); 0 for deletes and checks. */
  putSizes: number[];
  actions: number;
}

/** The writes the service sends to DynamoDB while `fn` runs. */
async function writesOf<T>(fn: () => Promise<T>): Promise<{ result: T; writes: Write[] }> {
  const writes: Write[] = [];
  const send = DynamoDBDocumentClient.prototype.send;
  const spy = vi.spyOn(DynamoDBDocumentClient.prototype, 'send').mockImplementation(function (
    this: DynamoDBDocumentClient,
    command: unknown,
    ...rest: unknown[]
  ) {
    if (command instanceof PutCommand) {
      writes.push({ type: 'Put', putSizes: [itemSize(command.input.Item ?? {})], actions: 1 });
    } else if (command instanceof TransactWriteCommand) {
      const items = command.input.TransactItems ?? [];
      writes.push({
        type: 'TransactWrite',
        putSizes: items.map((i) => (i.Put ? itemSize(i.Put.Item ?? {}) : 0)),
        actions: items.length,
      });
    }
    return (send as (...args: unknown[]) => unknown).call(this, command, ...rest) as never;
  });
  try {
    return { result: await fn(), writes };
  } finally {
    spy.mockRestore();
  }
}

/** Custom field values f<from>.. of `length` characters each, `count` of them. */
const bigFields = (from: number, count: number, length: number, char = 'x') =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [`f${from + i}`, char.repeat(length)]));

describe('record size cap', () => {
  it('is 64 KiB of DynamoDB item size', () => {
    expect(MAX_RECORD_BYTES).toBe(CAP);
  });

  it('accepts a record exactly at the cap and refuses one byte more with the largest fields named', async () => {
    const tenantId = await tenantWithTextFields();
    const as = contactsAs(tenantId);
    const created = await as('POST', '/v1/contacts', { body: makeContact({ customFields: { f0: 'a' } }) });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect((await as('PATCH', `/v1/contacts/${id}`, { body: { customFields: bigFields(1, 25, 2000) } })).status).toBe(
      200,
    );

    // Fill the rest exactly: each new member of customFields takes 1 + name + value bytes; f0 takes the remainder.
    let remaining = CAP - itemSize(await storedContact(tenantId, id));
    const fill: Record<string, string> = {};
    for (let i = 26; remaining >= 2004 + 1000; i += 1) {
      fill[`f${i}`] = 'y'.repeat(2000);
      remaining -= 1 + `f${i}`.length + 2000;
    }
    if (remaining > 1999) {
      fill.f99 = 'z'.repeat(remaining - 4 - 1000);
      remaining = 1000;
    }
    fill.f0 = 'a'.repeat(1 + remaining);
    const atCap = await as('PATCH', `/v1/contacts/${id}`, { body: { customFields: fill } });
    expect(atCap.status).toBe(200);
    expect(atCap.body.version).toBe(3);
    expect(itemSize(await storedContact(tenantId, id))).toBe(CAP);

    const over = await as('PATCH', `/v1/contacts/${id}`, {
      body: { customFields: { f0: `${fill.f0}a` } },
      headers: { 'if-match': '"3"' },
    });
    expect(over.status).toBe(413);
    expect(over.headers['content-type']).toBe('application/problem+json');
    expect(over.body).toMatchObject({ code: 'record.too_large', sizeBytes: CAP + 1, limitBytes: CAP });
    expect(over.body.fieldErrors).toHaveLength(5);
    for (const error of over.body.fieldErrors) {
      expect(error.field).toMatch(/^body\.customFields\.f\d+$/);
      expect(error.message).toContain(`${CAP}`);
    }
    // Nothing changed.
    const after = await as('GET', `/v1/contacts/${id}`);
    expect(after.body).toStrictEqual(atCap.body);
    expect(itemSize(await storedContact(tenantId, id))).toBe(CAP);

    // Shrinking is always allowed.
    const shrunk = await as('PATCH', `/v1/contacts/${id}`, { body: { customFields: { f1: null } } });
    expect(shrunk.status).toBe(200);
  });

  it('refuses a create that would pass the cap, storing nothing', async () => {
    const tenantId = await tenantWithTextFields();
    const as = contactsAs(tenantId);
    // The body stays under its own 64 KiB limit, but the stored item passes the cap: the name is stored again
    // folded (NFKD turns U+FDFA into 18 letters) in sortName and in each index's sort key, and the keys add theirs.
    const FDFA = '\uFDFA';
    const body = makeContact({
      firstName: FDFA.repeat(100),
      lastName: FDFA.repeat(100),
      ownerId: 'o'.repeat(64),
      customFields: { ...bigFields(0, 10, 2000, '株'), f10: 'x'.repeat(2000), f11: 'x'.repeat(1500) },
    });
    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThan(64 * 1024);
    const res = await as('POST', '/v1/contacts', { body, headers: { 'idempotency-key': 'too-big-create' } });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('record.too_large');
    expect(res.body.fieldErrors[0].field).toMatch(/^body\.customFields\.f\d$/);
    expect((await as('GET', '/v1/contacts')).body.items).toEqual([]);
    // The key was not used up: a smaller body with it creates.
    const ok = await as('POST', '/v1/contacts', {
      body: makeContact({ customFields: bigFields(0, 2, 2000, '株') }),
      headers: { 'idempotency-key': 'too-big-create' },
    });
    expect(ok.status).toBe(201);
  });

  it('the 120 KB contact of the report (10 emails, 20 tags, 100 text fields) is refused with 413, never 500', async () => {
    const tenantId = await tenantWithTextFields();
    const as = contactsAs(tenantId);
    const created = await as('POST', '/v1/contacts', {
      body: makeContact({
        emails: Array.from({ length: 10 }, (_, i) => `person.${i}@example.com`),
        tags: Array.from({ length: 20 }, (_, i) => `tag-${i}`),
      }),
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const statuses: number[] = [];
    for (let batch = 0; batch < 5; batch += 1) {
      const { result, writes } = await writesOf(() =>
        as('PATCH', `/v1/contacts/${id}`, { body: { customFields: bigFields(batch * 20, 20, 1200) } }),
      );
      statuses.push(result.status);
      if (result.status === 200) {
        // Custom fields are not in the summary: one conditional Put, no lookup rewritten.
        expect(writes).toEqual([{ type: 'Put', putSizes: [expect.any(Number)], actions: 1 }]);
      } else {
        expect(result.body.code).toBe('record.too_large');
        expect(writes).toEqual([]);
      }
    }
    expect(statuses).toEqual([200, 200, 413, 413, 413]);
    const stored = await as('GET', `/v1/contacts/${id}`);
    expect(stored.body.version).toBe(3);
    expect(Object.keys(stored.body.customFields)).toHaveLength(40);
    expect(itemSize(await storedContact(tenantId, id))).toBeLessThanOrEqual(CAP);
  });

  it('caps companies too', async () => {
    const tenantId = await tenantWithTextFields();
    const as = companiesAs(tenantId);
    const created = await as('POST', '/v1/companies', { body: makeCompany() });
    expect(
      (await as('PATCH', `/v1/companies/${created.body.id}`, { body: { customFields: bigFields(0, 30, 2000) } }))
        .status,
    ).toBe(200);
    const over = await as('PATCH', `/v1/companies/${created.body.id}`, {
      body: { customFields: bigFields(30, 5, 2000) },
    });
    expect(over.status).toBe(413);
    expect(over.body).toMatchObject({ code: 'record.too_large', limitBytes: CAP });
    expect((await as('GET', `/v1/companies/${created.body.id}`)).body.version).toBe(2);
  });
});

describe('lookup items carry a small summary; writes touch only the lookups that changed', () => {
  it('many emails, phones and tags with large custom fields: small lookups, small writes', async () => {
    const tenantId = await tenantWithTextFields();
    const as = contactsAs(tenantId);
    const emails = Array.from({ length: 10 }, (_, i) => `many.${i}@example.com`);
    const tags = Array.from({ length: 20 }, (_, i) => `t${i}`);
    const phones = ['+44 20 7946 0018', '+44 20 7946 0019', '+44 20 7946 0020'];
    const { result: created, writes: createWrites } = await writesOf(() =>
      as('POST', '/v1/contacts', {
        body: makeContact({ firstName: 'Many', emails, tags, phones, customFields: bigFields(0, 20, 2000) }),
      }),
    );
    expect(created.status).toBe(201);
    const id = created.body.id;
    // The record, and one lookup per email, phone and tag: each lookup small although the record is ~45 KB.
    expect(createWrites).toHaveLength(1);
    const [record, ...lookups] = createWrites[0]!.putSizes;
    expect(createWrites[0]!.actions).toBe(1 + 10 + 3 + 20);
    expect(record).toBeGreaterThan(40_000);
    for (const size of lookups) expect(size).toBeLessThan(LOOKUP_ITEM_MAX);

    // A patch of anything outside the summary is one conditional Put.
    const unrelated = await writesOf(() =>
      as('PATCH', `/v1/contacts/${id}`, { body: { jobTitle: 'Chief', customFields: { f20: 'more' } } }),
    );
    expect(unrelated.result.status).toBe(200);
    expect(unrelated.writes).toEqual([{ type: 'Put', putSizes: [expect.any(Number)], actions: 1 }]);

    // Swapping one tag: the record, one lookup put, one lookup delete.
    const swapped = await writesOf(() =>
      as('PATCH', `/v1/contacts/${id}`, { body: { tags: [...tags.slice(0, 19), 'fresh'] } }),
    );
    expect(swapped.result.status).toBe(200);
    expect(swapped.writes).toHaveLength(1);
    expect(swapped.writes[0]!.actions).toBe(3);
    expect((await as('GET', '/v1/contacts?tag=t19')).body.items).toEqual([]);
    expect((await as('GET', '/v1/contacts?tag=fresh')).body.items.map((c: { id: string }) => c.id)).toEqual([id]);

    // A change of the summary (the name) rewrites every lookup, each still small.
    const renamed = await writesOf(() => as('PATCH', `/v1/contacts/${id}`, { body: { firstName: 'Renamed' } }));
    expect(renamed.result.status).toBe(200);
    expect(renamed.writes[0]!.actions).toBe(1 + 10 + 3 + 20);
    for (const size of renamed.writes[0]!.putSizes.slice(1)) expect(size).toBeLessThan(LOOKUP_ITEM_MAX);

    // Lists served by lookups return the summary.
    const summary = {
      id,
      firstName: 'Renamed',
      lastName: created.body.lastName,
      email: emails[0],
      lifecycleStage: 'lead',
    };
    expect((await as('GET', '/v1/contacts?tag=t0')).body.items).toStrictEqual([summary]);
    expect((await as('GET', `/v1/contacts?email=${emails[9]}`)).body.items).toStrictEqual([summary]);
    expect((await as('GET', '/v1/contacts?phone=%2B442079460020')).body.items).toStrictEqual([summary]);

    // And the lookup items in the table are small.
    for (const [kind, value] of [
      ['contact.tag', 't0'],
      ['contact.email', emails[9]!],
      ['contact.phone', '+442079460020'],
    ] as const) {
      const { Key } = model.entities.lookup.get({ tenantId, kind, value, targetId: id }).params();
      const { Item } = await raw.send(new GetCommand({ TableName: tableName, Key }));
      expect(Item?.summary).toStrictEqual(summary);
      expect(itemSize(Item!)).toBeLessThan(LOOKUP_ITEM_MAX);
    }
  });

  it('companies: lists by domain and tag return the summary; an unrelated patch is one Put', async () => {
    const tenantId = uniqueTenant('co');
    const as = companiesAs(tenantId);
    const created = await as('POST', '/v1/companies', {
      body: makeCompany({
        name: 'Summary Corp',
        domains: ['summary.example', 'second.example'],
        tags: ['a', 'b'],
        ownerId: 'u1',
      }),
    });
    expect(created.status).toBe(201);
    const summary = { id: created.body.id, name: 'Summary Corp', domain: 'summary.example', ownerId: 'u1' };
    expect((await as('GET', '/v1/companies?domain=second.example')).body.items).toStrictEqual([summary]);
    expect((await as('GET', '/v1/companies?tag=b')).body.items).toStrictEqual([summary]);
    const unrelated = await writesOf(() =>
      as('PATCH', `/v1/companies/${created.body.id}`, { body: { industry: 'Anything', employeeCount: 3 } }),
    );
    expect(unrelated.result.status).toBe(200);
    expect(unrelated.writes).toEqual([{ type: 'Put', putSizes: [expect.any(Number)], actions: 1 }]);
    // Reordering the domains changes the primary domain: every lookup carries the new summary.
    const reordered = await as('PATCH', `/v1/companies/${created.body.id}`, {
      body: { domains: ['second.example', 'summary.example'] },
    });
    expect(reordered.status).toBe(200);
    expect((await as('GET', '/v1/companies?tag=a')).body.items[0].domain).toBe('second.example');
  });
});

describe('Idempotency-Key expiry (controlled clock)', () => {
  const DAY_MS = 24 * 60 * 60 * 1000;

  it('replays a key until it expires; an expired key TTL has not yet deleted acts as a new key', async () => {
    const as = contactsAs(uniqueTenant('idem'));
    const t0 = Date.now();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(t0);
    const body = makeContact();
    const key = 'expiring-key';
    const first = await as('POST', '/v1/contacts', { body, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(201);

    vi.setSystemTime(t0 + DAY_MS - 1000);
    const replayed = await as('POST', '/v1/contacts', { body, headers: { 'idempotency-key': key } });
    expect(replayed.status).toBe(201);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(replayed.body).toStrictEqual(first.body);

    // 24 h later the record is still in the table (DynamoDB Local never runs TTL), but the key is new again.
    vi.setSystemTime(t0 + DAY_MS + 1000);
    const renewed = await as('POST', '/v1/contacts', { body, headers: { 'idempotency-key': key } });
    expect(renewed.status).toBe(201);
    expect(renewed.headers['idempotent-replayed']).toBeUndefined();
    expect(renewed.body.id).not.toBe(first.body.id);
    // ... and now replays the new first response.
    const again = await as('POST', '/v1/contacts', { body, headers: { 'idempotency-key': key } });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.id).toBe(renewed.body.id);

    // An expired key may also come back with a different body: it is a new request.
    vi.setSystemTime(t0 + 2 * DAY_MS + 2000);
    const other = await as('POST', '/v1/contacts', { body: makeContact(), headers: { 'idempotency-key': key } });
    expect(other.status).toBe(201);
    expect(other.headers['idempotent-replayed']).toBeUndefined();
  });
});
