import { isDeepStrictEqual } from 'node:util';
import { ConflictError, DomainError, IdempotentReplay, PreconditionFailedError, ValidationError } from '../errors.ts';
import { documentClient, tableName } from './client.ts';
import type { LookupKind } from './entities/lookup.ts';
import { DYNAMODB_MAX_ITEM_BYTES, itemSize, RecordTooLargeError } from './item-size.ts';
import { type CrmModel, createModel } from './model.ts';

let bound: CrmModel | undefined;

/**
 * The model bound to this function's table: created on first use (TABLE_NAME is read then, not when a module that
 * imports this loads), then kept for the container's lifetime.
 */
export const model: CrmModel = new Proxy({} as CrmModel, {
  get: (_target, property) => {
    bound ??= createModel({ table: tableName(), client: documentClient });
    return Reflect.get(bound, property);
  },
});

/** How long a stored idempotent response is honoured. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;

export interface LookupEntry {
  kind: LookupKind;
  value: string;
}

/** Any entity of the table, by its name in the model (shared/db/model.ts). */
export type EntityName = keyof CrmModel['entities'];

/** A write must see a referenced record live (e.g. a contact's company), checked inside the same transaction. */
export interface ReferenceCheck {
  entity: EntityName;
  /** The referenced record's ElectroDB key, e.g. `{ tenantId, companyId }`. */
  key: Record<string, string>;
  error: DomainError;
}

/** Lookup items to keep in step with a record: what it is indexed by before and after, and its summary then and now. */
export interface LookupChange {
  tenantId: string;
  targetId: string;
  next: LookupEntry[];
  previous: LookupEntry[];
  /** The small projection each lookup item carries (what lists served by lookups return). */
  summary: unknown;
  /** The summary the existing lookup items carry (the previous version's). */
  previousSummary?: unknown;
}

/**
 * Any other item that must change in the same transaction as a record: a unique-key claim, a stage-history entry, a
 * timeline link, a counter. `put` with `mustBeNew` fails if the item exists; with `expectedVersion`, unless its
 * version is still that; `check` requires the item to exist and be live. Each names the error its failure means.
 */
export type ItemWrite =
  | {
      put: EntityName;
      item: Record<string, unknown>;
      mustBeNew?: boolean;
      expectedVersion?: number;
      /** What a failed condition means (required when the put has one). */
      onConflict?: () => DomainError;
    }
  | {
      delete: EntityName;
      key: Record<string, unknown>;
      onConflict?: () => DomainError;
      /** Deleted only if each of these attributes still has this value (e.g. a claim's owner, a record's version). */
      expect?: Record<string, string | number>;
    }
  | {
      check: EntityName;
      key: Record<string, unknown>;
      error: DomainError;
      /** The item must still be at this version (e.g. a deal's pipeline, whose stages the deal was checked against). */
      expectedVersion?: number;
    };

export interface RecordWrite {
  entity: EntityName;
  /** The whole item to store (attributes + derived GSI keys). */
  item: Record<string, unknown>;
  /** Absent: a create (the id must be new). Present: the stored version must still be this. */
  expectedVersion?: number;
  onVersionConflict: () => DomainError;
  lookups?: LookupChange;
  references?: ReferenceCheck[];
  idempotency?: { tenantId: string; key: string; requestHash: string; statusCode: number; response: unknown };
  /**
   * A cap below DynamoDB's 400 KB on the item as stored (attributes, keys and ElectroDB's markers), with the error
   * that names what to shorten; checked before anything is sent.
   */
  sizeLimit?: { bytes: number; tooLarge: (stored: Record<string, unknown>, size: number) => DomainError };
  /** Other items written in the same transaction (see ItemWrite). */
  items?: ItemWrite[];
}

/** An ElectroDB write operation before it runs: its DynamoDB params, or its part of a transaction. */
interface WriteOp {
  params: () => { Item?: Record<string, unknown> } & Record<string, unknown>;
  commit: () => unknown;
  go: (options?: Record<string, unknown>) => Promise<{ rejected?: boolean }>;
}
type Where = (
  fn: (attr: Record<string, unknown>, op: Record<string, (...args: unknown[]) => string>) => string,
) => WriteOp;
interface EntityOps {
  put: (item: Record<string, unknown>) => WriteOp & { where: Where };
  create: (item: Record<string, unknown>) => WriteOp;
  delete: (key: Record<string, unknown>) => WriteOp;
  check: (key: Record<string, unknown>) => { where: Where };
}

const entityOps = (name: keyof typeof model.entities) => model.entities[name] as unknown as EntityOps;

const lookupId = (l: LookupEntry) => `${l.kind}\n${l.value}`;

