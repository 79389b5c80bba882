import { timelineIndex } from '../db/keys.ts';
import { model } from '../db/store.ts';
import { logger } from '../observability.ts';
import { queryLookup } from '../records/lists.ts';
import { marketingIneligibility } from '../subscriptions/eligibility.ts';
import type { ExitReason, ExitTrigger } from './schema.ts';
import {
  enrollContacts,
  enrollmentsOfContact,
  exitEnrollment,
  markReplied,
  readSequence,
  type StoredSequence,
  sequencesEnrollingForm,
  sequencesEnrollingSegment,
} from './service.ts';

/** The live contact of an address: one lookup Query (addresses are stored lower-cased). */
export async function contactByEmail(tenantId: string, address: string): Promise<string | undefined> {
  const email = address.trim().toLowerCase();
  if (!email) return undefined;
  return (await queryLookup<{ id: string }>(tenantId, 'contact.email', email, { limit: 1 })).items[0]?.id;
}

/**
 * Exits every active enrolment of the contact whose sequence exits on `trigger` (reason = the trigger); `also` runs
 * first for each active enrolment whatever its sequence's triggers (a reply is recorded for branches).
 */
export async function exitContact(
  tenantId: string,
  contactId: string,
  trigger: ExitTrigger,
  options: {
    also?: (sequenceId: string) => Promise<void>;
    applies?: (sequence: StoredSequence) => boolean;
    repliedAt?: string;
  } = {},
): Promise<number> {
  let exited = 0;
  for (const enrollment of await enrollmentsOfContact(tenantId, contactId)) {
    if (enrollment.status !== 'active') continue;
    await options.also?.(enrollment.sequenceId);
    const sequence = await readSequence(tenantId, enrollment.sequenceId);
    if (!sequence?.exitOn?.includes(trigger)) continue;
    if (options.applies && !options.applies(sequence)) continue;
    const reason: ExitReason = trigger;
    const done = await exitEnrollment({ tenantId, sequenceId: enrollment.sequenceId, contactId }, reason, {
      ...(options.repliedAt ? { repliedAt: options.repliedAt } : {}),
    });
    if (done) exited++;
  }
  return exited;
}

/** A mail from the contact: its enrolments note the reply (for `replied` branches) and those exiting on reply end. */
export async function onReply(tenantId: string, fromAddress: string, receivedAt: string): Promise<number> {
  const contactId = await contactByEmail(tenantId, fromAddress);
  if (!contactId) return 0;
  return exitContact(tenantId, contactId, 'reply', {
    also: (sequenceId) => markReplied(tenantId, sequenceId, contactId, receivedAt),
    repliedAt: receivedAt,
  });
}

type ContactState = {
  lifecycleStage?: string;
  consent?: { email?: string };
  subscriptions?: Record<string, { status?: string } | undefined>;
  emails?: string[];
  deletedAt?: string;
  mergedInto?: string;
};

/**
 * A contact changed its consent, subscriptions or lifecycle stage: read as it is now (the change event's values may
 * be claim-checked; the record is the truth). Unsubscribed from the sequence's category or from everything: exit
 * `unsubscribe`; a customer now: exit `conversion`.
 */
export async function onContactChange(
  tenantId: string,
  contactId: string,
  changed: readonly string[],
): Promise<number> {
  const consentChanged = changed.some((f) => f === 'consent' || f === 'subscriptions');
  const stageChanged = changed.includes('lifecycleStage');
  if (!consentChanged && !stageChanged) return 0;
  const contact = (await model.entities.contact.get({ tenantId, contactId }).go({ consistent: true }))
    .data as ContactState | null;
  if (!contact) return 0;
  let exited = 0;
  if (consentChanged) {
    exited += await exitContact(tenantId, contactId, 'unsubscribe', {
      applies: (s) => marketingIneligibility({ ...contact, emails: ['-'] }, s.categoryId) === 'unsubscribed',
    });
  }
  if (stageChanged && contact.lifecycleStage === 'customer') {
    exited += await exitContact(tenantId, contactId, 'conversion');
  }
  return exited;
}

/** A won deal ends the enrolments (exiting on deal_won) of each of its contacts. */
export async function onDealWon(tenantId: string, contactIds: readonly string[]): Promise<number> {
  let exited = 0;
  for (const contactId of contactIds) exited += await exitContact(tenantId, contactId, 'deal_won');
  return exited;
}

/**
 * A form submission: the lead's address is looked up among contacts, and that contact is enrolled in every active
 * sequence enrolling the form. (Leads are not contacts: a lead whose address has no contact yet is not enrolled.)
 */
export async function onFormSubmission(tenantId: string, submissionId: string): Promise<string[]> {
  const submission = (await model.entities.formSubmission.get({ tenantId, submissionId }).go()).data as {
    formId?: string;
    leadId?: string;
    email?: string;
  } | null;
  if (!submission?.formId || !submission.leadId) return [];
  const sequenceIds = await sequencesEnrollingForm(tenantId, submission.formId);
  if (sequenceIds.length === 0) return [];
  // The submission keeps the address it was made with; else the lead's.
  const lead = submission.email
    ? null
    : ((await model.entities.lead.get({ tenantId, leadId: submission.leadId }).go()).data as {
        emails?: string[];
      } | null);
  const address = submission.email ?? lead?.emails?.[0];
  const contactId = address ? await contactByEmail(tenantId, address) : undefined;
  if (!contactId) {
    logger.info('form lead has no contact yet: not enrolled', { formId: submission.formId });
    return [];
  }
  const enrolled: string[] = [];
  for (const sequenceId of sequenceIds) {
    const outcome = await enrollContacts(tenantId, sequenceId, [contactId], 'form');
    if (outcome.enrolled.length > 0) enrolled.push(sequenceId);
  }
  return enrolled;
}

