import { isDeepStrictEqual } from 'node:util';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import { can } from '../auth/permissions.ts';
import type { Principal } from '../auth/principal.ts';
import { documentClient, tableName } from '../db/client.ts';
import { itemView } from '../db/item-view.ts';
import { activityIndex, activityKeys, timelineIndex } from '../db/keys.ts';
import { checkCursor, model, type ReferenceCheck, writeRecord } from '../db/store.ts';
import {
  ConflictError,
  DomainError,
  ForbiddenError,
  NotFoundError,
  PreconditionFailedError,
  ValidationError,
} from '../errors.ts';
import { fieldErrorsFrom } from '../http/problem.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import { type Page, type PageRequest, singleFilter } from '../records/lists.ts';
import { type TimelinePlacement, timelineLinkWrites } from '../timeline/links.ts';
import {
  type ActivityCreateInput,
  type ActivityLinkValue,
  type ActivityPatchInput,
  type ActivitySummaryView,
  type ActivityType,
  type ActivityView,
  CREATE_SCHEMAS,
  type LinkType,
  TYPE_FIELDS,
} from './schema.ts';

export type StoredActivity = ActivityView & { tenantId: string; activityId: string; deletedBy?: string };

const ENTITY = 'activity';

export function toView(stored: Record<string, unknown>): ActivityView {
  return itemView(stored, 'activityId') as ActivityView;
}

/** How each kind of link is checked in the write's transaction: the linked record must exist and be live. */
const LINK_REFERENCES: Record<LinkType, (tenantId: string, id: string) => Omit<ReferenceCheck, 'error'>> = {
  contact: (tenantId, id) => ({ entity: 'contact', key: { tenantId, contactId: id } }),
  company: (tenantId, id) => ({ entity: 'company', key: { tenantId, companyId: id } }),
  deal: (tenantId, id) => ({ entity: 'deal', key: { tenantId, dealId: id } }),
  lead: (tenantId, id) => ({ entity: 'lead', key: { tenantId, leadId: id } }),
};

/** Checks for links that are new in this write: each must name a live record (one ConditionCheck each). */
function linkReferences(tenantId: string, links: ActivityLinkValue[], previous: ActivityLinkValue[] = []) {
  const before = new Set(previous.map((l) => `${l.type}:${l.id}`));
  const checks: ReferenceCheck[] = [];
  links.forEach((link, index) => {
    if (before.has(`${link.type}:${link.id}`)) return;
    checks.push({
      ...LINK_REFERENCES[link.type](tenantId, link.id),
      error: new ValidationError(
        `The ${link.type} ${link.id} does not exist.`,
        [{ field: `body.links.${index}.id`, message: `No live ${link.type} with this id.` }],
        'activity.link_not_found',
      ),
    });
  });
  return checks;
}

/** The small projection each linked record's timeline shows. */
export function summaryOf(a: StoredActivity): Omit<ActivitySummaryView, 'id' | 'occurredAt'> {
  const summary: Record<string, unknown> = { type: a.type, ownerId: a.ownerId };
  for (const field of ['subject', 'title', 'status', 'outcome', 'direction', 'startAt', 'dueAt'] as const) {
    if (a[field] !== undefined) summary[field] = a[field];
  }
  return summary as Omit<ActivitySummaryView, 'id' | 'occurredAt'>;
}

function placementOf(a: StoredActivity): TimelinePlacement | undefined {
  if (a.deletedAt) return undefined;
  return { subjects: a.links, occurredAt: a.occurredAt, summary: summaryOf(a) };
}

function storedItem(a: StoredActivity): Record<string, unknown> {
  const { id: _id, ...item } = a;
  return { ...item, ...activityKeys(a) };
}

