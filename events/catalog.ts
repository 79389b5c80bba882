import * as z from 'zod';

/**
 * The event catalog: every detail-type on the CRM bus with its versioned zod schema. Producers validate against it
 * before publishing, consumers parse with it, and EventBridge rules match on `source` + `detail-type`.
 */

/**
 * A claim check: a value too large to travel in an event, stored aside in the claim-check bucket. It stands wherever
 * the value would (a changed field's `old`/`new`, a change event's `record`, or a whole detail) and is always exactly
 * this one-key object, which no record value can be: record fields are named, and custom field keys are identifiers.
 * `bytes` and `sha256` describe the stored object (UTF-8 JSON of the value); `pointer` (RFC 6901), when present,
 * selects the value inside it. Consumers resolve it with `resolveClaimChecks` (shared/events/claim-check.ts).
 */
export const ClaimCheckRef = z.strictObject({
  schemaVersion: z.literal(1),
  bucket: z.string().min(1),
  key: z.string().min(1).max(1024),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  pointer: z.string().startsWith('/').optional(),
});
export const ClaimCheck = z.strictObject({ $claimCheck: ClaimCheckRef });
export type ClaimCheck = z.infer<typeof ClaimCheck>;

const FieldChange = z.object({ old: z.unknown().optional(), new: z.unknown().optional() });

/**
 * 1: before claim checks (still accepted, so archived events replay); 2: any value above the event's per-value
 * threshold, and the record itself, may be a claim check, and the whole detail may be one (see below).
 */
const RecordChangeVersion = z.union([z.literal(1), z.literal(2)]);

/** What every record-change event carries: who, when, which record, the changed fields and the record itself. */
function recordChange<E extends string>(entity: E) {
  const envelope = {
    schemaVersion: RecordChangeVersion,
    tenantId: z.string(),
    entity: z.literal(entity),
    entityId: z.string(),
    version: z.number().int(),
    occurredAt: z.iso.datetime({ offset: true }),
    actorId: z.string().optional(),
  };
  const complete = z.object({
    ...envelope,
    /** Changed fields with their old and new values (every field for created/deleted); large values claim-checked. */
    changes: z.record(z.string(), FieldChange),
    /** The record after the change (before it, for deletions), or its claim check when large. */
    record: z.union([ClaimCheck, z.record(z.string(), z.unknown())]),
  });
  /**
   * When even the references do not fit in one event, the whole detail is stored aside: the event keeps who, when,
   * which record and the names of the changed fields (so rules can still match them) beside the claim check.
   */
  const claimChecked = z.object({
    ...envelope,
    schemaVersion: z.literal(2),
    changedFields: z.array(z.string()),
    $claimCheck: ClaimCheckRef,
  });
  return z.union([complete, claimChecked]);
}

export const ContactChanged = recordChange('contact');
export const CompanyChanged = recordChange('company');
export const NoteChanged = recordChange('note');
/** A workspace user's profile (roles, status, teams...): their history is the audit trail of who changed access. */
export const UserChanged = recordChange('user');
export const TeamChanged = recordChange('team');
export const DealChanged = recordChange('deal');

/**
 * A deal entered another stage (derived from its change on the stream, next to `deal.updated`): small and bounded by
 * construction (ids, names, amount; no line items), so rules can match on pipeline, stage, status or amount.
 * `deal.won` and `deal.lost` carry the same detail when the new stage is a won or lost one.
 */
