/**
 * The items the service writes, built with the service's own code (schema, contactKind, keys, ElectroDB params), so
 * the raw DynamoDB baseline sends what the API sends. Import this only after TABLE_NAME is set: the entity model in
 * shared/db/store.ts binds to it at module load (its client is never used here; we only call `.params()`).
 */
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import { ContactCreate } from '../shared/contacts/schema.ts';
import { contactKind } from '../shared/contacts/service.ts';
import { contactIndex } from '../shared/db/keys.ts';
import { model } from '../shared/db/store.ts';
import type { Stored } from '../shared/records/lifecycle.ts';
import { mergePatch } from '../shared/records/merge-patch.ts';

type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;
type Params = Record<string, unknown> & { Item: Record<string, unknown>; TableName: string };

/** As lifecycle.ts does: empty collections are never stored. */
function withoutEmpty(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(fields).filter(
      ([, v]) =>
        !(Array.isArray(v) && v.length === 0) &&
        !(typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0),
    ),
  );
}

/** The stored contact (attributes + GSI keys) createRecord would build from a request body. */
export function storedContact(tenantId: string, userId: string, body: Record<string, unknown>): Stored {
  const input = ContactCreate.parse(body) as Record<string, unknown>;
  const now = new Date().toISOString();
  return {
    ...contactKind.derive(withoutEmpty(mergePatch({}, input))),
    tenantId,
    contactId: ulid(),
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: userId,
    updatedBy: userId,
  };
}

/** What writeRecord sends for a create: the record's conditional Put plus one Put per lookup value (with the summary). */
export function createContactWrite(tenantId: string, userId: string, body: Record<string, unknown>) {
  const stored = storedContact(tenantId, userId, body);
  const id = String(stored.contactId);
  const item = { ...stored, ...contactKind.keys(stored) };
  const summary = contactKind.summary(stored);
  const put = model.entities.contact.create(item as never).params() as Params;
  const items: TransactItems = [{ Put: put }];
  for (const entry of contactKind.lookups(stored)) {
    items.push({ Put: model.entities.lookup.put({ tenantId, targetId: id, summary, ...entry }).params() as Params });
  }
  return { id, put, items };
}

/** A contact item as it lies in the table (no lookups: the default list does not need them), for seeding. */
export function seedContactItem(tenantId: string, n: number): Record<string, unknown> {
  const stored = storedContact(tenantId, 'bench-seed', {
    firstName: FIRST[n % FIRST.length],
    lastName: `${LAST[Math.floor(n / FIRST.length) % LAST.length]}-${n.toString(36)}`,
    emails: [`seed.${n}@example.com`],
    lifecycleStage: 'lead',
  });
  const item = { ...stored, ...contactKind.keys(stored) };
  return (model.entities.contact.put(item as never).params() as Params).Item;
}

/** GetItem params for one contact. */
export function getContactParams(tenantId: string, contactId: string) {
  return model.entities.contact.get({ tenantId, contactId }).params();
}

/** The default list's Query: gsi4, the tenant's name partition, ascending, 25 items (what listContacts sends). */
export function listContactsParams(tenantId: string, limit = 25) {
  return model.entities.contact.query.gsi4({ gsi4pk: contactIndex.name(tenantId) }).params({ limit, order: 'asc' });
}

/** A cursor in ElectroDB's format (base64url of the last key) that starts a page right after `item`. */
export function cursorAfter(item: Record<string, unknown>): string {
  const key = { pk: item.pk, sk: item.sk, gsi4pk: item.gsi4pk, gsi4sk: item.gsi4sk };
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Ken', 'Radia', 'Tim', 'Frances'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton', 'Thompson', 'Perlman'];
