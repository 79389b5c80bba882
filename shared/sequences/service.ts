import { ulid } from 'ulid';
import type { Principal } from '../auth/principal.ts';
import { itemView } from '../db/item-view.ts';
import { sequenceIndex, sortableName } from '../db/keys.ts';
import { model, versionCondition, writeRecord } from '../db/store.ts';
import { ConflictError, NotFoundError, PreconditionFailedError, ValidationError } from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import { type Page, type PageRequest, queryIndex } from '../records/lists.ts';
import { mergePatch } from '../records/merge-patch.ts';
import { marketingSendConfig, senderAddressProblem } from '../templates/sender.ts';
import type { EnrollmentView, ExitReason, SequenceCreateInput, SequencePatchInput, SequenceView } from './schema.ts';

export type StoredSequence = Record<string, unknown> & {
  tenantId: string;
  sequenceId: string;
  version: number;
  status: 'active' | 'paused' | 'archived';
  steps: import('./schema.ts').SequenceStepDefinition[];
  exitOn?: string[];
  enrollOn?: { segmentId?: string; formId?: string };
  categoryId?: string;
  from: { address: string; name?: string };
  replyTo?: string;
  timeZone?: string;
  deletedAt?: string;
  createdAt: string;
};

export type EnrollmentSource = 'manual' | 'segment' | 'form';

export type StoredEnrollment = {
  tenantId: string;
  contactId: string;
  sequenceId: string;
  enrollmentId: string;
  version: number;
  status: 'active' | 'completed' | 'exited' | 'failed';
  source: EnrollmentSource;
  run: number;
  currentStep?: string;
  waitUntil?: string;
  stepsRun?: number;
  enrolledAt: string;
  repliedAt?: string;
  completedAt?: string;
  exitedAt?: string;
  exitReason?: ExitReason;
  failedAt?: string;
  failure?: string;
  createdAt: string;
  updatedAt: string;
  createdBy?: string;
  updatedBy?: string;
};

const isConditionalFailure = (error: unknown) =>
  (error as { name?: string }).name === 'ConditionalCheckFailedException' ||
  (error as { cause?: { name?: string } }).cause?.name === 'ConditionalCheckFailedException';

// ---------------------------------------------------------------------------------------------------------------
// Sequences

function sequenceKeys(s: StoredSequence) {
  const live = !s.deletedAt;
  const enrolling = live && s.status === 'active';
  const formId = enrolling ? s.enrollOn?.formId : undefined;
  const segmentId = enrolling ? s.enrollOn?.segmentId : undefined;
  // gsi2 (sparse): the active sequences a form's leads or a segment's new members enrol in (one trigger each).
  const gsi2pk = formId
    ? sequenceIndex.form(s.tenantId, formId)
    : segmentId
      ? sequenceIndex.segment(s.tenantId, segmentId)
      : undefined;
  return {
    gsi2pk,
    gsi2sk: gsi2pk ? s.sequenceId : undefined,
    gsi4pk: live ? sequenceIndex.name(s.tenantId) : sequenceIndex.trash(s.tenantId),
    gsi4sk: live ? `${s.sortName}#${s.sequenceId}` : `${s.deletedAt}#${s.sequenceId}`,
  };
}

export function sequenceView(stored: Record<string, unknown>): SequenceView {
  return itemView(stored, 'sequenceId') as unknown as SequenceView;
}

/** One GetItem under the tenant's key. */
export async function readSequence(tenantId: string, sequenceId: string): Promise<StoredSequence | undefined> {
  const { data } = await model.entities.sequence.get({ tenantId, sequenceId }).go({ consistent: true });
  return (data as StoredSequence | null) ?? undefined;
}

async function liveSequence(tenantId: string, sequenceId: string): Promise<StoredSequence> {
  const sequence = await readSequence(tenantId, sequenceId);
  if (!sequence || sequence.deletedAt) throw new NotFoundError('sequence', sequenceId);
  return sequence;
}

async function save(
  p: Principal,
  next: StoredSequence,
  previous: StoredSequence | undefined,
  idempotency?: ApiRequest['idempotency'],
  statusCode = 200,
): Promise<SequenceView> {
  const view = sequenceView(next);
  await writeRecord({
    entity: 'sequence',
    item: { ...next, ...sequenceKeys(next) },
    ...versionCondition('sequence', next.sequenceId, previous),
    ...(idempotency ? { idempotency: { tenantId: p.tenantId, ...idempotency, statusCode, response: view } } : {}),
  });
  return view;
}

function checkPrecondition(previous: StoredSequence, ifMatch?: VersionPrecondition) {
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('sequence', previous.sequenceId);
}

