import type { CompleteRecordChange } from '../../events/catalog.ts';
import { model } from '../db/store.ts';
import { loadCounter } from './service.ts';

/** How long an applied-event marker is kept: far longer than EventBridge and Lambda retry an event. */
const APPLIED_MARKER_TTL_SECONDS = 7 * 24 * 60 * 60;

export type LoadAction = 'created' | 'updated' | 'deleted' | 'restored';

/**
 * What a change of an owned record does to its owners' open loads. A user's load counts their open records:
 * created with an owner +1 (unless an assignment rule chose it: the chooser counted it already), deleted -1, restored
 * +1, reassigned -1 for the old owner and +1 for the new. (Leads and deals feed it the same way once they publish:
 * their `status` closing (converted, disqualified, won, lost) is -1 like a deletion; see README.)
 */
export function loadDeltas(action: LoadAction, detail: CompleteRecordChange): Map<string, number> {
  const record = detail.record as Record<string, unknown>;
  const deltas = new Map<string, number>();
  const add = (userId: unknown, by: number) => {
    if (typeof userId !== 'string' || userId === '') return;
    const next = (deltas.get(userId) ?? 0) + by;
    if (next === 0) deltas.delete(userId);
    else deltas.set(userId, next);
  };
  switch (action) {
    case 'created':
      if (!record.assignedByRule) add(record.ownerId, 1);
      break;
    case 'deleted':
      add(record.ownerId, -1);
      break;
    case 'restored':
      add(record.ownerId, 1);
      break;
    case 'updated': {
      const owner = detail.changes.ownerId;
      if (owner) {
        add(owner.old, -1);
        add(owner.new, 1);
      }
      break;
    }
  }
  return deltas;
}

/**
 * Applies the deltas of one change exactly once: the ADDs and an `applied#<entity>#<id>#<version>` marker go in one
 * transaction that fails if the marker exists, so a redelivered event changes nothing. Returns false for a repeat.
 */
export async function applyLoadDeltas(detail: CompleteRecordChange, deltas: Map<string, number>): Promise<boolean> {
  if (deltas.size === 0) return true;
  const { tenantId } = detail;
  const now = new Date();
  const marker = `applied#${detail.entity}#${detail.entityId}#${detail.version}`;
  type Op = { commit: () => unknown };
  const counter = model.entities.assignmentCounter as unknown as {
    create: (item: Record<string, unknown>) => Op;
    update: (key: Record<string, unknown>) => {
      add: (v: Record<string, number>) => { set: (v: Record<string, unknown>) => Op };
    };
  };
  const ops = [
    counter
      .create({
        tenantId,
        counterId: marker,
        updatedAt: now.toISOString(),
        ttl: Math.floor(now.getTime() / 1000) + APPLIED_MARKER_TTL_SECONDS,
      })
      .commit(),
    ...[...deltas].map(([userId, by]) =>
      counter
        .update({ tenantId, counterId: loadCounter(userId) })
        .add({ value: by })
        .set({ updatedAt: now.toISOString() })
        .commit(),
    ),
  ];
  const result = (await (
    model.transaction.write as unknown as (fn: () => unknown[]) => {
      go: () => Promise<{ canceled: boolean; data: Array<{ rejected: boolean; code: string }> }>;
    }
  )(() => ops).go()) as { canceled: boolean; data: Array<{ code: string }> };
  if (!result.canceled) return true;
  if (result.data[0]?.code === 'ConditionalCheckFailed') return false;
  throw new Error(`load transaction cancelled: ${result.data.map((d) => d.code).join(', ')}`);
}
