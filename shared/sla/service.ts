import { ulid } from 'ulid';
import type { Principal } from '../auth/principal.ts';
import { becomeDefaultWrites, type StoredAudit } from '../db/documents.ts';
import { itemView } from '../db/item-view.ts';
import {
  businessCalendarIndex,
  businessCalendarKeys,
  slaPolicyIndex,
  slaPolicyKeys,
  sortableName,
} from '../db/keys.ts';
import { type ItemWrite, model, type ReferenceCheck, writeRecord } from '../db/store.ts';
import { ConflictError, DomainError, NotFoundError, PreconditionFailedError, ValidationError } from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import { type Page, queryIndex } from '../records/lists.ts';
import { type BusinessCalendarRules, NoBusinessHoursError } from './business-time.ts';
import { type SlaDueTimesView, type SlaPause, type SlaPolicyRules, slaDueTimes } from './due-times.ts';
import type {
  BusinessCalendarCreateInput,
  BusinessCalendarPatchInput,
  BusinessCalendarView,
  SlaPolicyCreateInput,
  SlaPolicyPatchInput,
  SlaPolicyView,
  SlaPriority,
} from './schema.ts';

// ---- business calendars -------------------------------------------------------------------------------------------

export interface StoredBusinessCalendar extends StoredAudit {
  tenantId: string;
  calendarId: string;
  name: string;
  sortName: string;
  timeZone: string;
  weeklyHours: BusinessCalendarView['weeklyHours'];
  holidays: BusinessCalendarView['holidays'];
}

/** Monday first, as people read a week (DynamoDB keeps a map's keys in no order). */
const WEEK_ORDER = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

export const calendarView = (stored: StoredBusinessCalendar): BusinessCalendarView => ({
  ...(itemView(stored as unknown as Record<string, unknown>, 'calendarId') as BusinessCalendarView),
  weeklyHours: Object.fromEntries(
    WEEK_ORDER.map((day) => [day, stored.weeklyHours[day] ?? []]),
  ) as BusinessCalendarView['weeklyHours'],
});

const calendarItem = (c: StoredBusinessCalendar) => ({ ...c, ...businessCalendarKeys(c) });

export async function readBusinessCalendar(
  tenantId: string,
  calendarId: string,
): Promise<StoredBusinessCalendar | undefined> {
  const { data } = await model.entities.businessCalendar.get({ tenantId, calendarId }).go();
  return (data as StoredBusinessCalendar | null) ?? undefined;
}

async function existingCalendar(tenantId: string, calendarId: string): Promise<StoredBusinessCalendar> {
  const stored = await readBusinessCalendar(tenantId, calendarId);
  if (!stored) throw new NotFoundError('businessCalendar', calendarId);
  return stored;
}

/** What the business-hours arithmetic needs of a stored calendar. */
export const calendarRules = (c: StoredBusinessCalendar): BusinessCalendarRules => ({
  timeZone: c.timeZone,
  weeklyHours: c.weeklyHours,
  holidays: c.holidays,
});

export async function createBusinessCalendar(
  principal: Principal,
  input: BusinessCalendarCreateInput,
  idempotency?: ApiRequest['idempotency'],
): Promise<BusinessCalendarView> {
  const now = new Date().toISOString();
  const calendar: StoredBusinessCalendar = {
    tenantId: principal.tenantId,
    calendarId: ulid(),
    name: input.name,
    sortName: sortableName(input.name),
    timeZone: input.timeZone,
    weeklyHours: input.weeklyHours,
    holidays: input.holidays,
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: principal.userId,
    updatedBy: principal.userId,
  };
  const view = calendarView(calendar);
  await writeRecord({
    entity: 'businessCalendar',
    item: calendarItem(calendar),
    onVersionConflict: () =>
      new DomainError(409, 'businessCalendar.exists', `businessCalendar ${calendar.calendarId} already exists.`),
    ...(idempotency
      ? { idempotency: { tenantId: principal.tenantId, ...idempotency, statusCode: 201, response: view } }
      : {}),
  });
  return view;
}

export async function getBusinessCalendar(principal: Principal, calendarId: string): Promise<BusinessCalendarView> {
  return calendarView(await existingCalendar(principal.tenantId, calendarId));
}