/** Marketing mail goes out from the stack's mail domain only (the send role's IAM condition says the same). */
function checkSender(from: { address: string } | undefined) {
  if (!from) return;
  const problem = senderAddressProblem(from.address, marketingSendConfig().MARKETING_MAIL_DOMAIN);
  if (problem) throw new ValidationError(problem, [{ field: 'body.from.address', message: problem }]);
}

/** A new sequence is paused: its steps are valid, but nothing enrols or runs until it is activated. */
export async function createSequence(
  p: Principal,
  input: SequenceCreateInput,
  idempotency?: ApiRequest['idempotency'],
) {
  checkSender(input.from);
  const now = new Date().toISOString();
  const stored: StoredSequence = {
    ...(mergePatch({}, input) as Record<string, unknown>),
    tenantId: p.tenantId,
    sequenceId: ulid(),
    sortName: sortableName(input.name),
    status: 'paused',
    steps: input.steps,
    from: input.from,
    exitOn: input.exitOn,
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: p.userId,
    updatedBy: p.userId,
  };
  return save(p, stored, undefined, idempotency, 201);
}

export async function getSequence(p: Principal, sequenceId: string): Promise<SequenceView> {
  return sequenceView(await liveSequence(p.tenantId, sequenceId));
}

const EDITABLE_WHILE_ACTIVE = new Set(['name', 'exitOn', 'replyTo', 'from', 'timeZone', 'categoryId']);

export async function patchSequence(
  p: Principal,
  sequenceId: string,
  patch: SequencePatchInput,
  ifMatch?: VersionPrecondition,
) {
  const previous = await liveSequence(p.tenantId, sequenceId);
  checkPrecondition(previous, ifMatch);
  checkSender(patch.from);
  const frozen = Object.keys(patch).filter((k) => !EDITABLE_WHILE_ACTIVE.has(k));
  if (previous.status === 'active' && frozen.length > 0) {
    throw new ConflictError(
      'sequence.active',
      `Pause the sequence before changing ${frozen.join(', ')}: running enrolments stand on its steps.`,
    );
  }
  const { id: _id, version: _v, ...editable } = sequenceView(previous);
  const merged = mergePatch(editable as Record<string, unknown>, patch) as Record<string, unknown>;
  const next = {
    ...merged,
    tenantId: p.tenantId,
    sequenceId,
    sortName: sortableName(String(merged.name)),
    version: previous.version + 1,
    createdAt: previous.createdAt,
    updatedAt: new Date().toISOString(),
    updatedBy: p.userId,
  } as unknown as StoredSequence;
  return save(p, next, previous);
}

/** Soft delete: running enrolments exit (reason `archived`) at their next step. */
export async function deleteSequence(p: Principal, sequenceId: string, ifMatch?: VersionPrecondition) {
  const previous = await liveSequence(p.tenantId, sequenceId);
  checkPrecondition(previous, ifMatch);
  const now = new Date().toISOString();
  await save(
    p,
    {
      ...previous,
      version: previous.version + 1,
      updatedAt: now,
      updatedBy: p.userId,
      deletedAt: now,
      deletedBy: p.userId,
    },
    previous,
  );
}

/**
 * active ⇄ paused, archived is final. Activating a sequence that enrols a segment starts its enrolment job
 * (`segmentJob`, run by the sequence-triggers consumer from the change event); a paused sequence's workflows wait.
 */
export async function setSequenceStatus(
  p: Principal,
  sequenceId: string,
  status: 'active' | 'paused' | 'archived',
  ifMatch?: VersionPrecondition,
): Promise<SequenceView> {
  const previous = await liveSequence(p.tenantId, sequenceId);
  checkPrecondition(previous, ifMatch);
  if (previous.status === 'archived') {
    throw new ConflictError('sequence.archived', 'An archived sequence cannot be activated or paused again.');
  }
  if (previous.status === status) return sequenceView(previous);
  const now = new Date().toISOString();
  const next: StoredSequence = {
    ...previous,
    status,
    version: previous.version + 1,
    updatedAt: now,
    updatedBy: p.userId,
    ...(status === 'active' ? { activatedAt: now } : {}),
    ...(status === 'active' && previous.enrollOn?.segmentId && !previous.segmentJob
      ? { segmentJob: { status: 'running', enrolled: 0, startedAt: now } }
      : {}),
  };
  return save(p, next, previous);
}

/** By name (gsi4), or the trash. */
export async function listSequences(p: Principal, query: PageRequest & { inTrash?: true | undefined }) {
  const partition = query.inTrash ? sequenceIndex.trash(p.tenantId) : sequenceIndex.name(p.tenantId);
  const result = await queryIndex<Record<string, unknown>>('sequence', 'gsi4', partition, query, {
    ...(query.inTrash ? { order: 'desc' as const } : {}),
  });
  return { items: result.items.map(sequenceView), nextCursor: result.nextCursor };
}