/**
 * The lookup puts and deletes a change needs: values added are put; when the summary changed, every value is put
 * (each item carries it); values removed are deleted. A write that changes neither touches no lookup.
 */
export function lookupDelta(change: LookupChange): { put: LookupEntry[]; remove: LookupEntry[] } {
  const before = new Set(change.previous.map(lookupId));
  const after = new Set(change.next.map(lookupId));
  const summaryChanged = !isDeepStrictEqual(change.summary, change.previousSummary);
  return {
    put: change.next.filter((l) => summaryChanged || !before.has(lookupId(l))),
    remove: change.previous.filter((l) => !after.has(lookupId(l))),
  };
}

/**
 * A record write's version condition: on the version read when there is a `previous` (PATCH, DELETE: 412 if it
 * changed meanwhile), else the id must be new (create: 409 `<entity>.exists`).
 */
export function versionCondition(
  entity: string,
  id: string,
  previous: { version: number } | undefined,
): Pick<RecordWrite, 'expectedVersion' | 'onVersionConflict'> {
  return {
    ...(previous ? { expectedVersion: previous.version } : {}),
    onVersionConflict: () =>
      previous
        ? new PreconditionFailedError(entity, id)
        : new DomainError(409, `${entity}.exists`, `${entity} ${id} already exists.`),
  };
}

/**
 * Writes a record and everything that must change with it in one request: a conditional Put when it stands alone,
 * otherwise one TransactWriteItems through ElectroDB's transaction API (record + changed lookups + reference checks
 * + idempotency record). A failed condition becomes the domain error it means.
 */
export async function writeRecord(write: RecordWrite): Promise<void> {
  return writeRecords([write]);
}

/** One planned operation of a transaction and the error its failed condition means. */
interface PlannedOp {
  op: WriteOp;
  explain: () => Error;
  replay?: boolean;
}

const interfered = () => new ConflictError('request.conflict', 'A concurrent change interfered; retry.');

function planItemWrite(write: ItemWrite): PlannedOp {
  if ('put' in write) {
    const entity = entityOps(write.put);
    const op = write.mustBeNew
      ? entity.create(write.item)
      : write.expectedVersion !== undefined
        ? entity.put(write.item).where((attr, o) => o.eq!(attr.version, write.expectedVersion))
        : entity.put(write.item);
    return { op, explain: write.onConflict ?? interfered };
  }
  if ('delete' in write) {
    const expect = Object.entries(write.expect ?? {});
    const op =
      expect.length === 0
        ? entityOps(write.delete).delete(write.key)
        : (entityOps(write.delete).delete(write.key) as unknown as { where: Where }).where((attr, o) =>
            expect.map(([name, value]) => o.eq!(attr[name], value)).join(' AND '),
          );
    return { op, explain: write.onConflict ?? interfered };
  }
  const op = entityOps(write.check)
    .check(write.key)
    // Live: it exists and, for entities with a trash, is not in it; at the expected version when one is given.
    .where((attr, o) => {
      const live = attr.deletedAt
        ? `${o.exists!(attr.tenantId)} AND ${o.notExists!(attr.deletedAt)}`
        : o.exists!(attr.tenantId);
      return write.expectedVersion === undefined ? live : `${live} AND ${o.eq!(attr.version, write.expectedVersion)}`;
    });
  return { op: op as unknown as WriteOp, explain: () => write.error };
}

function planRecordWrite(write: RecordWrite): PlannedOp[] {
  const entity = entityOps(write.entity);
  const expected = write.expectedVersion;
  const recordOp =
    expected === undefined
      ? entity.create(write.item)
      : entity.put(write.item).where((attr, op) => op.eq!(attr.version, expected));
  // DynamoDB refuses items over 400 KB with a ValidationException (a 500): refuse them as the client's problem.
  // Records have a much smaller cap of their own (shared/records/lifecycle.ts); this guards every other write.
  const stored = recordOp.params().Item ?? {};
  const size = itemSize(stored);
  if (write.sizeLimit && size > write.sizeLimit.bytes) throw write.sizeLimit.tooLarge(stored, size);
  if (size > DYNAMODB_MAX_ITEM_BYTES) throw new RecordTooLargeError(write.entity, size, DYNAMODB_MAX_ITEM_BYTES, []);

  const planned: PlannedOp[] = [{ op: recordOp, explain: write.onVersionConflict }];
  for (const check of write.references ?? []) planned.push(planItemWrite({ check: check.entity, ...check }));

  if (write.lookups) {
    const { tenantId, targetId, summary } = write.lookups;
    const { put, remove } = lookupDelta(write.lookups);
    for (const entry of put) {
      planned.push({ op: entityOps('lookup').put({ tenantId, targetId, summary, ...entry }), explain: interfered });
    }
    for (const entry of remove) {
      planned.push({ op: entityOps('lookup').delete({ tenantId, targetId, ...entry }), explain: interfered });
    }
  }
  for (const item of write.items ?? []) planned.push(planItemWrite(item));

  if (write.idempotency) {
    const { tenantId, key, requestHash, statusCode, response } = write.idempotency;
    const now = Date.now();
    const nowSeconds = Math.floor(now / 1000);
    // A key is new unless an unexpired record holds it. TTL deletes expired records late (DynamoDB Local never), so
    // an expired one may still be there: it is overwritten, and the key acts as new (see idempotency.ts).
    planned.push({
      op: entityOps('idempotency')
        .put({
          tenantId,
          key,
          requestHash,
          statusCode,
          response,
          createdAt: new Date(now).toISOString(),
          expiresAt: nowSeconds + IDEMPOTENCY_TTL_SECONDS,
        })
        .where((attr, op) => `${op.notExists!(attr.key)} OR ${op.lte!(attr.expiresAt, nowSeconds)}`),
      explain: () => new IdempotentReplay(key),
      replay: true,
    });
  }
  return planned;
}

