import { ConflictError, type DomainError } from '../errors.ts';
import { type EntityName, type ItemWrite, writeRecord } from './store.ts';

/** The version and audit fields of a tenant's one-item document (settings, rule sets, custom-field schemas). */
export interface DocumentVersion {
  version: number;
  createdAt: string;
  updatedAt: string;
  createdBy?: string | undefined;
  updatedBy?: string | undefined;
}

/** What every stored record carries beside its own fields: its version, who made and changed it, and its trash. */
export interface StoredAudit {
  version: number;
  createdAt: string;
  updatedAt: string;
  createdBy?: string;
  updatedBy?: string;
  deletedAt?: string;
  deletedBy?: string;
}

/**
 * Replaces a tenant's one-item document as a whole: the next version with its audit fields, written conditioned on
 * the version read (the first write must create it), so a concurrent replace fails with `conflict` (412) instead of
 * being lost. Version 0 is the document never written.
 */
export async function replaceDocument<V extends DocumentVersion>(options: {
  entity: EntityName;
  tenantId: string;
  current: V;
  values: Omit<V, keyof DocumentVersion>;
  actorId: string;
  conflict: () => DomainError;
}): Promise<V> {
  const { current, actorId } = options;
  const now = new Date().toISOString();
  const next = {
    ...options.values,
    version: current.version + 1,
    createdAt: current.version === 0 ? now : current.createdAt,
    updatedAt: now,
    createdBy: current.createdBy ?? actorId,
    updatedBy: actorId,
  } as V;
  await writeRecord({
    entity: options.entity,
    item: { ...(next as Record<string, unknown>), tenantId: options.tenantId },
    ...(current.version === 0 ? {} : { expectedVersion: current.version }),
    onVersionConflict: options.conflict,
  });
  return next;
}

/**
 * The writes that make a record its tenant's default of its kind (the default pipeline, the default SLA policy): the
 * pointer item, new or moved from the previous default at its version, and the previous default's `isDefault`
 * cleared at its version. They go into one transaction with the record itself, so two racing changes of the default
 * cannot both win (the loser gets `request.conflict`).
 */
export async function becomeDefaultWrites<R extends { version: number; isDefault: boolean }>(options: {
  /** The pointer entity (one item per tenant) and the record entity. */
  pointer: EntityName;
  record: EntityName;
  /** The record's id attribute in both (e.g. `pipelineId`). */
  idField: string;
  tenantId: string;
  id: string;
  /** The pointer as stored now. */
  current: { id: string; version: number } | undefined;
  readRecord: (id: string) => Promise<R | undefined>;
  /** The record as stored (its index keys derived). */
  itemOf: (record: R) => Record<string, unknown>;
  updatedAt: string;
  actorId: string;
  /** What changed meanwhile, for the conflict's message (e.g. "default pipeline"). */
  what: string;
}): Promise<ItemWrite[]> {
  const { current, tenantId } = options;
  const pointer = { tenantId, [options.idField]: options.id };
  const raced = () => new ConflictError('request.conflict', `The ${options.what} changed meanwhile; retry.`);
  if (!current) return [{ put: options.pointer, item: { ...pointer, version: 1 }, mustBeNew: true, onConflict: raced }];
  if (current.id === options.id) return [];
  const writes: ItemWrite[] = [
    {
      put: options.pointer,
      item: { ...pointer, version: current.version + 1 },
      expectedVersion: current.version,
      onConflict: raced,
    },
  ];
  const previous = await options.readRecord(current.id);
  if (previous) {
    writes.push({
      put: options.record,
      item: options.itemOf({
        ...previous,
        isDefault: false,
        version: previous.version + 1,
        updatedAt: options.updatedAt,
        updatedBy: options.actorId,
      }),
      expectedVersion: previous.version,
      onConflict: raced,
    });
  }
  return writes;
}

/** What moving a record to the trash and back changes. */
type TrashableVersion = { version: number; deletedAt?: string | undefined; deletedBy?: string | undefined };

/** The next version of a record moved to the trash: its version bumped, updated and deleted by the actor, now. */
export function trashedVersion<R extends TrashableVersion>(
  previous: R,
  actorId: string,
  now = new Date().toISOString(),
): R {
  return {
    ...previous,
    version: previous.version + 1,
    updatedAt: now,
    updatedBy: actorId,
    deletedAt: now,
    deletedBy: actorId,
  };
}

/** The next version of a record back from the trash: without its deletion fields, its version bumped. */
export function restoredVersion<R extends TrashableVersion>(previous: R, actorId: string): R {
  const { deletedAt: _at, deletedBy: _by, ...rest } = previous;
  return {
    ...rest,
    version: previous.version + 1,
    updatedAt: new Date().toISOString(),
    updatedBy: actorId,
  } as unknown as R;
}