export const DealStageChanged = z.object({
  schemaVersion: z.literal(1),
  tenantId: z.string(),
  dealId: z.string(),
  /** The deal's version after the change (with dealId, a unique id of the event). */
  version: z.number().int(),
  occurredAt: z.iso.datetime({ offset: true }),
  actorId: z.string().optional(),
  name: z.string(),
  pipelineId: z.string(),
  fromPipelineId: z.string().optional(),
  fromStageId: z.string().optional(),
  toStageId: z.string(),
  status: z.enum(['open', 'won', 'lost']),
  previousStatus: z.enum(['open', 'won', 'lost']).optional(),
  probability: z.number().int(),
  amount: z.number().int(),
  currency: z.string(),
  ownerId: z.string(),
  companyId: z.string().optional(),
  contactIds: z.array(z.string()),
  /** How long the deal stayed in the previous stage. */
  msInPreviousStage: z.number().int().nonnegative().optional(),
  lostReason: z.string().optional(),
});
export type DealStageChangedDetail = z.infer<typeof DealStageChanged>;
export const LeadChanged = recordChange('lead');
/** `form.submitted`: a submission item's creation; `record` holds formId, leadId, values, utm, outcome. */
export const FormSubmitted = recordChange('formSubmission');
/**
 * Calls, meetings, logged emails and tasks. Their `record` carries `type` ('call' | 'meeting' | 'email' | 'task'),
 * `links` ([{ type: 'contact' | 'company' | 'deal' | 'lead', id }]), and where it applies `outcome` (calls), `status`
 * (tasks: open/completed/cancelled; meetings: scheduled/held/cancelled), `direction`, `dueAt`, `startAt`.
 */
export const ActivityChanged = recordChange('activity');
/**
 * Support tickets. Their `record` carries `number` ('T-1042'), `status`, `priority`, `channel`, `requesterId`,
 * `companyId`, `assigneeId`, `teamId`, `tags`, `category`: routing and SLA workflows start from `ticket.created`.
 */
export const TicketChanged = recordChange('ticket');
/**
 * `ticket.message_added`: a message's creation on a ticket's thread; `record` holds ticketId, visibility
 * ('public' | 'internal'), authorType ('user' | 'contact'), authorId, the bodies and attachmentIds.
 */
export const TicketMessageAdded = recordChange('ticketMessage');
/** Knowledge-base articles (title, body, status, locale, categories...; never their search tokens). */
export const ArticleChanged = recordChange('article');
/**
 * Segments and static lists (`record.kind`: 'dynamic' | 'static'). Their member count and backfill progress are
 * bookkeeping and publish nothing; a change of `evaluation` (a new filter, a restore, a sweep) is what starts a
 * backfill of a dynamic segment.
 */
export const SegmentChanged = recordChange('segment');
/**
 * Email campaigns. Their `record` carries `status` (draft | scheduled | sending | paused | sent | cancelled | failed),
 * `run`, `sendAt`, `schedule`, `audience`, `templateId`: the schedule consumer keeps each campaign's one-time schedule
 * from them. The send's progress is bookkeeping and publishes nothing; counters live apart (no events).
 */
export const CampaignChanged = recordChange('campaign');
/** Drip sequences (steps, status, triggers). */
export const SequenceChanged = recordChange('sequence');
/**
 * A contact's enrolment in a sequence (`entityId`: `<sequenceId>.<contactId>`); its creation starts the enrolment's
 * workflow, its updates follow the steps (`currentStep`, `waitUntil`) and the end (`status`, `exitReason`).
 */
export const SequenceEnrollmentChanged = recordChange('sequenceEnrollment');
export type RecordChangedDetail = z.infer<
  | typeof ContactChanged
  | typeof CompanyChanged
  | typeof NoteChanged
  | typeof UserChanged
  | typeof TeamChanged
  | typeof DealChanged
  | typeof LeadChanged
  | typeof FormSubmitted
  | typeof ActivityChanged
  | typeof TicketChanged
  | typeof TicketMessageAdded
  | typeof ArticleChanged
  | typeof SegmentChanged
  | typeof CampaignChanged
>;
/** A record-change detail with all its fields present (inline values or per-value claim checks). */
export type CompleteRecordChange = Extract<RecordChangedDetail, { changes: unknown }>;

/**
 * Bounds of `email.received`. Every header is sender-controlled, so each field is cut to these sizes (bytes as it counts in the JSON) and
 * lists to these counts; whatever was cut is named in `truncated`, and the raw MIME in S3 keeps everything.
 */