/**
 * Writes records, and everything that must change with them, in one request: a conditional Put when it is a single
 * item, otherwise one TransactWriteItems through ElectroDB's transaction API (records + changed lookups + reference
 * checks + other items + idempotency records). A failed condition becomes the domain error it means. Several records
 * in one call is how a lead conversion or a merge stays all-or-nothing.
 */
export async function writeRecords(writes: RecordWrite[], items: ItemWrite[] = []): Promise<void> {
  const planned = [...writes.flatMap(planRecordWrite), ...items.map(planItemWrite)];
  if (planned.length > 100) throw new ValidationError('This change touches too many indexed values at once.');

  if (planned.length === 1) {
    const only = planned[0]!;
    const result = await only.op.go({ response: 'none', returnOnConditionCheckFailure: true });
    if (result.rejected) throw only.explain();
    return;
  }

  const committed = planned.map((p) => p.op.commit());
  const result = (await (
    model.transaction.write as unknown as (fn: () => unknown[]) => {
      go: () => Promise<{ canceled: boolean; data: Array<{ rejected: boolean; code: string }> }>;
    }
  )(() => committed).go()) as { canceled: boolean; data: Array<{ rejected: boolean; code: string }> };
  if (!result.canceled) return;
  const codes = result.data.map((r) => r.code);
  // An idempotency hit explains everything else that was cancelled with it.
  const replay = planned.findIndex((p, i) => p.replay && codes[i] === 'ConditionalCheckFailed');
  if (replay >= 0) throw planned[replay]!.explain();
  const failed = codes.indexOf('ConditionalCheckFailed');
  if (failed >= 0) throw planned[failed]!.explain();
  if (codes.includes('TransactionConflict')) {
    throw new ConflictError('request.conflict', 'A concurrent change to the same record interfered; retry.');
  }
  throw new Error(`Transaction cancelled: ${codes.join(', ')}`);
}

/**
 * Cursors are ElectroDB's (base64url of the last key). We check a cursor belongs to the index partition being
 * queried before DynamoDB sees it, so a forged cursor can neither reach another tenant nor cause a 5xx. It must also
 * be a well-formed key of that index: exactly the table's and the index's key attributes, as non-empty strings; and
 * when the query narrows the sort key (a prefix, a lower bound), inside that range, which DynamoDB also insists on.
 * Returns the checked key, for queries that pass it to DynamoDB themselves.
 */
export function checkCursor(
  cursor: string | undefined,
  indexKeyField: string,
  expectedPartition: string,
  sortKeyInRange: (sortKey: string) => boolean = () => true,
): Record<string, string> | undefined {
  if (cursor === undefined) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const isObject = typeof decoded === 'object' && decoded !== null && !Array.isArray(decoded);
  const key = (isObject ? decoded : {}) as Record<string, unknown>;
  const sortKeyField = indexKeyField.replace(/pk$/, 'sk');
  const keyFields = new Set(['pk', 'sk', indexKeyField, sortKeyField]);
  const wellFormed =
    Object.keys(key).length === keyFields.size &&
    [...keyFields].every((field) => typeof key[field] === 'string' && key[field] !== '');
  if (!wellFormed || key[indexKeyField] !== expectedPartition || !sortKeyInRange(key[sortKeyField] as string)) {
    throw new ValidationError('The cursor does not belong to this list.', [
      { field: 'query.cursor', message: 'Pass the nextCursor returned with the same filters.' },
    ]);
  }
  return key as Record<string, string>;
}
