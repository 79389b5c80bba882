import type { CompleteRecordChange } from '../../events/catalog.ts';
import { model } from '../db/store.ts';
import { type LoadKind, loadCounter } from './service.ts';

/** How long an applied-event marker is kept: far longer than EventBridge and Lambda retry an event. */
const APPLIED_MARKER_TTL_SECONDS = 7 * 24 * 60 * 60;

export type LoadAction = 'created' | 'updated' | 'deleted' | 'restored';

/**
 * Whether a record counts toward its owner's open load: a lead until it is converted or disqualified, a deal while
 * its stage is an open one, a ticket while unresolved (new, open, pending, on hold), a contact always (while live).
 */
const OPEN: Record<string, (record: Record<string, unknown>) => boolean> = {
  lead: (r) => r.status !== 'converted' && r.status !== 'disqualified',
  deal: (r) => r.status === 'open',
  ticket: (r) => r.status !== 'solved' && r.status !== 'closed',
};
const isOpen = (entity: string, record: Record<string, unknown>) => OPEN[entity]?.(record) ?? true;

/** A ticket's owner is its assignee, and its load is counted apart (ticket routing's least busy compares it). */
const ownerField = (entity: string) => (entity === 'ticket' ? 'assigneeId' : 'ownerId');
export const loadKindOf = (entity: string): LoadKind => (entity === 'ticket' ? 'tickets' : 'records');

/**
 * Whether an update is the routing workflow assigning the ticket: its chooser added the load already (as a rule's
 * choice on create does), so the update must not count it again. It sets `routing.assigneeId` and the assignee together.
 */
function routedByWorkflow(detail: CompleteRecordChange): boolean {
  const change = detail.changes.routing;
  const assignee = detail.changes.assigneeId;
  if (detail.entity !== 'ticket' || !change || !assignee) return false;
  const routing = change.new as { status?: unknown; assigneeId?: unknown } | undefined;
  return routing?.status === 'routed' && routing.assigneeId !== undefined && routing.assigneeId === assignee.new;
}

/**
 * What a change of an owned record does to its owners' open loads. A user's load counts their open records:
 * created open with an owner +1 (unless an assignment rule chose it: the chooser counted it already; created closed by
 * a rule, -1 to take that back), deleted -1, restored +1, and an update moves the count from the owner it had while
 * open to the owner it has while open (a reassignment, a lead converted, a deal won or reopened).
 */
export function loadDeltas(action: LoadAction, detail: CompleteRecordChange): Map<string, number> {
  const record = detail.record as Record<string, unknown>;
  const { changes, entity } = detail;
  const deltas = new Map<string, number>();
  const add = (userId: unknown, by: number) => {
    if (typeof userId !== 'string' || userId === '') return;
    const next = (deltas.get(userId) ?? 0) + by;
    if (next === 0) deltas.delete(userId);
    else deltas.set(userId, next);
  };
  const open = isOpen(entity, record);
  const owner = ownerField(entity);
  switch (action) {
    case 'created':
      if (open && !record.assignedByRule) add(record[owner], 1);
      if (!open && record.assignedByRule) add(record[owner], -1);
      break;
    case 'deleted':
      if (open) add(record[owner], -1);
      break;
    case 'restored':
      if (open) add(record[owner], 1);
      break;
    case 'updated': {
      const before = (field: string) => (field in changes ? changes[field]!.old : record[field]);
      if (isOpen(entity, { ...record, status: before('status') })) add(before(owner), -1);
      if (open && !routedByWorkflow(detail)) add(record[owner], 1);
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
  return addLoadsOnce(
    detail.tenantId,
    `applied#${detail.entity}#${detail.entityId}#${detail.version}`,
    deltas,
    loadKindOf(detail.entity),
  );
}

/**
 * ADDs `deltas` to users' load counters of `kind` exactly once per `marker`: the ADDs and the marker (kept 7 days) go
 * in one transaction that fails if the marker exists. Returns false for a repeat.
 */
export async function addLoadsOnce(
  tenantId: string,
  marker: string,
  deltas: Map<string, number>,
  kind: LoadKind,
): Promise<boolean> {
  if (deltas.size === 0) return true;
  const now = new Date();
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
        .update({ tenantId, counterId: loadCounter(userId, kind) })
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