export const MAIL_LIMITS = {
  /** RFC 5322's line limit: more is never a legitimate header. */
  headerBytes: 998,
  addressBytes: 320,
  nameBytes: 256,
  addresses: 50,
  references: 20,
  textBytes: 32 * 1024,
} as const;

const header = z.string().max(MAIL_LIMITS.headerBytes);
const address = z.string().max(MAIL_LIMITS.addressBytes);

/** What a message says about itself (its headers, bounded), common to every version of `email.received`. */
const emailMessageFields = {
  messageId: header,
  /** Where SES stored the raw MIME message: the complete message, whatever was cut here. */
  s3: z.object({ bucket: z.string(), key: z.string() }),
  from: z.object({ address, name: z.string().max(MAIL_LIMITS.nameBytes).optional() }),
  /** At most `MAIL_LIMITS.addresses` each; longer addresses are left out (and `to`/`cc` named in `truncated`). */
  to: z.array(address).max(MAIL_LIMITS.addresses),
  cc: z.array(address).max(MAIL_LIMITS.addresses),
  subject: header,
  inReplyTo: header.optional(),
  /** The most recent `MAIL_LIMITS.references` message ids of the thread. */
  references: z.array(header).max(MAIL_LIMITS.references),
  text: z.string().max(MAIL_LIMITS.textBytes).optional(),
  /** Fields shortened or lists cut to the bounds above; read the raw message for the rest. */
  truncated: z.array(z.string()).optional(),
  /**
   * The message could not be parsed (e.g. more than 2 MiB of headers): only the SMTP envelope is described (sender
   * and accepted recipients); the raw message in S3 is all there is.
   */
  unparsed: z.literal(true).optional(),
  receivedAt: z.iso.datetime({ offset: true }),
};

/** Version 1: the message alone, before mailboxes (still accepted, so archived events replay). */
export const EmailReceivedV1 = z.object({ schemaVersion: z.literal(1), ...emailMessageFields });
export type EmailReceivedV1Detail = z.infer<typeof EmailReceivedV1>;

/** SES receipt verdict statuses. */
export const SES_VERDICT_STATUSES = ['PASS', 'FAIL', 'GRAY', 'PROCESSING_FAILED', 'DISABLED'] as const;
const VerdictStatus = z.enum(SES_VERDICT_STATUSES);
/** Verdicts a mailbox may choose to flag instead of rejecting (a virus is always rejected). */
export const FLAGGABLE_VERDICTS = ['spam', 'spf', 'dkim', 'dmarc'] as const;
/** Header values kept for loop and auto-reply detection (Auto-Submitted, Precedence): bytes in JSON. */
export const MAIL_HEADER_HINT_BYTES = 100;

/**
 * Version 2: one event per (message, tenant), published by the inbound mail function after it resolved the SES
 * envelope recipients to tenants' mailboxes (never from the To/Cc headers) and applied the mailbox's verdict policy.
 * Rejected and unroutable mail publishes nothing. `sesMessageId` is the de-duplication key (SES's id; a redelivered
 * or retried message carries the same), not the sender's Message-ID (`messageId`).
 */
export const EmailReceivedV2 = z.object({
  schemaVersion: z.literal(2),
  ...emailMessageFields,
  tenantId: z.string(),
  sesMessageId: z.string().min(1).max(MAIL_LIMITS.headerBytes),
  /** The envelope recipient that matched the mailbox, as sent, with its `+tag` (e.g. support+T-1042@acme.example). */
  recipient: address,
  mailbox: z.object({
    id: z.string(),
    address,
    teamId: z.string().optional(),
    defaultPriority: z.enum(['low', 'normal', 'high', 'urgent']),
  }),
  verdicts: z.object({
    spam: VerdictStatus,
    virus: VerdictStatus,
    spf: VerdictStatus,
    dkim: VerdictStatus,
    dmarc: VerdictStatus,
  }),
  /** Verdicts that FAILed and that this mailbox flags instead of rejecting. */
  flagged: z.array(z.enum(FLAGGABLE_VERDICTS)),
  /** The Auto-Submitted header (RFC 3834), when present: anything but `no` is an automatic message. */
  autoSubmitted: z.string().max(MAIL_HEADER_HINT_BYTES).optional(),
  /** The Precedence header (bulk, list, junk...), when present. */
  precedence: z.string().max(MAIL_HEADER_HINT_BYTES).optional(),
  /** SMTP MAIL FROM; empty for a null sender (a bounce or another automatic reply). */
  envelopeFrom: address,
});
export type EmailReceivedV2Detail = z.infer<typeof EmailReceivedV2>;

