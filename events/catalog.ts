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
export type RecordChangedDetail = z.infer<typeof ContactChanged | typeof CompanyChanged | typeof NoteChanged>;
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

export const EmailReceived = z.object({
  schemaVersion: z.literal(1),
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
});
export type EmailReceivedDetail = z.infer<typeof EmailReceived>;

export const CATALOG = {
  'contact.created': { source: 'crm.contacts', schema: ContactChanged },
  'contact.updated': { source: 'crm.contacts', schema: ContactChanged },
  'contact.deleted': { source: 'crm.contacts', schema: ContactChanged },
  'contact.restored': { source: 'crm.contacts', schema: ContactChanged },
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
  'email.received': { source: 'crm.mail', schema: EmailReceived },
} as const;

export type DetailType = keyof typeof CATALOG;

/** Entities whose stream changes become events; everything else in the table (lookups, idempotency) is internal. */
export const PUBLISHED_ENTITIES = ['contact', 'company', 'note'] as const;

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