export async function listBusinessCalendars(
  principal: Principal,
  page: { limit: number; cursor?: string | undefined },
) {
  const result = await queryIndex<StoredBusinessCalendar>(
    'businessCalendar',
    'gsi4',
    businessCalendarIndex.name(principal.tenantId),
    page,
  );
  return { items: result.items.map(calendarView), nextCursor: result.nextCursor } satisfies Page<BusinessCalendarView>;
}

export async function patchBusinessCalendar(
  principal: Principal,
  calendarId: string,
  patch: BusinessCalendarPatchInput,
  ifMatch?: VersionPrecondition,
): Promise<BusinessCalendarView> {
  const previous = await existingCalendar(principal.tenantId, calendarId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('businessCalendar', calendarId);
  const changed = {
    ...previous,
    ...(patch.name !== undefined ? { name: patch.name, sortName: sortableName(patch.name) } : {}),
    ...(patch.timeZone !== undefined ? { timeZone: patch.timeZone } : {}),
    ...(patch.weeklyHours !== undefined ? { weeklyHours: patch.weeklyHours } : {}),
    ...(patch.holidays !== undefined ? { holidays: patch.holidays } : {}),
  };
  if (JSON.stringify(calendarView(changed)) === JSON.stringify(calendarView(previous))) return calendarView(previous);
  const next: StoredBusinessCalendar = {
    ...changed,
    version: previous.version + 1,
    updatedAt: new Date().toISOString(),
    updatedBy: principal.userId,
  };
  await writeRecord({
    entity: 'businessCalendar',
    item: calendarItem(next),
    expectedVersion: previous.version,
    onVersionConflict: () => new PreconditionFailedError('businessCalendar', calendarId),
  });
  return calendarView(next);
}

/** The first few policies counting on a calendar (gsi2; eventually consistent, like every GSI read). */
async function policiesOnCalendar(tenantId: string, calendarId: string): Promise<StoredSlaPolicy[]> {
  const page = await queryIndex<StoredSlaPolicy>('slaPolicy', 'gsi2', slaPolicyIndex.calendar(tenantId, calendarId), {
    limit: 5,
  });
  return page.items;
}

/** Deletes a calendar no policy counts on (409 `businessCalendar.in_use` naming them otherwise). */
export async function deleteBusinessCalendar(principal: Principal, calendarId: string, ifMatch?: VersionPrecondition) {
  const previous = await existingCalendar(principal.tenantId, calendarId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('businessCalendar', calendarId);
  const dependents = await policiesOnCalendar(principal.tenantId, calendarId);
  if (dependents.length > 0) {
    throw new ConflictError(
      'businessCalendar.in_use',
      `SLA policies count on this calendar (${dependents.map((p) => p.name).join(', ')}): point them at another calendar first.`,
      { policyIds: dependents.map((p) => p.policyId) },
    );
  }
  const { rejected } = await model.entities.businessCalendar
    .delete({ tenantId: principal.tenantId, calendarId })
    .where((attr, op) => op.eq(attr.version, previous.version))
    .go({ response: 'none', returnOnConditionCheckFailure: true } as never);
  if (rejected) throw new PreconditionFailedError('businessCalendar', calendarId);
}

// ---- SLA policies -------------------------------------------------------------------------------------------------

export interface StoredSlaPolicy extends StoredAudit {
  tenantId: string;
  policyId: string;
  name: string;
  sortName: string;
  calendarId: string;
  targets: SlaPolicyView['targets'];
  warnBeforeMinutes: number;
  escalation: SlaPolicyView['escalation'];
  isDefault: boolean;
}

export const policyView = (stored: StoredSlaPolicy): SlaPolicyView =>
  itemView(stored as unknown as Record<string, unknown>, 'policyId') as SlaPolicyView;

const policyItem = (p: StoredSlaPolicy) => ({ ...p, ...slaPolicyKeys(p) });

export async function readSlaPolicy(tenantId: string, policyId: string): Promise<StoredSlaPolicy | undefined> {
  const { data } = await model.entities.slaPolicy.get({ tenantId, policyId }).go();
  return (data as StoredSlaPolicy | null) ?? undefined;
}

async function existingPolicy(tenantId: string, policyId: string): Promise<StoredSlaPolicy> {
  const stored = await readSlaPolicy(tenantId, policyId);
  if (!stored) throw new NotFoundError('slaPolicy', policyId);
  return stored;
}

/** The tenant's default policy id (one GetItem), if it has any policy. */
export async function defaultSlaPolicyId(tenantId: string): Promise<{ policyId: string; version: number } | undefined> {
  const { data } = await model.entities.defaultSlaPolicy.get({ tenantId }).go();
  return data ? { policyId: data.policyId, version: data.version } : undefined;
}

/** The writes that make `policy` the default, in one transaction with the policy itself (see becomeDefaultWrites). */
async function becomeDefault(policy: StoredSlaPolicy, principal: Principal): Promise<ItemWrite[]> {
  const current = await defaultSlaPolicyId(policy.tenantId);
  return becomeDefaultWrites<StoredSlaPolicy>({
    pointer: 'defaultSlaPolicy',
    record: 'slaPolicy',
    idField: 'policyId',
    tenantId: policy.tenantId,
    id: policy.policyId,
    current: current && { id: current.policyId, version: current.version },
    readRecord: (id) => readSlaPolicy(policy.tenantId, id),
    itemOf: policyItem,
    updatedAt: policy.updatedAt,
    actorId: principal.userId,
    what: 'default SLA policy',
  });
}

/**
 * The calendar and escalation team a policy names must exist when it is written: ConditionChecks in the policy's own
 * write, so a calendar deleted (or team removed) meanwhile fails the write instead of leaving a dangling reference.
 */
function policyReferences(policy: StoredSlaPolicy): ReferenceCheck[] {
  const invalid = (field: string, message: string, code: string) =>
    new ValidationError('The policy refers to something that does not exist.', [{ field, message, code }]);
  const checks: ReferenceCheck[] = [
    {
      entity: 'businessCalendar',
      key: { tenantId: policy.tenantId, calendarId: policy.calendarId },
      error: invalid('body.calendarId', `No business calendar ${policy.calendarId}.`, 'unknown_calendar'),
    },
  ];
  const teamId = policy.escalation.reassignToTeamId;
  if (teamId) {
    checks.push({
      entity: 'team',
      key: { tenantId: policy.tenantId, teamId },
      error: invalid('body.escalation.reassignToTeamId', `No team ${teamId}.`, 'unknown_team'),
    });
  }
  return checks;
}

export async function createSlaPolicy(
  principal: Principal,
  input: SlaPolicyCreateInput,
  idempotency?: ApiRequest['idempotency'],
): Promise<SlaPolicyView> {
  const now = new Date().toISOString();
  const policy: StoredSlaPolicy = {
    tenantId: principal.tenantId,
    policyId: ulid(),
    name: input.name,
    sortName: sortableName(input.name),
    calendarId: input.calendarId,
    targets: input.targets,
    warnBeforeMinutes: input.warnBeforeMinutes,
    escalation: input.escalation,
    isDefault: false,
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: principal.userId,
    updatedBy: principal.userId,
  };
  // The organisation's first policy is its default whatever the request says.
  policy.isDefault = input.isDefault === true || (await defaultSlaPolicyId(principal.tenantId)) === undefined;
  const items = policy.isDefault ? await becomeDefault(policy, principal) : [];
  const view = policyView(policy);
  await writeRecord({
    entity: 'slaPolicy',
    item: policyItem(policy),
    items,
    onVersionConflict: () => new DomainError(409, 'slaPolicy.exists', `slaPolicy ${policy.policyId} already exists.`),
    references: policyReferences(policy),
    ...(idempotency
      ? { idempotency: { tenantId: principal.tenantId, ...idempotency, statusCode: 201, response: view } }
      : {}),
  });
  return view;
}

export async function getSlaPolicy(principal: Principal, policyId: string): Promise<SlaPolicyView> {
  return policyView(await existingPolicy(principal.tenantId, policyId));
}

export async function listSlaPolicies(principal: Principal, page: { limit: number; cursor?: string | undefined }) {
  const result = await queryIndex<StoredSlaPolicy>('slaPolicy', 'gsi4', slaPolicyIndex.name(principal.tenantId), page);
  return { items: result.items.map(policyView), nextCursor: result.nextCursor } satisfies Page<SlaPolicyView>;
}

export async function patchSlaPolicy(
  principal: Principal,
  policyId: string,
  patch: SlaPolicyPatchInput,
  ifMatch?: VersionPrecondition,
): Promise<SlaPolicyView> {
  const previous = await existingPolicy(principal.tenantId, policyId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('slaPolicy', policyId);
  const changed: StoredSlaPolicy = {
    ...previous,
    ...(patch.name !== undefined ? { name: patch.name, sortName: sortableName(patch.name) } : {}),
    ...(patch.calendarId !== undefined ? { calendarId: patch.calendarId } : {}),
    ...(patch.targets !== undefined ? { targets: patch.targets } : {}),
    ...(patch.warnBeforeMinutes !== undefined ? { warnBeforeMinutes: patch.warnBeforeMinutes } : {}),
    ...(patch.escalation !== undefined ? { escalation: patch.escalation } : {}),
    isDefault: previous.isDefault || patch.isDefault === true,
  };
  if (JSON.stringify(policyView(changed)) === JSON.stringify(policyView(previous))) return policyView(previous);
  const next: StoredSlaPolicy = {
    ...changed,
    version: previous.version + 1,
    updatedAt: new Date().toISOString(),
    updatedBy: principal.userId,
  };
  const items = next.isDefault && !previous.isDefault ? await becomeDefault(next, principal) : [];
  await writeRecord({
    entity: 'slaPolicy',
    item: policyItem(next),
    expectedVersion: previous.version,
    onVersionConflict: () => new PreconditionFailedError('slaPolicy', policyId),
    references: policyReferences(next),
    items,
  });
  return policyView(next);
}

export async function deleteSlaPolicy(principal: Principal, policyId: string, ifMatch?: VersionPrecondition) {
  const previous = await existingPolicy(principal.tenantId, policyId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('slaPolicy', policyId);
  if (previous.isDefault) {
    throw new ConflictError(
      'slaPolicy.is_default',
      'The default SLA policy cannot be deleted: make another policy the default first.',
    );
  }
  const { rejected } = await model.entities.slaPolicy
    .delete({ tenantId: principal.tenantId, policyId })
    .where((attr, op) => op.eq(attr.version, previous.version))
    .go({ response: 'none', returnOnConditionCheckFailure: true } as never);
  if (rejected) throw new PreconditionFailedError('slaPolicy', policyId);
}

// ---- what tickets and the escalation workflow call ----------------------------------------------------------------

export interface SlaContext {
  policy: StoredSlaPolicy;
  calendar: StoredBusinessCalendar;
  /** The pure arithmetic's inputs. */
  rules: SlaPolicyRules;
  calendarRules: BusinessCalendarRules;
}

/**
 * A policy and its calendar (two GetItems; three without `policyId`, which means the tenant's default), or undefined
 * when there is none or either is gone. The ticket workflow calls this once per SLA computation, then
 * `slaDueTimes(context.rules, context.calendarRules, ticket)`.
 */
export async function loadSlaContext(tenantId: string, policyId?: string): Promise<SlaContext | undefined> {
  const id = policyId ?? (await defaultSlaPolicyId(tenantId))?.policyId;
  if (id === undefined) return undefined;
  const policy = await readSlaPolicy(tenantId, id);
  if (!policy) return undefined;
  const calendar = await readBusinessCalendar(tenantId, policy.calendarId);
  if (!calendar) return undefined;
  return {
    policy,
    calendar,
    rules: { targets: policy.targets, warnBeforeMinutes: policy.warnBeforeMinutes },
    calendarRules: calendarRules(calendar),
  };
}

/** Due times for a hypothetical ticket under a stored policy: what the preview route answers. */
export async function previewDueTimes(
  principal: Principal,
  policyId: string,
  ticket: { priority: SlaPriority; createdAt: string; paused: SlaPause[] },
): Promise<SlaDueTimesView> {
  const context = await loadSlaContext(principal.tenantId, policyId);
  if (!context) throw new NotFoundError('slaPolicy', policyId);
  try {
    return slaDueTimes(context.rules, context.calendarRules, {
      priority: ticket.priority,
      createdAt: ticket.createdAt,
      pausedIntervals: ticket.paused,
    });
  } catch (error) {
    if (error instanceof NoBusinessHoursError)
      throw new DomainError(422, 'slaPolicy.unreachable_target', error.message);
    throw error;
  }
}
