import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { CATALOG, type CatalogEvent, catalogEvent, type DetailType, PUBLISHED_ENTITIES } from '../../events/catalog.ts';
import { itemView } from '../db/item-view.ts';
import { changedFields } from '../records/merge-patch.ts';

const ID_FIELD: Record<string, string> = { contact: 'contactId', company: 'companyId', note: 'noteId' };

type Item = Record<string, unknown>;

function changes(before: Item, after: Item): Record<string, { old?: unknown; new?: unknown }> {
  const result: Record<string, { old?: unknown; new?: unknown }> = {};
  for (const key of changedFields(before, after)) {
    if (key === 'id') continue;
    result[key] = {
      ...(before[key] !== undefined ? { old: before[key] } : {}),
      ...(after[key] !== undefined ? { new: after[key] } : {}),
    };
  }
  return result;
}

function action(
  oldItem: Item | undefined,
  newItem: Item | undefined,
): 'created' | 'updated' | 'deleted' | 'restored' | 'merged' {
  if (!oldItem) return 'created';
  if (!newItem) return 'deleted';
  if (!oldItem.mergedInto && newItem.mergedInto) return 'merged';
  if (!oldItem.deletedAt && newItem.deletedAt) return 'deleted';
  if (oldItem.deletedAt && !newItem.deletedAt) return 'restored';
  return 'updated';
}

/**
 * The explicit mapping from a table change to a catalog event, with every value inline (the publisher then bounds it
 * with `boundRecordChange`, shared/events/bounds.ts). Returns undefined for items that are not published (lookups,
 * idempotency records, settings) and for writes that changed nothing visible.
 */
export function eventFromStreamRecord(record: DynamoDBRecord): CatalogEvent | undefined {
  const image = (i: unknown) => (i ? unmarshall(i as Record<string, AttributeValue>) : undefined);
  const oldItem = image(record.dynamodb?.OldImage);
  const newItem = image(record.dynamodb?.NewImage);
  const current = newItem ?? oldItem;
  const entity = String(current?.__edb_e__ ?? '');
  if (!current || !(PUBLISHED_ENTITIES as readonly string[]).includes(entity)) return undefined;

  const before = oldItem ? itemView(oldItem, ID_FIELD[entity]!) : {};
  const after = newItem ? itemView(newItem, ID_FIELD[entity]!) : {};
  const kind = action(oldItem, newItem);
  const changed = changes(before, after);
  if (kind === 'updated' && Object.keys(changed).length === 0) return undefined;
  const detailType = `${entity}.${kind}`;
  // A change the catalog has no type for (e.g. a note restore) is skipped, never allowed to wedge the stream.
  if (!(detailType in CATALOG)) return undefined;

  return catalogEvent(detailType as DetailType, {
    schemaVersion: 2,
    tenantId: String(current.tenantId),
    entity: entity as 'contact',
    entityId: String(current[ID_FIELD[entity]!]),
    version: Number(current.version),
    occurredAt: String((kind === 'deleted' ? current.deletedAt : current.updatedAt) ?? current.updatedAt),
    ...(current.updatedBy ? { actorId: String(current.updatedBy) } : {}),
    changes: changed,
    record: kind === 'deleted' && !newItem ? before : after,
  });
}
