/**
 * The items the service writes, built with the service's own code (schema, contactKind, keys, ElectroDB params), so
 * the raw DynamoDB baseline sends what the API sends. Import this only after TABLE_NAME is set: the entity model in
 * shared/db/store.ts binds to it at module load (its client is never used here; we only call `.params()`).
 */
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import { ContactCreate } from '../shared/contacts/schema.ts';
import { contactKind } from '../shared/contacts/service.ts';
import { contactIndex, dealIndex, dealKeys, sortableName } from '../shared/db/keys.ts';
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

/** A pipeline stage as the deal seeding needs it. */
export interface SeedStage {
  id: string;
  kind: 'open' | 'won' | 'lost';
  probability: number;
}

/**
 * A deal item as planDealCreate + writeRecords store it for a deal without contacts, company or line items (its
 * stage-history entry is left out: the board and a stage move read only the deal), for seeding. The deals module's
 * own key builder (dealKeys) places it on the board's partitions.
 */
export function seedDealItem(
  tenantId: string,
  userId: string,
  pipelineId: string,
  stage: SeedStage,
  n: number,
): Record<string, unknown> {
  const now = new Date().toISOString();
  const name = `Deal ${n.toString(36)} ${LAST[n % LAST.length]}`;
  const undated = n % 10 === 9;
  const close = new Date(Date.UTC(2027, 0, 1) + (n % 365) * 86_400_000).toISOString().slice(0, 10);
  const deal = Object.fromEntries(
    Object.entries({
      tenantId,
      dealId: ulid(),
      name,
      sortName: sortableName(name),
      amount: 100_000 + (n % 97) * 1_000,
      currency: 'EUR',
      expectedCloseDate: undated ? undefined : close,
      pipelineId,
      stageId: stage.id,
      status: stage.kind,
      probability: stage.probability,
      stageEnteredAt: now,
      closedAt: stage.kind === 'open' ? undefined : now,
      lostReason: stage.kind === 'lost' ? 'Price' : undefined,
      ownerId: userId,
      version: 1,
      createdAt: now,
      updatedAt: now,
      createdBy: userId,
      updatedBy: userId,
    }).filter(([, v]) => v !== undefined),
  ) as unknown as Parameters<typeof dealKeys>[0] & Record<string, unknown>;
  return (model.entities.deal.create({ ...deal, ...dealKeys(deal) } as never).params() as Params).Item;
}

/** GetItem params of a pipeline (the board's first read). */
export function getPipelineParams(tenantId: string, pipelineId: string) {
  return model.entities.pipeline.get({ tenantId, pipelineId }).params();
}

/** One stage's board Query (gsi2, the stage's partition, soonest close first), as stageDeals sends it. */
export function stageDealsParams(tenantId: string, pipelineId: string, stageId: string, limit: number) {
  return model.entities.deal.query
    .gsi2({ gsi2pk: dealIndex.stage(tenantId, pipelineId, stageId) })
    .params({ limit, order: 'asc' });
}

/** GetItem params for one deal (to compare a seeded deal item with one the API wrote). */
export function getDealParams(tenantId: string, dealId: string) {
  return model.entities.deal.get({ tenantId, dealId }).params();
}
