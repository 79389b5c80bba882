import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A drip sequence: ordered steps (send, wait, waitUntil, task, branch; shared/sequences/schema.ts, at most 50), the
 * sender, the subscription category its mail goes under, what ends an enrolment early (`exitOn`) and what enrols
 * (`enrollOn`). gsi4: the tenant's sequences by name (and trash); gsi2: active sequences enrolling a form's leads
 * or a segment's members (sparse: only while active with `enrollOn`), what the trigger consumer queries.
 */
export const SequenceEntity = new Entity(
  {
    model: { entity: 'sequence', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      sequenceId: { type: 'string', required: true, readOnly: true },
      name: { type: 'string', required: true },
      sortName: { type: 'string' },
      /** active | paused | archived (a new sequence starts paused: steps are checked, nothing runs yet). */
      status: { type: 'string', required: true },
      steps: { type: 'any', required: true },
      categoryId: { type: 'string' },
      /** { address, name? } */
      from: { type: 'any', required: true },
      replyTo: { type: 'string' },
      /** Default zone of waitUntil steps for contacts without one. */
      timeZone: { type: 'string' },
      /** Subset of reply | unsubscribe | conversion | deal_won. */
      exitOn: { type: 'list', items: { type: 'string' } },
      /** { segmentId } | { formId } */
      enrollOn: { type: 'any' },
      /** The segment enrolment job run on activation: { status, enrolled, cursor?, startedAt, finishedAt? }. */
      segmentJob: { type: 'any' },
      activatedAt: { type: 'string' },
      deletedAt: { type: 'string' },
      deletedBy: { type: 'string' },
      ...gsiKeyAttributes(['gsi2', 'gsi4']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'sequenceId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi2', 'gsi4']),
    },
  },
  {},
);

/**
 * One contact in one sequence, ever: keyed by (tenant, contact) with the sequence as sort key, so creating it (must
 * be new) is the one-enrolment rule and a contact's enrolments (what the exit consumer needs) are one Query.
 * gsi1: a sequence's enrolments by contact id. `currentStep` / `waitUntil` are where the workflow stands: it re-reads
 * them at every step, so the Step Functions state carries only ids. `run` names the execution.
 */
export const SequenceEnrollmentEntity = new Entity(
  {
    model: { entity: 'sequenceEnrollment', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      contactId: { type: 'string', required: true, readOnly: true },
      sequenceId: { type: 'string', required: true, readOnly: true },
      /** `<sequenceId>.<contactId>`: the id of its events. */
      enrollmentId: { type: 'string', required: true, readOnly: true },
      version: { type: 'number', required: true },
      createdAt: { type: 'string', required: true, readOnly: true },
      updatedAt: { type: 'string', required: true },
      createdBy: { type: 'string' },
      updatedBy: { type: 'string' },
      /** active | completed | exited | failed */
      status: { type: 'string', required: true },
      /** manual | segment | form */
      source: { type: 'string', required: true },
      run: { type: 'number', required: true },
      currentStep: { type: 'string' },
      /** Set while the current step is a wait: when it ends. */
      waitUntil: { type: 'string' },
      stepsRun: { type: 'number' },
      enrolledAt: { type: 'string', required: true },
      repliedAt: { type: 'string' },
      completedAt: { type: 'string' },
      exitedAt: { type: 'string' },
      /** reply | unsubscribe | conversion | deal_won | manual | suppressed | unconsented | no_email | deleted | archived */
      exitReason: { type: 'string' },
      failedAt: { type: 'string' },
      /** The error that failed the workflow past its retries (status failed), at most 1,000 characters. */
      failure: { type: 'string' },
      ...gsiKeyAttributes(['gsi1']),
    },
    indexes: {
      byContact: {
        pk: { field: 'pk', composite: ['tenantId', 'contactId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: ['sequenceId'], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi1']),
    },
  },
  {},
);
