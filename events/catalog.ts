import * as z from 'zod';

/**
 * The event catalog: every detail-type on the CRM bus with its versioned zod schema. Producers validate against it
 * before publishing, consumers parse with it, and EventBridge rules match on `source` + `detail-type`.
 */

const FieldChange = z.object({ old: z.unknown().optional(), new: z.unknown().optional() });

/** What every record-change event carries: who, when, which record, the changed fields and the record itself. */
function recordChange<E extends string>(entity: E) {
  return z.object({
    schemaVersion: z.literal(1),
    tenantId: z.string(),
    entity: z.literal(entity),
    entityId: z.string(),
    version: z.number().int(),
    occurredAt: z.iso.datetime({ offset: true }),
    actorId: z.string().optional(),
    /** Changed fields with their old and new values (every field for created/deleted). */
    changes: z.record(z.string(), FieldChange),
    /** The record after the change (before it, for deletions). */
    record: z.record(z.string(), z.unknown()),
  });
}

export const ContactChanged = recordChange('contact');
export const CompanyChanged = recordChange('company');
export const NoteChanged = recordChange('note');
export type RecordChangedDetail = z.infer<typeof ContactChanged | typeof CompanyChanged | typeof NoteChanged>;

export const EmailReceived = z.object({
  schemaVersion: z.literal(1),
  messageId: z.string(),
  /** Where SES stored the raw MIME message. */
  s3: z.object({ bucket: z.string(), key: z.string() }),
  from: z.object({ address: z.string(), name: z.string().optional() }),
  to: z.array(z.string()),
  cc: z.array(z.string()),
  subject: z.string(),
  inReplyTo: z.string().optional(),
  references: z.array(z.string()),
  text: z.string().optional(),
  receivedAt: z.iso.datetime({ offset: true }),
});
export type EmailReceivedDetail = z.infer<typeof EmailReceived>;

export const CATALOG = {
  'contact.created': { source: 'crm.contacts', schema: ContactChanged },
  'contact.updated': { source: 'crm.contacts', schema: ContactChanged },
  'contact.deleted': { source: 'crm.contacts', schema: ContactChanged },
  'contact.restored': { source: 'crm.contacts', schema: ContactChanged },
  'company.created': { source: 'crm.companies', schema: CompanyChanged },
  'company.updated': { source: 'crm.companies', schema: CompanyChanged },
  'company.deleted': { source: 'crm.companies', schema: CompanyChanged },
  'company.restored': { source: 'crm.companies', schema: CompanyChanged },
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