/** Active sequences that enrol the leads of a form: one Query on gsi2. */
export async function sequencesEnrollingForm(tenantId: string, formId: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await queryIndex<{ sequenceId: string }>('sequence', 'gsi2', sequenceIndex.form(tenantId, formId), {
      limit: 100,
      cursor,
    });
    ids.push(...page.items.map((s) => s.sequenceId));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return ids;
}

/** Active sequences that enrol a segment's members as they join: one Query on gsi2. */
export async function sequencesEnrollingSegment(tenantId: string, segmentId: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await queryIndex<{ sequenceId: string }>(
      'sequence',
      'gsi2',
      sequenceIndex.segment(tenantId, segmentId),
      { limit: 100, cursor },
    );
    ids.push(...page.items.map((s) => s.sequenceId));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return ids;
}

// ---------------------------------------------------------------------------------------------------------------
// Enrolments

export const enrollmentIdOf = (sequenceId: string, contactId: string) => `${sequenceId}.${contactId}`;

export function enrollmentView(stored: Record<string, unknown>): EnrollmentView {
  return itemView(stored, 'enrollmentId') as unknown as EnrollmentView;
}

export async function readEnrollment(
  tenantId: string,
  sequenceId: string,
  contactId: string,
): Promise<StoredEnrollment | undefined> {
  const { data } = await model.entities.sequenceEnrollment
    .get({ tenantId, contactId, sequenceId })
    .go({ consistent: true });
  return (data as StoredEnrollment | null) ?? undefined;
}

/** A contact's enrolments in every sequence: one Query of its partition (what the exit consumer reads). */
export async function enrollmentsOfContact(tenantId: string, contactId: string): Promise<StoredEnrollment[]> {
  const { data } = await model.entities.sequenceEnrollment.query
    .byContact({ tenantId, contactId })
    .go({ pages: 'all' });
  return data as StoredEnrollment[];
}

/** Whether the contact exists and is live: one GetItem (API functions may not batch, see tenant-access.ts). */
async function isLiveContact(tenantId: string, contactId: string): Promise<boolean> {
  const { data } = await model.entities.contact
    .get({ tenantId, contactId })
    .go({ attributes: ['contactId', 'deletedAt', 'mergedInto'] });
  const c = data as { deletedAt?: string; mergedInto?: string } | null;
  return !!c && !c.deletedAt && !c.mergedInto;
}

export interface EnrollOutcome {
  enrolled: string[];
  alreadyEnrolled: string[];
  notFound: string[];
}

/**
 * Enrols contacts (at most 100 a call): each enrolment is created only if none exists for the contact in this
 * sequence (a conditional Put), so a retried or racing call enrols nobody twice and reports them as already enrolled.
 * Its creation on the stream (`sequence.enrollment_created`) starts the workflow.
 */
