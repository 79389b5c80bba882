import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { PutCommand, TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { ConflictError, type DomainError, IdempotentReplay, ValidationError } from '../errors.ts';
import { documentClient, tableName } from './client.ts';
import type { LookupKind } from './entities/lookup.ts';
import { createModel } from './model.ts';

/** The model bound to this function's table: created once per container. */
export const model = createModel({ table: tableName, client: documentClient });

/** How long a stored idempotent response is honoured. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
type PutParams = { Item: Record<string, unknown>; TableName: string; ConditionExpression?: string } & Record<
  string,
  unknown
>;

export interface LookupEntry {
  kind: LookupKind;
  value: string;
}

/** A write must see a referenced record live (e.g. a contact's company), checked inside the same transaction. */
export interface ReferenceCheck {
  key: Record<string, unknown>;
  error: DomainError;
}

export interface RecordWrite {
  entity: 'contact' | 'company' | 'note' | 'customFieldSchema';
  /** The whole item to store (attributes + derived GSI keys). */
  item: Record<string, unknown>;
  /** Absent: a create (the id must be new). Present: the stored version must still be this. */
  expectedVersion?: number;
  onVersionConflict: () => DomainError;
  /** Lookup items to keep in step with the record: `next` are put (with a fresh copy), `previous - next` deleted. */
  lookups?: { tenantId: string; targetId: string; next: LookupEntry[]; previous: LookupEntry[]; record: unknown };
  references?: ReferenceCheck[];
  idempotency?: { tenantId: string; key: string; requestHash: string; statusCode: number; response: unknown };
}

/**
 * Writes a record and everything that must change with it in one request: a conditional Put when it stands alone,
 * otherwise one TransactWriteItems (record + lookups + reference checks + idempotency record). A failed condition
 * becomes the domain error it means.
 */
export async function writeRecord(write: RecordWrite): Promise<void> {
  const entity = model.entities[write.entity] as unknown as {
    put: (item: Record<string, unknown>) => { where: WhereFn; params: () => PutParams };
    create: (item: Record<string, unknown>) => { params: () => PutParams };
  };
  const recordPut =
    write.expectedVersion === undefined
      ? entity.create(write.item).params()
      : entity
          .put(write.item)
          .where((attr: Record<string, unknown>, op: { eq: (a: unknown, v: unknown) => string }) =>
            op.eq(attr.version, write.expectedVersion),
          )
          .params();

  const items: TransactItem[] = [{ Put: recordPut }];
  const explain: Array<() => Error> = [write.onVersionConflict];

  for (const check of write.references ?? []) {
    items.push({
      ConditionCheck: {
        TableName: tableName,
        Key: check.key,
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(deletedAt)',
      },
    });
    explain.push(() => check.error);
  }

  if (write.lookups) {
    const { tenantId, targetId, record } = write.lookups;
    const nextKeys = new Set(write.lookups.next.map((l) => `${l.kind}\n${l.value}`));
    for (const entry of write.lookups.next) {
      items.push({ Put: model.entities.lookup.put({ tenantId, targetId, record, ...entry }).params() as PutParams });
      explain.push(() => new ConflictError('request.conflict', 'A concurrent change interfered; retry.'));
    }
    for (const entry of write.lookups.previous) {
      if (nextKeys.has(`${entry.kind}\n${entry.value}`)) continue;
      items.push({ Delete: model.entities.lookup.delete({ tenantId, targetId, ...entry }).params() });
      explain.push(() => new ConflictError('request.conflict', 'A concurrent change interfered; retry.'));
    }
  }

  if (write.idempotency) {
    const { tenantId, key, requestHash, statusCode, response } = write.idempotency;
    const now = new Date();
    items.push({
      Put: model.entities.idempotency
        .create({
          tenantId,
          key,
          requestHash,
          statusCode,
          response,
          createdAt: now.toISOString(),
          expiresAt: Math.floor(now.getTime() / 1000) + IDEMPOTENCY_TTL_SECONDS,
        })
        .params() as PutParams,
    });
    explain.push(() => new IdempotentReplay(key));
  }

  if (items.length > 100) throw new ValidationError('This change touches too many indexed values at once.');

  try {
    if (items.length === 1) {
      await documentClient.send(new PutCommand(recordPut));
    } else {
      await documentClient.send(new TransactWriteCommand({ TransactItems: items }));
    }
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) throw write.onVersionConflict();
    if (error instanceof TransactionCanceledException) {
      const reasons = error.CancellationReasons ?? [];
      // An idempotency hit explains everything else that was cancelled with it.
      const replayIndex = write.idempotency ? items.length - 1 : -1;
      if (replayIndex >= 0 && reasons[replayIndex]?.Code === 'ConditionalCheckFailed') throw explain[replayIndex]!();
      const failed = reasons.findIndex((r) => r.Code === 'ConditionalCheckFailed');
      if (failed >= 0) throw explain[failed]!();
      if (reasons.some((r) => r.Code === 'TransactionConflict')) {
        throw new ConflictError('request.conflict', 'A concurrent change to the same record interfered; retry.');
      }
    }
    throw error;
  }
}

type WhereFn = (fn: (attr: Record<string, unknown>, op: { eq: (a: unknown, v: unknown) => string }) => string) => {
  params: () => PutParams;
};

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
