import { type CatalogEvent, type ClaimCheck, type CompleteRecordChange, catalogEvent } from '../../events/catalog.ts';
import { type ClaimCheckStore, claimCheckKey, claimCheckRef, jsonBytes, serialized } from './claim-check.ts';

/** EventBridge's limit for the entries of one PutEvents request (and so for one entry). */
export const PUT_EVENTS_MAX_BYTES = 256 * 1024;

/**
 * What one entry (and one PutEvents request) may take: the limit less a margin for what EventBridge adds around the
 * detail (id, time, account, region, resources: under 1 KiB) and for targets with their own 256 KB payload limit
 * (a Lambda target is invoked with the whole event).
 */
export const EVENT_BUDGET_BYTES = 224 * 1024;

/**
 * A single old/new value or record snapshot whose JSON exceeds this many bytes is always claim-checked; smaller ones
 * travel inline unless the event would not fit otherwise (then the largest go first).
 */
export const CLAIM_CHECK_THRESHOLD_BYTES = 32 * 1024;

export interface PutEventsEntryLike {
  Source?: string | undefined;
  DetailType?: string | undefined;
  Detail?: string | undefined;
  Resources?: string[] | undefined;
  Time?: Date | undefined;
}

/** An entry's size as EventBridge counts it: Source, DetailType, Detail and Resources in UTF-8, Time as 14 bytes. */
export function entrySize(entry: PutEventsEntryLike): number {
  const bytes = (value: string | undefined) => (value ? Buffer.byteLength(value, 'utf8') : 0);
  let size = entry.Time ? 14 : 0;
  size += bytes(entry.Source) + bytes(entry.DetailType) + bytes(entry.Detail);
  for (const resource of entry.Resources ?? []) size += bytes(resource);
  return size;
}

/** The PutEvents entry of a catalog event. */
export function toEntry(event: CatalogEvent, eventBusName: string) {
  return {
    EventBusName: eventBusName,
    Source: event.source,
    DetailType: event.detailType,
    Detail: JSON.stringify(event.detail),
  };
}

interface Candidate {
  path: string[];
  value: unknown;
  bytes: number;
}

/**
 * Bounds a record-change event by construction (call it with the event `eventFromStreamRecord` built):
 * 1. every old/new value and the record snapshot above the threshold is stored aside and replaced by its claim check;
 * 2. while the entry is still over the budget, the largest remaining values are stored aside too;
 * 3. if even then it does not fit (thousands of changed fields), the whole detail is stored aside and the event keeps
 *    who, when, which record and the changed field names.
 * Object keys are derived from tenant, entity, id, version, action and field, so a retry writes the same objects.
 */
export async function boundRecordChange(
  event: CatalogEvent,
  store: ClaimCheckStore,
  budget: number = EVENT_BUDGET_BYTES,
): Promise<CatalogEvent> {
  const detail = event.detail as CompleteRecordChange;
  const overhead = entrySize({ Source: event.source, DetailType: event.detailType });
  const action = event.detailType.split('.')[1] ?? 'changed';
  const key = (path: string[]) =>
    claimCheckKey({
      tenantId: detail.tenantId,
      entity: detail.entity,
      entityId: detail.entityId,
      version: detail.version,
      action,
      path,
    });

  const candidate = (path: string[], value: unknown): Candidate => ({ path, value, bytes: jsonBytes(value) });
  const candidates = [candidate(['record'], detail.record)];
  for (const [field, change] of Object.entries(detail.changes)) {
    for (const side of ['old', 'new'] as const) {
      if (side in change) candidates.push(candidate(['changes', field, side], change[side]));
    }
  }
  candidates.sort((a, b) => b.bytes - a.bytes);

  // Substituting a value's JSON by its reference's changes the detail's JSON by exactly the difference.
  let size = overhead + jsonBytes(detail);
  const claimed: Array<Candidate & { body: Uint8Array; ref: ClaimCheck }> = [];
  for (const next of candidates) {
    if (next.bytes <= CLAIM_CHECK_THRESHOLD_BYTES && size <= budget) break;
    const body = serialized(next.value);
    const ref = claimCheckRef(store.bucket, key(next.path), body);
    const gain = next.bytes - jsonBytes(ref);
    if (gain <= 0) break;
    claimed.push({ ...next, body, ref });
    size -= gain;
  }

  let bounded: CompleteRecordChange | Record<string, unknown> = detail;
  if (claimed.length > 0) {
    const changes: CompleteRecordChange['changes'] = {};
    for (const [field, change] of Object.entries(detail.changes)) changes[field] = { ...change };
    const copy = { ...detail, changes };
    for (const { path, ref } of claimed) {
      if (path[0] === 'record') copy.record = ref;
      else changes[path[1]!]![path[2] as 'old' | 'new'] = ref;
    }
    bounded = copy;
  }

  if (overhead + jsonBytes(bounded) > budget) {
    const body = serialized(detail);
    const ref = claimCheckRef(store.bucket, key(['detail']), body);
    await store.put(ref.$claimCheck.key, body);
    const { changes, record: _record, ...envelope } = detail;
    const claimedDetail = { ...envelope, schemaVersion: 2, changedFields: Object.keys(changes), ...ref };
    if (overhead + jsonBytes(claimedDetail) > budget) {
      throw new Error(`event ${event.detailType} of ${detail.entityId} cannot be bounded (changed field names alone)`);
    }
    return catalogEvent(event.detailType, claimedDetail as never);
  }
  await Promise.all(claimed.map(({ ref, body }) => store.put(ref.$claimCheck.key, body)));
  // Validated again: what reaches the bus is always on the catalog.
  return claimed.length > 0 ? catalogEvent(event.detailType, bounded as never) : event;
}