/** The fields of one activity type, as a create of that type would give them (defaults filled in). */
function typeFields(input: Record<string, unknown>, type: ActivityType, principal: Principal, now: string) {
  const fields: Record<string, unknown> = {};
  for (const key of TYPE_FIELDS[type]) if (input[key] !== undefined) fields[key] = input[key];
  fields.ownerId ??= principal.userId;
  if (type === 'meeting') fields.status ??= 'scheduled';
  if (type === 'task') {
    fields.status ??= 'open';
    fields.priority ??= 'normal';
    fields.assigneeId ??= principal.userId;
  }
  if (type === 'email') fields.sentAt ??= now;
  fields.occurredAt ??= type === 'meeting' ? fields.startAt : type === 'email' ? fields.sentAt : now;
  return fields;
}

export async function createActivity(
  principal: Principal,
  input: ActivityCreateInput,
  idempotency?: ApiRequest['idempotency'],
): Promise<ActivityView> {
  const now = new Date().toISOString();
  const activityId = ulid();
  const fields = typeFields(input as Record<string, unknown>, input.type, principal, now);
  const activity = {
    tenantId: principal.tenantId,
    activityId,
    id: activityId,
    type: input.type,
    ...fields,
    ...(input.type === 'task' && fields.status === 'completed' ? { completedAt: now } : {}),
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: principal.userId,
    updatedBy: principal.userId,
  } as StoredActivity;
  const view = toView(storedItem(activity));
  await writeRecord({
    entity: ENTITY,
    item: storedItem(activity),
    onVersionConflict: () => new ConflictError('activity.exists', 'An activity with this id exists; retry.'),
    references: linkReferences(principal.tenantId, activity.links),
    items: timelineLinkWrites(principal.tenantId, ENTITY, activityId, placementOf(activity), undefined),
    ...(idempotency
      ? { idempotency: { tenantId: principal.tenantId, ...idempotency, statusCode: 201, response: view } }
      : {}),
  });
  return view;
}

export async function readActivity(tenantId: string, activityId: string): Promise<StoredActivity | undefined> {
  const { data } = await model.entities.activity.get({ tenantId, activityId }).go({ consistent: true });
  return (data as unknown as StoredActivity | null) ?? undefined;
}

async function readLive(principal: Principal, activityId: string): Promise<StoredActivity> {
  const found = await readActivity(principal.tenantId, activityId);
  if (!found || found.deletedAt) throw new NotFoundError('activity', activityId);
  return found;
}

export async function getActivity(principal: Principal, activityId: string): Promise<ActivityView> {
  return toView(await readLive(principal, activityId));
}

/** Owners and assignees change their own activities; anyone else's needs activities:moderate (managers, admins). */
function assertMayEdit(principal: Principal, a: StoredActivity): void {
  const own = a.ownerId === principal.userId || a.assigneeId === principal.userId;
  if (!own && !can(principal.roles, 'activities:moderate')) {
    throw new ForbiddenError("Only the activity's owner or assignee, or a manager, can change it.");
  }
}

const RESCHEDULING = ['dueAt', 'reminderOffsetMinutes'] as const;

/** Applies a merge patch to an activity's own fields, validating the result as a create of its type would. */
function patched(principal: Principal, current: StoredActivity, patch: ActivityPatchInput, now: string) {
  const allowed = new Set(TYPE_FIELDS[current.type]);
  const foreign = Object.keys(patch).filter((key) => !allowed.has(key));
  if (foreign.length > 0) {
    throw new ValidationError(
      `Not fields of a ${current.type}.`,
      foreign.map((field) => ({ field: `body.${field}`, message: `A ${current.type} has no ${field}.` })),
    );
  }
  const input: Record<string, unknown> = { type: current.type };
  for (const key of allowed)
    if (current[key as keyof StoredActivity] !== undefined) input[key] = current[key as keyof StoredActivity];
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete input[key];
    else input[key] = value;
  }
  const parsed = CREATE_SCHEMAS[current.type].safeParse(input);
  if (!parsed.success)
    throw new ValidationError('The activity would be invalid.', fieldErrorsFrom(parsed.error, 'body'));
  const fields = typeFields(parsed.data as Record<string, unknown>, current.type, principal, now);
  fields.ownerId = (parsed.data as { ownerId?: string }).ownerId ?? current.ownerId;
  if (current.type === 'task') {
    fields.assigneeId = (parsed.data as { assigneeId?: string }).assigneeId ?? current.assigneeId;
    if (fields.status === 'completed') fields.completedAt = current.completedAt ?? now;
    // A new due time or offset re-arms the reminder.
    const rescheduled = RESCHEDULING.some((key) => fields[key] !== current[key]);
    if (current.remindedAt && !rescheduled) fields.remindedAt = current.remindedAt;
  }
  if (patch.occurredAt === undefined)
    fields.occurredAt = (parsed.data as { occurredAt?: string }).occurredAt ?? current.occurredAt;
  return fields;
}

