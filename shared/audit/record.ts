import type { ClaimCheck, RecordChangedDetail } from '../../events/catalog.ts';
import { valueSize as dynamoBytes } from '../db/item-size.ts';
import { model } from '../db/store.ts';
import {
  type ClaimCheckStore,
  completeDetail,
  isClaimCheck,
  jsonPointer,
  resolveClaimCheck,
} from '../events/claim-check.ts';
import { HISTORY_CHANGES_BUDGET_BYTES } from './schema.ts';

type Changes = Record<string, { old?: unknown; new?: unknown }>;

interface Slot {
  field: string;
  side: 'old' | 'new';
  bytes: number;
  /** What can stand in for the value if the entry would not fit: its own claim check, or a pointer into the detail. */
  ref?: ClaimCheck;
}

/**
 * The changes as a history entry keeps them: every claim-checked value read back from S3, so the history shows full
 * old and new values. Only if that entry would pass DynamoDB's item limit do the largest values stay references
 * (`{ "$claimCheck": ... }`, which the history read shows without the bucket; see schema.ts), and if even that is
 * not enough (only possible for thousands of changed fields, whose whole detail was claimed), `changes` itself is a
 * reference into the claimed detail.
 */
export async function historyChanges(
  store: ClaimCheckStore,
  detail: RecordChangedDetail,
  budget: number = HISTORY_CHANGES_BUDGET_BYTES,
): Promise<Changes> {
  const wholeDetail = '$claimCheck' in detail ? detail.$claimCheck : undefined;
  const complete = await completeDetail(store, detail);
  const changes: Changes = {};
  const slots: Slot[] = [];
  await Promise.all(
    Object.entries(complete.changes).map(async ([field, change]) => {
      const entry: { old?: unknown; new?: unknown } = {};
      for (const side of ['old', 'new'] as const) {
        if (!(side in change)) continue;
        const value = change[side];
        if (isClaimCheck(value)) {
          entry[side] = await resolveClaimCheck(store, value.$claimCheck);
          slots.push({ field, side, bytes: dynamoBytes(entry[side]), ref: value });
        } else {
          entry[side] = value;
          const ref = wholeDetail
            ? { $claimCheck: { ...wholeDetail, pointer: jsonPointer(['changes', field, side]) } }
            : undefined;
          slots.push({ field, side, bytes: dynamoBytes(value), ...(ref ? { ref } : {}) });
        }
      }
      changes[field] = entry;
    }),
  );

  let size = dynamoBytes(changes);
  if (size <= budget) return changes;
  for (const slot of slots.filter((s) => s.ref).sort((a, b) => b.bytes - a.bytes)) {
    if (size <= budget) break;
    const gain = slot.bytes - dynamoBytes(slot.ref);
    if (gain <= 0) break;
    changes[slot.field]![slot.side] = slot.ref;
    size -= gain;
  }
  if (size <= budget) return changes;
  // Thousands of small changed fields (the whole detail was claimed): the changes themselves stay a reference.
  if (wholeDetail) return { $claimCheck: { ...wholeDetail, pointer: '/changes' } } as unknown as Changes;
  throw new Error(`history entry of ${detail.entityId} v${detail.version} cannot be bounded`);
}

/**
 * Records one change event in the record's history; idempotent, because the item is keyed by the version the change
 * produced (and claim checks resolve to the same values on a redelivery).
 */
export async function recordChange(
  store: ClaimCheckStore,
  detailType: string,
  detail: RecordChangedDetail,
): Promise<void> {
  const changes = await historyChanges(store, detail);
  await model.entities.auditEntry
    .put({
      tenantId: detail.tenantId,
      entity: detail.entity,
      entityId: detail.entityId,
      seq: String(detail.version).padStart(12, '0'),
      version: detail.version,
      action: detailType.split('.')[1] ?? 'updated',
      ...(detail.actorId ? { actorId: detail.actorId } : {}),
      occurredAt: detail.occurredAt,
      changes,
    })
    .go();
}