export const EmailReceived = z.discriminatedUnion('schemaVersion', [EmailReceivedV1, EmailReceivedV2]);
export type EmailReceivedDetail = z.infer<typeof EmailReceived>;

/**
 * A task's reminder went out: published (from the stream, like every event) when the reminder records `remindedAt`
 * on the task, i.e. when the task is due for its assignee's attention (dueAt minus the reminder offset).
 */
export const TaskDue = z.object({
  schemaVersion: z.literal(1),
  tenantId: z.string(),
  taskId: z.string(),
  version: z.number().int(),
  occurredAt: z.iso.datetime({ offset: true }),
  title: z.string().max(200),
  dueAt: z.iso.datetime({ offset: true }),
  remindedAt: z.iso.datetime({ offset: true }),
  assigneeId: z.string(),
  ownerId: z.string(),
  priority: z.string().optional(),
  links: z.array(z.object({ type: z.string(), id: z.string() })).max(20),
});
export type TaskDueDetail = z.infer<typeof TaskDue>;

/**
 * `email.opened` / `email.clicked`: a contact opened (clicked a link of) a marketing email. Derived from the stream
 * when the contact's engagement item (ContactEngagementEntity) moves its last open (click) forward, which the SES
 * tracking consumer does once per SES Open (Click) event that is newer than the last: `at` is that event's time.
 * What dynamic segments with an engagement condition and lead scoring consume.
 */
export const EmailEngagement = z.object({
  schemaVersion: z.literal(1),
  tenantId: z.string(),
  contactId: z.string(),
  /** The campaign whose mail was opened (clicked), when known. */
  campaignId: z.string().optional(),
  at: z.iso.datetime({ offset: true }),
  /** The same time, under the name other events use (set by the stream publisher). */
  occurredAt: z.iso.datetime({ offset: true }).optional(),
  /** The contact, as activity links name it (what lead scoring reads). */
  links: z
    .array(z.object({ type: z.string(), id: z.string() }))
    .max(1)
    .optional(),
});
export type EmailEngagementDetail = z.infer<typeof EmailEngagement>;

/**
 * A contact unsubscribed (derived from its change on the stream, next to `contact.updated`; not named `contact.*` so
 * that consumers of every contact change, the audit trail and duplicate candidates, do not get it): from one category
 * (`scope: category`, `categoryId`) or from all marketing email (`scope: all`: email consent withdrawn), with where it
 * came from (`source`: one_click, preference_page, api) and the campaign whose link it was. For campaign statistics
 * and for sequences that end on an unsubscribe. One event per category unsubscribed by the change.
 */
export const ContactUnsubscribed = z.object({
  schemaVersion: z.literal(1),
  tenantId: z.string(),
  contactId: z.string(),
  /** The contact's version after the change (with contactId and scope/categoryId, a unique id of the event). */
  version: z.number().int(),
  occurredAt: z.iso.datetime({ offset: true }),
  actorId: z.string().optional(),
  scope: z.enum(['all', 'category']),
  categoryId: z.string().max(64).optional(),
  source: z.string().max(64),
  campaignId: z.string().max(64).optional(),
});
export type ContactUnsubscribedDetail = z.infer<typeof ContactUnsubscribed>;

