import { isDeepStrictEqual } from 'node:util';
import { timelineIndex } from '../db/keys.ts';
import type { ItemWrite } from '../db/store.ts';

export interface TimelineSubject {
  type: string;
  id: string;
}

/** An item's place on timelines: which subjects it shows on, when, and the summary each entry carries. */
export interface TimelinePlacement {
  subjects: TimelineSubject[];
  occurredAt: string;
  summary: Record<string, unknown>;
}

const subjectKey = (s: TimelineSubject) => `${s.type}\n${s.id}`;

/**
 * The link puts and deletes that move an item from its previous timeline placement to the next (absent: none, e.g.
 * a create or a delete), to be written in the item's own transaction. Unchanged links are not rewritten.
 */
export function timelineLinkWrites(
  tenantId: string,
  entity: string,
  entityId: string,
  next: TimelinePlacement | undefined,
  previous: TimelinePlacement | undefined,
): ItemWrite[] {
  const before = new Map((previous?.subjects ?? []).map((s) => [subjectKey(s), s]));
  const after = new Map((next?.subjects ?? []).map((s) => [subjectKey(s), s]));
  const same =
    next && previous && next.occurredAt === previous.occurredAt && isDeepStrictEqual(next.summary, previous.summary);
  const writes: ItemWrite[] = [];
  for (const [key, subject] of after) {
    if (same && before.has(key)) continue;
    writes.push({
      put: 'timelineLink',
      item: {
        tenantId,
        entity,
        entityId,
        subjectType: subject.type,
        subjectId: subject.id,
        occurredAt: next!.occurredAt,
        summary: next!.summary,
        gsi6pk: timelineIndex.pk(tenantId, subject.type, subject.id),
        gsi6sk: timelineIndex.sk(next!.occurredAt, entity, entityId),
      },
    });
  }
  for (const [key, subject] of before) {
    if (!after.has(key)) {
      writes.push({
        delete: 'timelineLink',
        key: { tenantId, entity, entityId, subjectType: subject.type, subjectId: subject.id },
      });
    }
  }
  return writes;
}
