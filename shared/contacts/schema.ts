import * as z from 'zod';
import {
  Address,
  AddressPatch,
  Audit,
  CustomFieldValues,
  Id,
  PageQuery,
  Tags,
  Timestamp,
  trashAndSyncFilters,
} from '../api/common-schemas.ts';
import { Location, nearFilters } from '../geo/schema.ts';
import { ContactSubscription, ContactSubscriptionsInput, ContactSubscriptionsPatch } from '../subscriptions/schema.ts';

export const LIFECYCLE_STAGES = [
  'subscriber',
  'lead',
  'marketing_qualified',
  'sales_qualified',
  'opportunity',
  'customer',
  'evangelist',
  'other',
] as const;

export const ConsentStatus = z.enum(['granted', 'withdrawn', 'unknown']);

const Email = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ message: 'Not a valid email address.' }))
  .transform((e) => e.toLowerCase());

const contactFields = {
  firstName: z.string().trim().min(1).max(100),
  lastName: z.string().trim().min(1).max(100),
  emails: z
    .array(Email)
    .max(10, 'At most 10 email addresses.')
    .transform((list) => [...new Set(list)])
    .meta({ description: 'The first is the primary address. Stored lower-cased.' }),
  phones: z
    .array(z.string().trim().min(3).max(40))
    .max(10, 'At most 10 phone numbers.')
    .meta({ description: 'Normalised to E.164; national numbers need address.country.' }),
  jobTitle: z.string().trim().max(200),
  companyId: Id,
  ownerId: Id,
  lifecycleStage: z.enum(LIFECYCLE_STAGES),
  tags: Tags,
  address: Address,
  location: Location,
  consent: z
    .strictObject({ email: ConsentStatus, sms: ConsentStatus, phone: ConsentStatus })
    .partial()
    .meta({ description: 'Marketing consent per channel.' }),
  subscriptions: ContactSubscriptionsInput,
  customFields: CustomFieldValues,
};

export const ContactCreate = z
  .strictObject(contactFields)
  .partial()
  .refine((c) => c.firstName || c.lastName || (c.emails && c.emails.length > 0), {
    message: 'A contact needs a first name, a last name or an email address.',
    path: ['firstName'],
  })
  .meta({ id: 'ContactCreate' });

/** JSON merge patch (RFC 7396): a field set to null is cleared; objects merge; arrays replace. */
export const ContactPatch = z
  .strictObject({
    firstName: contactFields.firstName.nullable(),
    lastName: contactFields.lastName.nullable(),
    emails: contactFields.emails.nullable(),
    phones: contactFields.phones.nullable(),
    jobTitle: contactFields.jobTitle.nullable(),
    companyId: contactFields.companyId.nullable(),
    ownerId: contactFields.ownerId.nullable(),
    lifecycleStage: contactFields.lifecycleStage.nullable(),
    tags: contactFields.tags.nullable(),
    address: AddressPatch,
    location: Location.nullable().meta({ description: 'Replaced as a whole (both lat and lon); null removes it.' }),
    consent: z
      .strictObject({ email: ConsentStatus.nullable(), sms: ConsentStatus.nullable(), phone: ConsentStatus.nullable() })
      .partial()
      .nullable(),
    subscriptions: ContactSubscriptionsPatch.nullable(),
    customFields: CustomFieldValues.nullable(),
  })
  .partial()
  .meta({ id: 'ContactPatch' });

export const Contact = z
  .object({
    id: z.string(),
    firstName: z.string().optional(),
    lastName: z.string().optional(),
    emails: z.array(z.string()),
    phones: z.array(z.string()),
    jobTitle: z.string().optional(),
    companyId: z.string().optional(),
    ownerId: z.string().optional(),
    assignedByRule: z
      .string()
      .optional()
      .meta({ description: 'Set when an assignment rule chose the owner at creation: that rule’s id.' }),
    lifecycleStage: z.enum(LIFECYCLE_STAGES).optional(),
    tags: z.array(z.string()),
    address: Address.optional(),
    location: Location.optional(),
    consent: z
      .object({
        email: ConsentStatus,
        sms: ConsentStatus,
        phone: ConsentStatus,
        updatedAt: Timestamp,
        source: z.string().meta({ description: 'Where the last change came from: api, one_click, preference_page.' }),
        campaignId: z.string().meta({ description: 'The campaign whose unsubscribe link made the last change.' }),
      })
      .partial()
      .optional(),
    subscriptions: z
      .record(z.string(), ContactSubscription)
      .optional()
      .meta({ description: 'Per subscription category: subscribed or unsubscribed, when and from where.' }),
    customFields: z.record(z.string(), z.unknown()),
    ...Audit,
  })
  .meta({ id: 'Contact' });

/**
 * What lists by email, phone or tag return: the small, bounded summary each lookup item carries (see
 * shared/db/entities/lookup.ts), not the whole contact. GET /v1/contacts/{id} for the rest.
 */
export const ContactSummary = z
  .object({
    id: z.string(),
    firstName: z.string().optional(),
    lastName: z.string().optional(),
    email: z.string().optional().meta({ description: 'The primary (first) email address.' }),
    companyId: z.string().optional(),
    ownerId: z.string().optional(),
    lifecycleStage: z.enum(LIFECYCLE_STAGES).optional(),
  })
  .meta({
    id: 'ContactSummary',
    description: 'A contact in a list by email, phone or tag: its id and key fields. GET the contact for the rest.',
  });

/** A list item: the whole contact, or its summary in lists by email, phone or tag. */
export const ContactListItem = z.union([Contact, ContactSummary]);

export type ContactView = z.infer<typeof Contact>;
export type ContactSummaryView = z.infer<typeof ContactSummary>;
export type ContactCreateInput = z.output<typeof ContactCreate>;
export type ContactPatchInput = z.output<typeof ContactPatch>;

export const ContactIdParams = z.object({ contactId: Id });

export const ContactListQuery = z
  .strictObject({
    ...PageQuery,
    ownerId: Id.optional(),
    lifecycleStage: z.enum(LIFECYCLE_STAGES).optional(),
    companyId: Id.optional(),
    tag: z.string().trim().min(1).max(64).optional(),
    email: z.string().trim().max(254).optional().meta({ description: 'Exact email address (case-insensitive).' }),
    phone: z.string().trim().max(40).optional().meta({ description: 'Exact phone number, normalised to E.164.' }),
    q: z.string().trim().min(1).max(100).optional().meta({ description: 'Name prefix, e.g. "ada lo".' }),
    ...trashAndSyncFilters('contacts'),
    ...nearFilters('contacts'),
  })
  .meta({ id: 'ContactListQuery' });

export type ContactListFilters = z.output<typeof ContactListQuery>;
/** Filters as services accept them: every filter optional. */
export type ContactFilters = Partial<ContactListFilters> & { limit: number };