/**
 * A lead converted into a contact: the forms it came in through (its submissions, on its timeline: one begins_with
 * Query of gsi6) enrol the new contact in their active sequences, so a form lead without a contact at submission
 * time is enrolled when it becomes one. An enrolment made at submission time is left as it is.
 */
export async function onLeadConverted(tenantId: string, leadId: string, contactId: string): Promise<string[]> {
  // The lead's timeline holds notes and activities too; ElectroDB keeps only the submission items.
  const { data } = await model.entities.formSubmission.query
    .gsi6({ gsi6pk: timelineIndex.pk(tenantId, 'lead', leadId) })
    .go({ pages: 'all', attributes: ['submissionId', 'formId'] });
  const formIds = new Set((data as Array<{ formId?: string }>).flatMap((s) => (s.formId ? [s.formId] : [])));
  const enrolled: string[] = [];
  for (const formId of formIds) {
    for (const sequenceId of await sequencesEnrollingForm(tenantId, formId)) {
      const outcome = await enrollContacts(tenantId, sequenceId, [contactId], 'form');
      if (outcome.enrolled.length > 0) enrolled.push(sequenceId);
    }
  }
  return enrolled;
}

/**
 * How long a container keeps a segment's active sequences: a bulk add or a backfill of 100,000 members is 100,000
 * `segment.member.added` events, and most segments enrol nobody, so each event costs one Query only when the entry
 * is older than this. Each sequence found is read again before enrolling (paused or deleted meanwhile: nobody is
 * enrolled); a sequence activated meanwhile is found that much later at most, and the members who joined before its
 * activation are the activation's segment job's.
 */
export const SEGMENT_TRIGGER_CACHE_MS = 5_000;
const segmentTriggers = new Map<string, { sequenceIds: string[]; at: number }>();

/** The active sequences enrolling a segment, cached per container for SEGMENT_TRIGGER_CACHE_MS. */
async function cachedSequencesEnrollingSegment(tenantId: string, segmentId: string, now: number): Promise<string[]> {
  const key = `${tenantId}\u0000${segmentId}`;
  const hit = segmentTriggers.get(key);
  if (hit && now - hit.at < SEGMENT_TRIGGER_CACHE_MS) return hit.sequenceIds;
  const sequenceIds = await sequencesEnrollingSegment(tenantId, segmentId);
  // Bounded: a container that saw many segments forgets the oldest first (a Map iterates in insertion order).
  segmentTriggers.delete(key);
  segmentTriggers.set(key, { sequenceIds, at: now });
  if (segmentTriggers.size > 1000) segmentTriggers.delete(segmentTriggers.keys().next().value!);
  return sequenceIds;
}

/** Forgets the cached segment triggers (tests that activate a sequence and add a member at once). */
export function clearSegmentTriggerCache(): void {
  segmentTriggers.clear();
}

/**
 * A contact joined a segment (dynamic membership, a backfill, a list add): enrolled in every active sequence that
 * enrols that segment, once per sequence (the enrolment's conditional Put; already enrolled is no error).
 */
export async function onSegmentMemberAdded(
  tenantId: string,
  segmentId: string,
  contactId: string,
  now = Date.now(),
): Promise<string[]> {
  const sequenceIds = await cachedSequencesEnrollingSegment(tenantId, segmentId, now);
  const enrolled: string[] = [];
  for (const sequenceId of sequenceIds) {
    // The cache only says which sequences may enrol: a fresh read decides, so one paused, edited or deleted in
    // the last seconds enrols nobody.
    const sequence = await readSequence(tenantId, sequenceId);
    if (!sequence || sequence.deletedAt || sequence.status !== 'active') continue;
    if (sequence.enrollOn?.segmentId !== segmentId) continue;
    const outcome = await enrollContacts(tenantId, sequenceId, [contactId], 'segment');
    if (outcome.enrolled.length > 0) enrolled.push(sequenceId);
  }
  return enrolled;
}

/**
 * The segment job of an activated sequence: pages through the segment's members (one Query per 100), enrols each
 * page, and records the cursor and count on the sequence after each, so a retried invocation resumes where it
 * stopped. Runs once per activation (started when `segmentJob` appears).
 */
export async function runSegmentJob(tenantId: string, sequenceId: string): Promise<number> {
  const sequence = await readSequence(tenantId, sequenceId);
  const job = sequence?.segmentJob as { status: string; enrolled: number; cursor?: string } | undefined;
  const segmentId = sequence?.enrollOn?.segmentId;
  if (!sequence || sequence.deletedAt || !segmentId || job?.status !== 'running') return 0;
  let cursor = job.cursor ?? null;
  let enrolled = job.enrolled;
  do {
    const page = await model.entities.segmentMember.query
      .byMember({ tenantId, segmentId })
      .go({ limit: 100, cursor, attributes: ['contactId'] });
    const ids = (page.data as Array<{ contactId: string }>).map((m) => m.contactId);
    if (ids.length > 0) enrolled += (await enrollContacts(tenantId, sequenceId, ids, 'segment')).enrolled.length;
    cursor = page.cursor ?? null;
    const now = new Date().toISOString();
    await model.entities.sequence
      .patch({ tenantId, sequenceId })
      .set({
        segmentJob: {
          status: cursor ? 'running' : 'done',
          enrolled,
          startedAt: (sequence.segmentJob as { startedAt: string }).startedAt,
          ...(cursor ? { cursor } : { finishedAt: now }),
        },
      })
      .go();
  } while (cursor);
  return enrolled;
}
