import { moveLinks as moveActivityLinks } from '../activities/service.ts';
import type { Principal } from '../auth/principal.ts';
import { contactKind } from '../contacts/service.ts';
import { contactIndex, timelineIndex } from '../db/keys.ts';
import { model, writeRecord } from '../db/store.ts';
import { moveLinks as moveDealLinks } from '../deals/service.ts';
import { ConflictError, DomainError, PreconditionFailedError } from '../errors.ts';
import { patchRecord } from '../records/lifecycle.ts';

/** A merged record or the record it was merged into. */
export interface Subject {
  type: 'contact' | 'company';
  id: string;
}

/**
 * Moves one kind of child (notes, a company's contacts, deals, activities...) from a merged record to the winner and
 * answers how many it moved. Each must be idempotent and safe to run again after a partial run (the consumer is
 * at-least-once): it lists what still points to `from`, paginating internally, and re-points it.
 */
export type Mover = (tenantId: string, from: Subject, to: Subject) => Promise<number>;

/** Who a mover writes as: the audit trail shows the merge machinery, not a user, made the change. */
export const MERGE_ACTOR = 'system:merge';
const mergePrincipal = (tenantId: string): Principal => ({ tenantId, userId: MERGE_ACTOR, roles: [] });

/** Children are listed a page at a time (a cursor continues after what moved out of the partition). */
const PAGE = 100;
/** A child that keeps changing under a mover is retried this often before the run fails (and is retried whole). */
const ATTEMPTS = 5;

async function retried<T>(attempt: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      const conflict =
        error instanceof PreconditionFailedError ||
        (error instanceof ConflictError && error.code === 'request.conflict');
      if (!conflict || i >= ATTEMPTS) throw error;
    }
  }
}

/**
 * Notes: each live note on the loser's timeline is rewritten onto the winner's, keeping its id, body, author and
 * occurredAt (so it interleaves by time); `note.updated` (subjectId old → new) records the move.
 */
export const moveNotes: Mover = async (tenantId, from, to) => {
  let moved = 0;
  let cursor: string | null = null;
  do {
    const page: { data: Array<{ noteId: string }>; cursor: string | null } = await model.entities.note.query
      .gsi6({ gsi6pk: timelineIndex.pk(tenantId, from.type, from.id) })
      .go({ limit: PAGE, cursor });
    cursor = page.cursor;
    for (const note of page.data) {
      await retried(async () => {
        const { data: current } = await model.entities.note.get({ tenantId, noteId: note.noteId }).go();
        if (!current || current.deletedAt || current.subjectId !== from.id || current.subjectType !== from.type) return;
        await writeRecord({
          entity: 'note',
          item: {
            ...current,
            subjectType: to.type,
            subjectId: to.id,
            version: current.version + 1,
            updatedAt: new Date().toISOString(),
            updatedBy: MERGE_ACTOR,
            gsi6pk: timelineIndex.pk(tenantId, to.type, to.id),
            gsi6sk: timelineIndex.sk(current.occurredAt, 'note', current.noteId),
          },
          expectedVersion: current.version,
          onVersionConflict: () => new PreconditionFailedError('note', current.noteId),
        });
        moved++;
      });
    }
  } while (cursor);
  return moved;
};

/** A merged company's contacts: each live contact's companyId becomes the winner (a patch, so history shows it). */
export const moveCompanyContacts: Mover = async (tenantId, from, to) => {
  if (from.type !== 'company' || to.type !== 'company') return 0;
  let moved = 0;
  let cursor: string | null = null;
  do {
    const page: { data: Array<{ contactId: string }>; cursor: string | null } = await model.entities.contact.query
      .gsi3({ gsi3pk: contactIndex.company(tenantId, from.id) })
      .go({ limit: PAGE, cursor });
    cursor = page.cursor;
    for (const contact of page.data) {
      await retried(async () => {
        try {
          await patchRecord(contactKind, mergePrincipal(tenantId), contact.contactId, { companyId: to.id }, undefined);
          moved++;
        } catch (error) {
          // Deleted or merged meanwhile: it left the company's list, nothing to move.
          if (error instanceof DomainError && (error.status === 404 || error.code === 'contact.merged')) return;
          throw error;
        }
      });
    }
  } while (cursor);
  return moved;
};

/**
 * What a merge moves, in order, run by the consumer of `contact.merged` / `company.merged`
 * (functions/events/merge-children.ts). Other modules append theirs (deals' and activities' `moveLinks`).
 */
export const MOVERS: ReadonlyArray<{ name: string; move: Mover }> = [
  { name: 'notes', move: moveNotes },
  { name: 'companyContacts', move: moveCompanyContacts },
  { name: 'deals', move: moveDealLinks },
  { name: 'activities', move: moveActivityLinks },
];

/** Runs every mover for one merge; idempotent, so a redelivered event only finds less (or nothing) to move. */
export async function moveChildren(
  tenantId: string,
  from: Subject,
  to: Subject,
  movers: ReadonlyArray<{ name: string; move: Mover }> = MOVERS,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { name, move } of movers) counts[name] = await move(tenantId, from, to);
  return counts;
}