async function rewrite(
  principal: Principal,
  current: StoredActivity,
  fields: Record<string, unknown>,
  extra: Partial<StoredActivity> = {},
): Promise<ActivityView> {
  const now = new Date().toISOString();
  const base = {
    tenantId: current.tenantId,
    activityId: current.activityId,
    id: current.activityId,
    type: current.type,
    version: current.version,
    createdAt: current.createdAt,
    createdBy: current.createdBy,
    updatedAt: current.updatedAt,
    updatedBy: current.updatedBy,
  };
  const candidate = { ...base, ...fields, ...extra } as StoredActivity;
  const unchanged = isDeepStrictEqual(toView(storedItem(candidate)), toView(storedItem(current)));
  if (unchanged) return toView(storedItem(current));
  const next = { ...candidate, version: current.version + 1, updatedAt: now, updatedBy: principal.userId };
  await writeRecord({
    entity: ENTITY,
    item: storedItem(next),
    expectedVersion: current.version,
    onVersionConflict: () => new PreconditionFailedError('activity', current.activityId),
    references: next.deletedAt ? [] : linkReferences(current.tenantId, next.links, current.links),
    items: timelineLinkWrites(current.tenantId, ENTITY, current.activityId, placementOf(next), placementOf(current)),
  });
  return toView(storedItem(next));
}

/** The current fields of an activity (what a patch starts from). */
function ownFields(a: StoredActivity): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const key of [...TYPE_FIELDS[a.type], 'completedAt', 'remindedAt']) {
    const value = a[key as keyof StoredActivity];
    if (value !== undefined) fields[key] = value;
  }
  return fields;
}

export async function patchActivity(
  principal: Principal,
  activityId: string,
  patch: ActivityPatchInput,
  ifMatch?: VersionPrecondition,
): Promise<ActivityView> {
  const current = await readLive(principal, activityId);
  if (ifMatch && !ifMatch.matches(current.version)) throw new PreconditionFailedError('activity', activityId);
  assertMayEdit(principal, current);
  return rewrite(principal, current, patched(principal, current, patch, new Date().toISOString()));
}

/** Completes a task (idempotent: a completed task is returned as it is). */
export async function completeTask(
  principal: Principal,
  activityId: string,
  ifMatch?: VersionPrecondition,
): Promise<ActivityView> {
  const current = await readLive(principal, activityId);
  if (ifMatch && !ifMatch.matches(current.version)) throw new PreconditionFailedError('activity', activityId);
  assertMayEdit(principal, current);
  if (current.type !== 'task') throw new DomainError(409, 'activity.not_a_task', 'Only tasks can be completed.');
  if (current.status === 'completed') return toView(storedItem(current));
  return rewrite(principal, current, {
    ...ownFields(current),
    status: 'completed',
    completedAt: new Date().toISOString(),
  });
}

