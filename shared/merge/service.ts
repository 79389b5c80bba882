import type { Principal } from '../auth/principal.ts';
import { findIdempotentResponse } from '../db/idempotency.ts';
import {
  ConflictError,
  IdempotencyKeyReusedError,
  NotFoundError,
  PreconditionFailedError,
  ValidationError,
} from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import {
  guardPlanned,
  planWrite,
  type RecordKind,
  type RecordView,
  readStored,
  type Stored,
  sendGuarded,
  toView,
} from '../records/lifecycle.ts';
import { resolveMerge } from './resolve.ts';
import type { MergeInput } from './schema.ts';

const AUDIT = ['id', 'version', 'createdAt', 'updatedAt', 'createdBy', 'updatedBy', 'deletedAt', 'duplicates'];

/** A record's editable fields as the API shows them (what a merge chooses between). */
function editable(kind: RecordKind, stored: Stored): Record<string, unknown> {
  const view = toView(kind, stored) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(view).filter(([k]) => !AUDIT.includes(k) && !k.startsWith('merged')));
}

/**
 * Merges the loser into the winner in one transaction: the winner written with the merged fields (conditioned on the
 * version read, and on If-Match when given), the loser turned into a redirect (`mergedInto`; off every list and
 * lookup; its unique-key claims moved to the winner), and the Idempotency-Key record. The stream then publishes
 * `<entity>.merged` for the loser (its history records it) and an update of the winner; a consumer moves children.
 *
 * Repeating a merge that happened answers the winner as it is now (200), or the first response when the request
 * carries the same Idempotency-Key. Merging a record that was merged elsewhere, or into a merged record, is refused.
 */
export async function mergeRecords(
  kind: RecordKind,
  principal: Principal,
  input: MergeInput,
  ifMatch?: VersionPrecondition,
  idempotency?: ApiRequest['idempotency'],
): Promise<RecordView> {
  // Contacts and companies merge; leads become contacts by conversion instead.
  if (kind.entity === 'lead') throw new Error('mergeRecords: leads are not merged');
  const { tenantId } = principal;
  const { winnerId, loserId } = input;
  if (winnerId === loserId) {
    throw new ValidationError('A record cannot be merged into itself.', [
      { field: 'body.loserId', message: 'Must differ from winnerId.' },
    ]);
  }
  const [winner, loser] = await Promise.all([
    readStored(kind, tenantId, winnerId),
    readStored(kind, tenantId, loserId),
  ]);
  if (!winner || winner.deletedAt) throw new NotFoundError(kind.entity, winnerId);
  if (!loser || loser.deletedAt) throw new NotFoundError(kind.entity, loserId);
  if (winner.mergedInto) {
    throw new ConflictError(
      `${kind.entity}.merge_into_merged`,
      `${kind.entity} ${winnerId} was itself merged into ${winner.mergedInto}; merge into ${winner.mergedInto} instead.`,
      { mergedInto: winner.mergedInto },
    );
  }
  if (loser.mergedInto) {
    if (loser.mergedInto !== winnerId) {
      throw new ConflictError(
        `${kind.entity}.already_merged`,
        `${kind.entity} ${loserId} was already merged into ${loser.mergedInto}.`,
        { mergedInto: loser.mergedInto },
      );
    }
    return repeated(kind, principal, winner, idempotency);
  }
  if (ifMatch && !ifMatch.matches(winner.version)) throw new PreconditionFailedError(kind.entity, winnerId);

  const now = new Date().toISOString();
  const merged = resolveMerge(kind.entity, editable(kind, winner), editable(kind, loser), input.fields ?? {});
  const winnerNext: Stored = {
    ...kind.derive(merged, winner),
    tenantId,
    [kind.idField]: winnerId,
    version: winner.version + 1,
    createdAt: winner.createdAt,
    createdBy: winner.createdBy,
    updatedAt: now,
    updatedBy: principal.userId,
  };
  const loserNext: Stored = {
    ...loser,
    version: loser.version + 1,
    updatedAt: now,
    updatedBy: principal.userId,
    mergedInto: winnerId,
    mergedAt: now,
    mergedBy: principal.userId,
  };
  const planned = await guardPlanned(
    kind,
    tenantId,
    planWrite(kind, principal, winnerNext, winner, idempotency, 200, true),
    winner,
    [winnerId, loserId],
    [loser],
  );
  const redirect = planWrite(kind, principal, loserNext, loser);
  // The loser changed under us (most likely a concurrent merge of it): a retry sees what happened.
  redirect.write.onVersionConflict = () =>
    new ConflictError('request.conflict', `${kind.entity} ${loserId} changed during the merge; retry.`);
  await sendGuarded(tenantId, [planned.write, redirect.write]);
  return planned.view;
}

/** The answer to a merge that already happened: the stored first response for its Idempotency-Key, else the winner. */
async function repeated(
  kind: RecordKind,
  principal: Principal,
  winner: Stored,
  idempotency: ApiRequest['idempotency'],
): Promise<RecordView> {
  if (idempotency) {
    const stored = await findIdempotentResponse(principal, idempotency.key);
    if (stored && stored.requestHash !== idempotency.requestHash) throw new IdempotencyKeyReusedError();
    if (stored) return stored.response as RecordView;
  }
  return toView(kind, winner);
}
