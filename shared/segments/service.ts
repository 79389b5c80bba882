import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import type { Principal } from '../auth/principal.ts';
import { getCustomFieldSchema } from '../custom-fields/service.ts';
import { documentClient, tableName } from '../db/client.ts';
import { itemView } from '../db/item-view.ts';
import { segmentIndex, segmentKeys, sortableName } from '../db/keys.ts';
import { checkCursor, model, writeRecord } from '../db/store.ts';
import { DomainError, NotFoundError, PreconditionFailedError, ValidationError } from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import { type Page, type PageRequest, queryIndex } from '../records/lists.ts';
import { getSubscriptionCategories } from '../subscriptions/service.ts';
import { applyMemberOps, type MemberOp, SegmentChangedError, segmentKey } from './membership.ts';
import {
  type Filter,
  filterProblems,
  type SegmentCreateInput,
  type SegmentMembersResultView,
  type SegmentPatchInput,
  type SegmentView,
} from './schema.ts';

export interface BackfillState {
  status: 'pending' | 'running' | 'done' | 'failed';
  evaluation: number;
  processed: number;
  matched: number;
  startedAt?: string;
  finishedAt?: string;
  /** Internal: the execution running it, its phase and where the next page starts. */
  runId?: string;
  phase?: 'contacts' | 'members';
  cursor?: string | null;
  error?: string;
}

export interface StoredSegment {
  tenantId: string;
  segmentId: string;
  kind: 'dynamic' | 'static';
  name: string;
  sortName: string;
  description?: string;
  filter?: Filter;
  filterVersion?: number;
  evaluation?: number;
  memberCount: number;
  backfill?: BackfillState;
  version: number;
  createdAt: string;
  updatedAt: string;
  createdBy?: string;
  updatedBy?: string;
  deletedAt?: string;
  deletedBy?: string;
}

export function segmentView(stored: StoredSegment): SegmentView {
  const { evaluation: _e, ...view } = itemView(stored as unknown as Record<string, unknown>, 'segmentId');
  if (stored.backfill) {
    const { runId: _r, phase: _p, cursor: _c, error: _x, ...progress } = stored.backfill;
    view.backfill = progress;
  }
  view.memberCount = stored.memberCount ?? 0;
  return view as unknown as SegmentView;
}

/** One consistent GetItem: the member count and progress as they are now. */
export async function readSegment(tenantId: string, segmentId: string): Promise<StoredSegment | undefined> {
  const { data } = await model.entities.segment.get({ tenantId, segmentId }).go({ consistent: true });
  return (data as StoredSegment | null) ?? undefined;
}

async function liveSegment(tenantId: string, segmentId: string): Promise<StoredSegment> {
  const segment = await readSegment(tenantId, segmentId);
  if (!segment || segment.deletedAt) throw new NotFoundError('segment', segmentId);
  return segment;
}

async function checkFilter(tenantId: string, filter: Filter): Promise<void> {
  const { fields } = await getCustomFieldSchema(tenantId, 'contact');
  // The categories are read only for a filter that names one.
  const categories = JSON.stringify(filter).includes('"subscriptions.')
    ? (await getSubscriptionCategories(tenantId)).categories.map((c) => c.id)
    : [];
  const errors = filterProblems(filter, fields, 'body.filter', categories);
  if (errors.length > 0) throw new ValidationError('The filter is invalid.', errors, 'segment.invalid_filter');
}

const pendingBackfill = (evaluation: number): BackfillState => ({
  status: 'pending',
  evaluation,
  processed: 0,
  matched: 0,
});