/** Soft delete: drops out of every list and timeline; the sync feed (gsi5) and the events keep the deletion. */
export async function deleteActivity(principal: Principal, activityId: string, ifMatch?: VersionPrecondition) {
  const current = await readLive(principal, activityId);
  if (ifMatch && !ifMatch.matches(current.version)) throw new PreconditionFailedError('activity', activityId);
  assertMayEdit(principal, current);
  const now = new Date().toISOString();
  await rewrite(principal, current, ownFields(current), { deletedAt: now, deletedBy: principal.userId });
}

type ActivityQueryIndex = 'gsi1' | 'gsi2' | 'gsi4';

async function queryIndex(
  index: ActivityQueryIndex,
  partition: string,
  page: PageRequest,
  order: 'asc' | 'desc',
  until?: string,
): Promise<Page<ActivityView>> {
  const upper = until ? `${until}~` : undefined;
  checkCursor(page.cursor, `${index}pk`, partition, (sk) => upper === undefined || sk <= upper);
  const indexes = model.entities.activity.query as unknown as Record<ActivityQueryIndex, (key: object) => unknown>;
  const query = indexes[index]({ [`${index}pk`]: partition }) as {
    lte: (sk: Record<string, string>) => { go: (o: object) => Promise<{ data: unknown[]; cursor: string | null }> };
    go: (o: object) => Promise<{ data: unknown[]; cursor: string | null }>;
  };
  const options = { limit: page.limit, cursor: page.cursor ?? null, order };
  const result = upper ? await query.lte({ [`${index}sk`]: upper }).go(options) : await query.go(options);
  return {
    items: result.data.map((a) => toView(a as Record<string, unknown>)),
    nextCursor: result.cursor ?? null,
  };
}

const LINK_FILTERS = { contactId: 'contact', companyId: 'company', dealId: 'deal', leadId: 'lead' } as const;

/**
 * One filter per list, each one Query: an owner's open items (gsi1, soonest first), a type (gsi4, newest first), or
 * the activities linked to a record (its timeline, gsi6, narrowed to activity links: summaries, newest first; a
 * page may hold fewer items than the limit). Without a filter: the caller's own open items.
 */
export async function listActivities(
  principal: Principal,
  query: {
    ownerId?: string;
    type?: ActivityType;
    contactId?: string;
    companyId?: string;
    dealId?: string;
    leadId?: string;
  },
  page: PageRequest,
): Promise<Page<ActivityView | ActivitySummaryView>> {
  const filter = singleFilter(query, ['ownerId', 'type', 'contactId', 'companyId', 'dealId', 'leadId']);
  const t = principal.tenantId;
  if (filter === 'type') return queryIndex('gsi4', activityIndex.type(t, query.type!), page, 'desc');
  if (filter && filter in LINK_FILTERS) {
    const subjectType = LINK_FILTERS[filter as keyof typeof LINK_FILTERS];
    return linkedActivities(t, subjectType, query[filter as keyof typeof LINK_FILTERS]!, page);
  }
  return queryIndex('gsi1', activityIndex.owner(t, query.ownerId ?? principal.userId), page, 'asc');
}

/** The activity links on a record's timeline: one Query of gsi6 filtered to activity links. */
async function timelineActivityLinks(
  tenantId: string,
  subjectType: string,
  subjectId: string,
  page: PageRequest,
  order: 'asc' | 'desc' = 'desc',
): Promise<{ items: Array<Record<string, unknown>>; nextCursor: string | null }> {
  const partition = timelineIndex.pk(tenantId, subjectType, subjectId);
  const startKey = checkCursor(page.cursor, 'gsi6pk', partition);
  const result = await documentClient.send(
    new QueryCommand({
      TableName: tableName(),
      IndexName: 'gsi6',
      KeyConditionExpression: 'gsi6pk = :pk',
      FilterExpression: '#marker = :link AND #entity = :activity',
      ExpressionAttributeNames: { '#marker': '__edb_e__', '#entity': 'entity' },
      ExpressionAttributeValues: { ':pk': partition, ':link': 'timelineLink', ':activity': ENTITY },
      ScanIndexForward: order === 'asc',
      Limit: page.limit,
      ...(startKey ? { ExclusiveStartKey: startKey } : {}),
    }),
  );
  const next = result.LastEvaluatedKey;
  return {
    items: (result.Items ?? []) as Array<Record<string, unknown>>,
    nextCursor: next ? Buffer.from(JSON.stringify(next)).toString('base64url') : null,
  };
}