export async function enrollContacts(
  tenantId: string,
  sequenceId: string,
  contactIds: readonly string[],
  source: EnrollmentSource,
  actorId?: string,
): Promise<EnrollOutcome> {
  const outcome: EnrollOutcome = { enrolled: [], alreadyEnrolled: [], notFound: [] };
  const now = new Date().toISOString();
  const queue = [...new Set(contactIds)];
  // A few puts at a time: one call may enrol 100 contacts within the API's timeout without a burst.
  const worker = async () => {
    for (let contactId = queue.shift(); contactId; contactId = queue.shift()) {
      if (!(await isLiveContact(tenantId, contactId))) {
        outcome.notFound.push(contactId);
        continue;
      }
      const item = {
        tenantId,
        contactId,
        sequenceId,
        enrollmentId: enrollmentIdOf(sequenceId, contactId),
        version: 1,
        status: 'active',
        source,
        run: 1,
        stepsRun: 0,
        enrolledAt: now,
        createdAt: now,
        updatedAt: now,
        ...(actorId ? { createdBy: actorId, updatedBy: actorId } : {}),
        gsi1pk: sequenceIndex.enrollments(tenantId, sequenceId),
        gsi1sk: contactId,
      };
      try {
        await model.entities.sequenceEnrollment.create(item).go();
        outcome.enrolled.push(contactId);
      } catch (error) {
        if (!isConditionalFailure(error)) throw error;
        outcome.alreadyEnrolled.push(contactId);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return outcome;
}

export async function enroll(p: Principal, sequenceId: string, contactIds: readonly string[]) {
  const sequence = await liveSequence(p.tenantId, sequenceId);
  if (sequence.status === 'archived') {
    throw new ConflictError('sequence.archived', 'An archived sequence enrols nobody.');
  }
  return enrollContacts(p.tenantId, sequenceId, contactIds, 'manual', p.userId);
}

export async function listEnrollments(
  p: Principal,
  sequenceId: string,
  page: PageRequest,
): Promise<Page<EnrollmentView>> {
  await liveSequence(p.tenantId, sequenceId);
  const result = await queryIndex<Record<string, unknown>>(
    'sequenceEnrollment',
    'gsi1',
    sequenceIndex.enrollments(p.tenantId, sequenceId),
    page,
  );
  return { items: result.items.map(enrollmentView), nextCursor: result.nextCursor };
}

export async function getEnrollment(p: Principal, sequenceId: string, contactId: string): Promise<EnrollmentView> {
  const enrollment = await readEnrollment(p.tenantId, sequenceId, contactId);
  if (!enrollment) throw new NotFoundError('sequenceEnrollment', enrollmentIdOf(sequenceId, contactId));
  return enrollmentView(enrollment);
}

/**
 * Ends an active enrolment: one update conditioned on `status = active` (and, when given, the version read), so of
 * an exit and a step racing, one wins; the workflow ends at its next step. Returns false when it was not active.
 */
export async function exitEnrollment(
  key: { tenantId: string; sequenceId: string; contactId: string },
  reason: ExitReason,
  options: { actorId?: string; repliedAt?: string; expectedVersion?: number } = {},
): Promise<boolean> {
  const now = new Date().toISOString();
  try {
    await model.entities.sequenceEnrollment
      .patch(key)
      .set({
        status: 'exited',
        exitReason: reason,
        exitedAt: now,
        updatedAt: now,
        ...(options.repliedAt ? { repliedAt: options.repliedAt } : {}),
        ...(options.actorId ? { updatedBy: options.actorId } : {}),
      })
      .remove(['waitUntil'])
      .add({ version: 1 })
      .where((attr, op) =>
        [
          op.eq(attr.status, 'active'),
          ...(options.expectedVersion !== undefined ? [op.eq(attr.version, options.expectedVersion)] : []),
        ].join(' AND '),
      )
      .go();
    return true;
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
}

/** What a Step Functions Catch hands on: the error name and its cause (a Lambda's is JSON with its message). */
export function failureCause(error: { Error?: string | undefined; Cause?: string | undefined } | undefined): string {
  let message = error?.Cause;
  try {
    // A Lambda error's cause is {"errorType","errorMessage","trace"}: the message says why, the trace is internal.
    const parsed = JSON.parse(message ?? '') as { errorMessage?: unknown };
    if (typeof parsed?.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // A plain-text cause (a States.* error) is kept as it is.
  }
  return ([error?.Error, message].filter(Boolean).join(': ') || 'unknown error').slice(0, 1000);
}

/**
 * Ends an enrolment whose workflow failed past its retries (the state machine's Catch): `failed` with the cause, so
 * it does not stay active forever. Conditioned on `status = active` and the run, so an enrolment that ended
 * meanwhile (an exit, a completion) keeps its end. Returns false when it was not active.
 */
export async function failEnrollment(
  key: { tenantId: string; sequenceId: string; contactId: string },
  run: number,
  cause: string,
): Promise<boolean> {
  const now = new Date().toISOString();
  try {
    await model.entities.sequenceEnrollment
      .patch(key)
      .set({ status: 'failed', failure: cause.slice(0, 1000), failedAt: now, updatedAt: now })
      .remove(['waitUntil'])
      .add({ version: 1 })
      .where((attr, op) => `${op.eq(attr.status, 'active')} AND ${op.eq(attr.run, run)}`)
      .go();
    return true;
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
}

/** DELETE .../enrollments/{contactId}: exits it by hand (404 if none, 409 if it already ended). */
export async function exitManually(p: Principal, sequenceId: string, contactId: string, ifMatch?: VersionPrecondition) {
  const enrollment = await readEnrollment(p.tenantId, sequenceId, contactId);
  if (!enrollment) throw new NotFoundError('sequenceEnrollment', enrollmentIdOf(sequenceId, contactId));
  if (ifMatch && !ifMatch.matches(enrollment.version)) {
    throw new PreconditionFailedError('sequenceEnrollment', enrollment.enrollmentId);
  }
  if (enrollment.status !== 'active') {
    throw new ConflictError('sequence.enrollment_ended', `The enrolment has already ${enrollment.status}.`);
  }
  const exited = await exitEnrollment({ tenantId: p.tenantId, sequenceId, contactId }, 'manual', {
    actorId: p.userId,
    expectedVersion: enrollment.version,
  });
  if (!exited) throw new PreconditionFailedError('sequenceEnrollment', enrollment.enrollmentId);
}

/** Records a reply on every active enrolment of the contact (branches on `replied` read it). */
export async function markReplied(tenantId: string, sequenceId: string, contactId: string, at: string): Promise<void> {
  try {
    await model.entities.sequenceEnrollment
      .patch({ tenantId, contactId, sequenceId })
      .set({ repliedAt: at })
      .where((attr, op) => `${op.eq(attr.status, 'active')} AND ${op.notExists(attr.repliedAt)}`)
      .go();
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
  }
}