export async function createSegment(
  p: Principal,
  input: SegmentCreateInput,
  idempotency?: ApiRequest['idempotency'],
): Promise<SegmentView> {
  if (input.kind === 'dynamic' && !input.filter) {
    throw new ValidationError('A dynamic segment needs a filter.', [
      { field: 'body.filter', message: 'Required for a dynamic segment.' },
    ]);
  }
  if (input.kind === 'static' && input.filter) {
    throw new ValidationError('A static list has no filter.', [
      { field: 'body.filter', message: 'Not allowed on a static list: add members instead.' },
    ]);
  }
  if (input.filter) await checkFilter(p.tenantId, input.filter);
  const now = new Date().toISOString();
  const stored: StoredSegment = {
    tenantId: p.tenantId,
    segmentId: ulid(),
    kind: input.kind,
    name: input.name,
    sortName: sortableName(input.name),
    ...(input.description ? { description: input.description } : {}),
    ...(input.filter ? { filter: input.filter, filterVersion: 1, evaluation: 1, backfill: pendingBackfill(1) } : {}),
    memberCount: 0,
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: p.userId,
    updatedBy: p.userId,
  };
  const view = segmentView(stored);
  await writeRecord({
    entity: 'segment',
    item: { ...stored, ...segmentKeys(stored) },
    onVersionConflict: () => new DomainError(409, 'segment.exists', `segment ${stored.segmentId} already exists.`),
    ...(idempotency ? { idempotency: { tenantId: p.tenantId, ...idempotency, statusCode: 201, response: view } } : {}),
  });
  return view;
}

export async function getSegment(p: Principal, segmentId: string): Promise<SegmentView> {
  return segmentView(await liveSegment(p.tenantId, segmentId));
}

export async function listSegments(
  p: Principal,
  query: PageRequest & { inTrash?: boolean | undefined },
): Promise<Page<SegmentView>> {
  const partition = query.inTrash ? segmentIndex.trash(p.tenantId) : segmentIndex.name(p.tenantId);
  const result = await queryIndex<StoredSegment>('segment', 'gsi4', partition, query, {
    order: query.inTrash ? 'desc' : 'asc',
  });
  return { items: result.items.map(segmentView), nextCursor: result.nextCursor };
}

/**
 * Changes of the definition are UpdateItems of the fields they change, conditioned on the version read, never a Put
 * of the whole item: `memberCount` and `backfill` are written meanwhile by the membership writers (without a version
 * bump), and a Put would undo their work.
 */
async function updateSegment(
  tenantId: string,
  segmentId: string,
  expectedVersion: number,
  set: Record<string, unknown>,
  remove: string[] = [],
): Promise<StoredSegment> {
  const names: Record<string, string> = { '#version': 'version' };
  const values: Record<string, unknown> = { ':expected': expectedVersion };
  const assignments: string[] = [];
  for (const [i, [field, value]] of Object.entries(set).entries()) {
    names[`#s${i}`] = field;
    values[`:s${i}`] = value;
    assignments.push(`#s${i} = :s${i}`);
  }
  const removals = remove.map((field, i) => {
    names[`#r${i}`] = field;
    return `#r${i}`;
  });
  try {
    const result = await documentClient.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: segmentKey(tenantId, segmentId),
        UpdateExpression: `SET ${assignments.join(', ')}${removals.length ? ` REMOVE ${removals.join(', ')}` : ''}`,
        ConditionExpression: '#version = :expected',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return result.Attributes as StoredSegment;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) throw new PreconditionFailedError('segment', segmentId);
    throw error;
  }
}

const audit = (p: Principal, previous: StoredSegment) => ({
  version: previous.version + 1,
  updatedAt: new Date().toISOString(),
  updatedBy: p.userId,
});