/**
 * `segment.member.added` / `segment.member.removed`: a contact entered or left a segment or static list (derived from
 * the stream when its membership item is created or deleted, whoever wrote it: the dynamic-membership consumer, a
 * backfill, a list add or removal, single or bulk). Ids only, so a backfill of 100,000 members stays 100,000 small
 * events. `source`: filter | manual | import | backfill (as the membership item says). What sequences enrolling a
 * segment consume.
 */
export const SegmentMembershipChanged = z.object({
  schemaVersion: z.literal(1),
  tenantId: z.string(),
  segmentId: z.string(),
  contactId: z.string(),
  source: z.string().max(32),
  occurredAt: z.iso.datetime({ offset: true }),
});
export type SegmentMembershipChangedDetail = z.infer<typeof SegmentMembershipChanged>;

export const CATALOG = {
  'contact.created': { source: 'crm.contacts', schema: ContactChanged },
  'contact.updated': { source: 'crm.contacts', schema: ContactChanged },
  'contact.deleted': { source: 'crm.contacts', schema: ContactChanged },
  'contact.restored': { source: 'crm.contacts', schema: ContactChanged },
  'consent.unsubscribed': { source: 'crm.contacts', schema: ContactUnsubscribed },
  /** The record (entityId) was merged into `changes.mergedInto.new`; the winner's own change is a contact.updated. */
  'contact.merged': { source: 'crm.contacts', schema: ContactChanged },
  'company.created': { source: 'crm.companies', schema: CompanyChanged },
  'company.updated': { source: 'crm.companies', schema: CompanyChanged },
  'company.deleted': { source: 'crm.companies', schema: CompanyChanged },
  'company.restored': { source: 'crm.companies', schema: CompanyChanged },
  'company.merged': { source: 'crm.companies', schema: CompanyChanged },
  'note.created': { source: 'crm.notes', schema: NoteChanged },
  'note.updated': { source: 'crm.notes', schema: NoteChanged },
  'note.deleted': { source: 'crm.notes', schema: NoteChanged },
  'user.created': { source: 'crm.users', schema: UserChanged },
  'user.updated': { source: 'crm.users', schema: UserChanged },
  'user.deleted': { source: 'crm.users', schema: UserChanged },
  'team.created': { source: 'crm.teams', schema: TeamChanged },
  'team.updated': { source: 'crm.teams', schema: TeamChanged },
  'team.deleted': { source: 'crm.teams', schema: TeamChanged },
  'email.received': { source: 'crm.mail', schema: EmailReceived },
  'deal.created': { source: 'crm.deals', schema: DealChanged },
  'deal.updated': { source: 'crm.deals', schema: DealChanged },
  'deal.deleted': { source: 'crm.deals', schema: DealChanged },
  'deal.restored': { source: 'crm.deals', schema: DealChanged },
  'deal.stage_changed': { source: 'crm.deals', schema: DealStageChanged },
  'deal.won': { source: 'crm.deals', schema: DealStageChanged },
  'deal.lost': { source: 'crm.deals', schema: DealStageChanged },
  'lead.created': { source: 'crm.leads', schema: LeadChanged },
  'lead.updated': { source: 'crm.leads', schema: LeadChanged },
  'lead.deleted': { source: 'crm.leads', schema: LeadChanged },
  'lead.restored': { source: 'crm.leads', schema: LeadChanged },
  'form.submitted': { source: 'crm.forms', schema: FormSubmitted },
  'activity.created': { source: 'crm.activities', schema: ActivityChanged },
  'activity.updated': { source: 'crm.activities', schema: ActivityChanged },
  'activity.deleted': { source: 'crm.activities', schema: ActivityChanged },
  'task.due': { source: 'crm.activities', schema: TaskDue },
  'ticket.created': { source: 'crm.tickets', schema: TicketChanged },
  'ticket.updated': { source: 'crm.tickets', schema: TicketChanged },
  'ticket.deleted': { source: 'crm.tickets', schema: TicketChanged },
  'ticket.message_added': { source: 'crm.tickets', schema: TicketMessageAdded },
  'article.created': { source: 'crm.knowledge', schema: ArticleChanged },
  'article.updated': { source: 'crm.knowledge', schema: ArticleChanged },
  'article.deleted': { source: 'crm.knowledge', schema: ArticleChanged },
  'article.restored': { source: 'crm.knowledge', schema: ArticleChanged },
  'segment.created': { source: 'crm.segments', schema: SegmentChanged },
  'segment.updated': { source: 'crm.segments', schema: SegmentChanged },
  'segment.deleted': { source: 'crm.segments', schema: SegmentChanged },
  'segment.restored': { source: 'crm.segments', schema: SegmentChanged },
  'segment.member.added': { source: 'crm.segments', schema: SegmentMembershipChanged },
  'segment.member.removed': { source: 'crm.segments', schema: SegmentMembershipChanged },
  'campaign.created': { source: 'crm.campaigns', schema: CampaignChanged },
  'campaign.updated': { source: 'crm.campaigns', schema: CampaignChanged },
  'campaign.deleted': { source: 'crm.campaigns', schema: CampaignChanged },
  'sequence.created': { source: 'crm.sequences', schema: SequenceChanged },
  'sequence.updated': { source: 'crm.sequences', schema: SequenceChanged },
  'sequence.deleted': { source: 'crm.sequences', schema: SequenceChanged },
  'sequence.enrollment_created': { source: 'crm.sequences', schema: SequenceEnrollmentChanged },
  'sequence.enrollment_updated': { source: 'crm.sequences', schema: SequenceEnrollmentChanged },
  'email.opened': { source: 'crm.marketing', schema: EmailEngagement },
  'email.clicked': { source: 'crm.marketing', schema: EmailEngagement },
} as const;