async function linkedActivities(
  tenantId: string,
  subjectType: LinkType,
  subjectId: string,
  page: PageRequest,
): Promise<Page<ActivitySummaryView>> {
  const { items, nextCursor } = await timelineActivityLinks(tenantId, subjectType, subjectId, page);
  return {
    items: items.map(
      (link) =>
        ({
          id: String(link.entityId),
          occurredAt: String(link.occurredAt),
          ...(link.summary as object),
        }) as ActivitySummaryView,
    ),
    nextCursor,
  };
}

/** The caller's open tasks and scheduled meetings: overdue first, then by due/start time (one Query of gsi2). */
export async function agenda(
  principal: Principal,
  query: { until?: string },
  page: PageRequest,
): Promise<Page<ActivityView>> {
  return queryIndex('gsi2', activityIndex.agenda(principal.tenantId, principal.userId), page, 'asc', query.until);
}

/**
 * Re-points every activity linked to `from` onto `to` (a merge): its link, the matching attendees' contactId and its
 * timeline links move in the activity's own transaction. Idempotent (an activity already moved is no longer on
 * `from`'s timeline), paginating internally; returns how many activities moved. Runs with the caller's credentials
 * (a merge's request: Query gsi6, GetItem, PutItem, DeleteItem, ConditionCheckItem).
 */
export async function moveLinks(
  tenantId: string,
  from: { type: 'contact' | 'company'; id: string },
  to: { type: 'contact' | 'company'; id: string },
): Promise<number> {
  if (from.type === to.type && from.id === to.id) return 0;
  const actor: Principal = { tenantId, userId: 'system:merge', roles: ['admin'] };
  let moved = 0;
  let cursor: string | undefined;
  do {
    const page = await timelineActivityLinks(
      tenantId,
      from.type,
      from.id,
      { limit: 100, ...(cursor ? { cursor } : {}) },
      'asc',
    );
    for (const link of page.items) {
      if (await moveOne(actor, String(link.entityId), from, to)) moved++;
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return moved;
}

async function moveOne(
  actor: Principal,
  activityId: string,
  from: ActivityLinkValue,
  to: ActivityLinkValue,
): Promise<boolean> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await readActivity(actor.tenantId, activityId);
    const linked = current?.links.some((l) => l.type === from.type && l.id === from.id);
    if (!current || current.deletedAt || !linked) return false;
    const links: ActivityLinkValue[] = [];
    for (const l of current.links) {
      const next = l.type === from.type && l.id === from.id ? to : l;
      if (!links.some((x) => x.type === next.type && x.id === next.id)) links.push(next);
    }
    const fields: Record<string, unknown> = { ...ownFields(current), links };
    if (from.type === 'contact' && to.type === 'contact' && current.attendees) {
      fields.attendees = current.attendees.map((a) => (a.contactId === from.id ? { ...a, contactId: to.id } : a));
    }
    try {
      await rewrite(actor, current, fields);
      return true;
    } catch (error) {
      // Someone changed it meanwhile: read it again and retry.
      if (!(error instanceof PreconditionFailedError)) throw error;
    }
  }
  throw new ConflictError(
    'request.conflict',
    `Activity ${activityId} kept changing while its links were moved; retry.`,
  );
}

/** Records that the reminder mailed the assignee: one conditional Put on the version read (412 if it changed). */
export async function markReminded(task: StoredActivity, remindedAt: string): Promise<void> {
  const actor: Principal = { tenantId: task.tenantId, userId: 'system:reminders', roles: [] };
  await rewrite(actor, task, { ...ownFields(task), remindedAt });
}