export async function patchSegment(
  p: Principal,
  segmentId: string,
  patch: SegmentPatchInput,
  ifMatch?: VersionPrecondition,
): Promise<SegmentView> {
  const previous = await liveSegment(p.tenantId, segmentId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('segment', segmentId);
  const set: Record<string, unknown> = { ...audit(p, previous) };
  const remove: string[] = [];
  if (patch.name !== undefined) {
    const sortName = sortableName(patch.name);
    Object.assign(set, { name: patch.name, sortName, ...segmentKeys({ ...previous, sortName }) });
  }
  if (patch.description === null) remove.push('description');
  else if (patch.description !== undefined) set.description = patch.description;
  if (patch.filter !== undefined) {
    if (previous.kind !== 'dynamic') {
      throw new ValidationError('A static list has no filter.', [
        { field: 'body.filter', message: 'Not allowed on a static list.' },
      ]);
    }
    await checkFilter(p.tenantId, patch.filter);
    if (JSON.stringify(patch.filter) !== JSON.stringify(previous.filter)) {
      // A new filter: a new evaluation, which the backfill (started by this change's event) carries out.
      const evaluation = (previous.evaluation ?? 0) + 1;
      Object.assign(set, {
        filter: patch.filter,
        filterVersion: (previous.filterVersion ?? 0) + 1,
        evaluation,
        backfill: pendingBackfill(evaluation),
      });
    }
  }
  return segmentView(await updateSegment(p.tenantId, segmentId, previous.version, set, remove));
}

/** Soft delete: out of the name index into its trash; members stay, so a restore brings the audience back. */
export async function deleteSegment(p: Principal, segmentId: string, ifMatch?: VersionPrecondition): Promise<void> {
  const previous = await liveSegment(p.tenantId, segmentId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('segment', segmentId);
  const now = new Date().toISOString();
  await updateSegment(p.tenantId, segmentId, previous.version, {
    ...audit(p, previous),
    deletedAt: now,
    deletedBy: p.userId,
    ...segmentKeys({ ...previous, deletedAt: now }),
  });
}

/** Back from the trash; a dynamic segment is evaluated afresh (contacts changed while it was away). */
export async function restoreSegment(
  p: Principal,
  segmentId: string,
  ifMatch?: VersionPrecondition,
): Promise<SegmentView> {
  const previous = await readSegment(p.tenantId, segmentId);
  if (!previous?.deletedAt) throw new NotFoundError('segment', segmentId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('segment', segmentId);
  const set: Record<string, unknown> = { ...audit(p, previous), ...segmentKeys({ ...previous, deletedAt: undefined }) };
  if (previous.kind === 'dynamic') {
    const evaluation = (previous.evaluation ?? 0) + 1;
    Object.assign(set, { evaluation, backfill: pendingBackfill(evaluation) });
  }
  return segmentView(await updateSegment(p.tenantId, segmentId, previous.version, set, ['deletedAt', 'deletedBy']));
}

export interface MemberView {
  contactId: string;
  addedAt: string;
  source: 'filter' | 'manual' | 'backfill';
}

/** One Query of the segment's own partition, by contact id. */
export async function listMembers(p: Principal, segmentId: string, page: PageRequest): Promise<Page<MemberView>> {
  await liveSegment(p.tenantId, segmentId);
  const partition = segmentKey(p.tenantId, segmentId).pk as string;
  checkCursor(page.cursor, 'pk', partition);
  const result = await model.entities.segmentMember.query
    .byMember({ tenantId: p.tenantId, segmentId })
    .go({ limit: page.limit, cursor: page.cursor ?? null });
  return {
    items: result.data.map((m) => ({
      contactId: m.contactId,
      addedAt: m.addedAt,
      source: m.source as MemberView['source'],
    })),
    nextCursor: result.cursor ?? null,
  };
}

/** Bulk add to or remove from a static list: each id at most once, exactly counted, idempotent. */
export async function changeListMembers(
  p: Principal,
  segmentId: string,
  contactIds: string[],
  action: 'add' | 'remove',
): Promise<SegmentMembersResultView> {
  const segment = await liveSegment(p.tenantId, segmentId);
  if (segment.kind !== 'static') {
    throw new DomainError(
      409,
      'segment.not_static',
      'The members of a dynamic segment follow its filter; only static lists take members by hand.',
    );
  }
  const ops: MemberOp[] = contactIds.map((contactId) => ({ segmentId, contactId, action, source: 'manual' }));
  let outcomes: Awaited<ReturnType<typeof applyMemberOps>>;
  try {
    outcomes = await applyMemberOps(p.tenantId, ops);
  } catch (error) {
    if (error instanceof SegmentChangedError) throw new NotFoundError('segment', segmentId);
    throw error;
  }
  const after = await readSegment(p.tenantId, segmentId);
  return {
    changed: outcomes.filter((o) => o === 'changed').length,
    unchanged: outcomes.filter((o) => o === 'unchanged').length,
    notFound: contactIds.filter((_, i) => outcomes[i] === 'contactMissing'),
    memberCount: after?.memberCount ?? 0,
  };
}
