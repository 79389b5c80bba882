import type { DomainError } from '../errors.ts';
import { type EntityName, writeRecord } from './store.ts';

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
