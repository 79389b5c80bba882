import { ulid } from 'ulid';
import { can } from '../auth/permissions.ts';
import type { Principal } from '../auth/principal.ts';
import { itemView } from '../db/item-view.ts';
import { timelineIndex } from '../db/keys.ts';
import { checkCursor, model, type ReferenceCheck, writeRecord } from '../db/store.ts';
import { ForbiddenError, NotFoundError, PreconditionFailedError } from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import type { Page, PageRequest } from '../records/lists.ts';
import type { NoteCreateInput, NotePatchInput, NoteSubjectType, NoteView } from './schema.ts';

type StoredNote = NoteView & { tenantId: string; noteId: string; deletedBy?: string };

function toView(stored: Record<string, unknown>): NoteView {
  return { pinned: false, ...itemView(stored, 'noteId') } as NoteView;
}

function timelineKeys(note: StoredNote): Record<string, string | undefined> {
  if (note.deletedAt) return { gsi6pk: undefined, gsi6sk: undefined };
  return {
    gsi6pk: timelineIndex.pk(note.tenantId, note.subjectType, note.subjectId),
    gsi6sk: timelineIndex.sk(note.occurredAt, 'note', note.noteId),
  };
}

/** The note's subject as a reference the write checks (its ElectroDB key). */
function subjectReference(
  tenantId: string,
  subjectType: NoteSubjectType,
  subjectId: string,
  error: NotFoundError,
): ReferenceCheck {
  return subjectType === 'contact'
    ? { entity: 'contact' as const, key: { tenantId, contactId: subjectId }, error }
    : { entity: 'company' as const, key: { tenantId, companyId: subjectId }, error };
}

/** The subject must exist and be live: checked inside the note's own write, so it is still one request. */
export async function createNote(
  principal: Principal,
  subjectType: NoteSubjectType,
  subjectId: string,
  input: NoteCreateInput,
  idempotency?: ApiRequest['idempotency'],
): Promise<NoteView> {
  const now = new Date().toISOString();
  const note: StoredNote = {
    tenantId: principal.tenantId,
    noteId: ulid(),
    id: '',
    subjectType,
    subjectId,
    body: input.body,
    pinned: input.pinned ?? false,
    occurredAt: input.occurredAt ? new Date(input.occurredAt).toISOString() : now,
    authorId: principal.userId,
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: principal.userId,
    updatedBy: principal.userId,
  };
  const { id: _id, ...item } = note;
  const view = toView(item);
  await writeRecord({
    entity: 'note',
    item: { ...item, ...timelineKeys(note) },
    onVersionConflict: () => new PreconditionFailedError('note', note.noteId),
    references: [
      subjectReference(principal.tenantId, subjectType, subjectId, new NotFoundError(subjectType, subjectId)),
    ],
    ...(idempotency
      ? { idempotency: { tenantId: principal.tenantId, ...idempotency, statusCode: 201, response: view } }
      : {}),
  });
  return view;
}

async function readNote(principal: Principal, noteId: string): Promise<StoredNote> {
  const { data } = await model.entities.note.get({ tenantId: principal.tenantId, noteId }).go();
  if (!data || data.deletedAt) throw new NotFoundError('note', noteId);
  return data as unknown as StoredNote;
}

export async function getNote(principal: Principal, noteId: string): Promise<NoteView> {
  return toView(await readNote(principal, noteId));
}

/** Authors edit their own notes; editing someone else's needs notes:moderate (managers, admins). */
function assertMayEdit(principal: Principal, note: StoredNote): void {
  if (note.authorId !== principal.userId && !can(principal.roles, 'notes:moderate')) {
    throw new ForbiddenError('Only the author or a manager can change this note.');
  }
}

async function rewrite(principal: Principal, current: StoredNote, changes: Partial<StoredNote>): Promise<NoteView> {
  const next: StoredNote = {
    ...current,
    ...changes,
    version: current.version + 1,
    updatedAt: new Date().toISOString(),
    updatedBy: principal.userId,
  };
  await writeRecord({
    entity: 'note',
    item: { ...next, ...timelineKeys(next) },
    expectedVersion: current.version,
    onVersionConflict: () => new PreconditionFailedError('note', current.noteId),
  });
  return toView(next);
}

export async function patchNote(
  principal: Principal,
  noteId: string,
  patch: NotePatchInput,
  ifMatch?: VersionPrecondition,
) {
  const current = await readNote(principal, noteId);
  if (ifMatch && !ifMatch.matches(current.version)) throw new PreconditionFailedError('note', noteId);
  assertMayEdit(principal, current);
  const changes: Partial<StoredNote> = { ...patch };
  if (patch.occurredAt) changes.occurredAt = new Date(patch.occurredAt).toISOString();
  const unchanged = Object.entries(changes).every(([k, v]) => current[k as keyof StoredNote] === v);
  if (unchanged) return toView(current);
  return rewrite(principal, current, changes);
}

export async function deleteNote(principal: Principal, noteId: string, ifMatch?: VersionPrecondition): Promise<void> {
  const current = await readNote(principal, noteId);
  if (ifMatch && !ifMatch.matches(current.version)) throw new PreconditionFailedError('note', noteId);
  assertMayEdit(principal, current);
  const now = new Date().toISOString();
  await rewrite(principal, current, { deletedAt: now, deletedBy: principal.userId });
}

/** The subject's notes, newest first: one Query on the timeline index, narrowed to notes. */
export async function listNotes(
  principal: Principal,
  subjectType: NoteSubjectType,
  subjectId: string,
  page: PageRequest,
): Promise<Page<NoteView>> {
  const partition = timelineIndex.pk(principal.tenantId, subjectType, subjectId);
  checkCursor(page.cursor, 'gsi6pk', partition);
  const result = await model.entities.note.query
    .gsi6({ gsi6pk: partition })
    .go({ limit: page.limit, cursor: page.cursor ?? null, order: 'desc' });
  return { items: result.data.map((n) => toView(n as Record<string, unknown>)), nextCursor: result.cursor ?? null };
}