export type DetailType = keyof typeof CATALOG;

/** Entities whose stream changes become events; everything else in the table (lookups, idempotency) is internal. */
export const PUBLISHED_ENTITIES = [
  'contact',
  'company',
  'note',
  'user',
  'team',
  'deal',
  'lead',
  'formSubmission',
  'activity',
  'ticket',
  'ticketMessage',
  'article',
  'segment',
  'campaign',
  'sequence',
  'sequenceEnrollment',
] as const;

/** Stream changes published under another name than `<entity>.<action>` (anything else of those entities is not). */
export const STREAM_DETAIL_TYPES: Record<string, DetailType> = {
  'formSubmission.created': 'form.submitted',
  'ticketMessage.created': 'ticket.message_added',
  'sequenceEnrollment.created': 'sequence.enrollment_created',
  'sequenceEnrollment.updated': 'sequence.enrollment_updated',
};
/**
 * Events the stream publisher derives from a published entity's change beside its record-change event (see
 * shared/events/from-stream.ts) that are not named after that entity (`deal.stage_changed` is): it may put these too.
 */
export const DERIVED_FROM_STREAM = [
  'task.due',
  'email.opened',
  'email.clicked',
  'consent.unsubscribed',
  'segment.member.added',
  'segment.member.removed',
] as const satisfies readonly (keyof typeof CATALOG)[];
/**
 * Entities with no record-change event whose stream changes still give derived events (contactEngagement:
 * `email.opened` / `email.clicked`; segmentMember: `segment.member.added|removed`): the stream filter passes them to
 * the publisher too.
 */
export const DERIVED_ONLY_ENTITIES = ['contactEngagement', 'segmentMember'] as const;

export interface CatalogEvent {
  source: string;
  detailType: DetailType;
  detail: unknown;
}

/** Builds an event, validating its detail against the catalog so nothing off-schema reaches the bus. */
export function catalogEvent<D extends DetailType>(
  detailType: D,
  detail: z.input<(typeof CATALOG)[D]['schema']>,
): CatalogEvent {
  const entry = CATALOG[detailType];
  return { source: entry.source, detailType, detail: entry.schema.parse(detail) };
}
