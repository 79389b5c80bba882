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
import { COMPANY_SIZES, Domain } from '../companies/schema.ts';
import { DealCreate } from '../deals/schema.ts';

export const LEAD_SOURCES = ['form', 'import', 'api', 'email'] as const;
/** `converted` is set only by POST /v1/leads/{id}/convert; `disqualified` needs a reason. */
export const LEAD_STATUSES = ['new', 'working', 'nurturing', 'qualified', 'disqualified', 'converted'] as const;
export const SETTABLE_STATUSES = ['new', 'working', 'nurturing', 'qualified', 'disqualified'] as const;

export const Email = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ message: 'Not a valid email address.' }))
  .transform((e) => e.toLowerCase());

const Website = z
  .string()
  .trim()
  .max(2000)
  .pipe(z.url({ protocol: /^https?$/, message: 'An http(s) URL.' }));

const utmValue = z.string().trim().min(1).max(200);
export const Utm = z
  .strictObject({ source: utmValue, medium: utmValue, campaign: utmValue, term: utmValue, content: utmValue })
  .partial()
  .meta({ id: 'Utm', description: 'Campaign attribution (utm_source, utm_medium, ...).' });

const LeadCompany = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    domain: Domain,
    website: Website,
    size: z.enum(COMPANY_SIZES),
    industry: z.string().trim().min(1).max(100),
    address: Address,
  })
  .partial();

const LeadCompanyPatch = z
  .strictObject({
    name: LeadCompany.shape.name.unwrap().nullable(),
    domain: Domain.nullable(),
    website: Website.nullable(),
    size: z.enum(COMPANY_SIZES).nullable(),
    industry: LeadCompany.shape.industry.unwrap().nullable(),
    address: AddressPatch,
  })
  .partial()
  .nullable();

const leadFields = {
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
    .meta({ description: 'Normalised to E.164; national numbers need company.address.country.' }),
  title: z.string().trim().min(1).max(200),
  company: LeadCompany,
  source: z.enum(LEAD_SOURCES),
  utm: Utm,
  status: z.enum(SETTABLE_STATUSES),
  disqualifiedReason: z.string().trim().min(1).max(500),
  ownerId: Id,
  tags: Tags,
  customFields: CustomFieldValues,
};

const needsReason = (l: { status?: string | null; disqualifiedReason?: string | null }) =>
  l.status !== 'disqualified' || !!l.disqualifiedReason;
const reasonMessage = { message: 'A disqualified lead needs a disqualifiedReason.', path: ['disqualifiedReason'] };

export const LeadCreate = z
  .strictObject(leadFields)
  .partial()
  .refine((l) => l.firstName || l.lastName || (l.emails && l.emails.length > 0) || l.company?.name, {
    message: 'A lead needs a first name, a last name, an email address or a company name.',
    path: ['firstName'],
  })
  .refine(needsReason, reasonMessage)
  .meta({ id: 'LeadCreate' });

/** JSON merge patch (RFC 7396). Status `converted` is reached only through convert. */
export const LeadPatch = z
  .strictObject({
    firstName: leadFields.firstName.nullable(),
    lastName: leadFields.lastName.nullable(),
    emails: leadFields.emails.nullable(),
    phones: leadFields.phones.nullable(),
    title: leadFields.title.nullable(),
    company: LeadCompanyPatch,
    source: leadFields.source,
    utm: z
      .strictObject({
        source: utmValue.nullable(),
        medium: utmValue.nullable(),
        campaign: utmValue.nullable(),
        term: utmValue.nullable(),
        content: utmValue.nullable(),
      })
      .partial()
      .nullable(),
    status: leadFields.status,
    disqualifiedReason: leadFields.disqualifiedReason.nullable(),
    ownerId: leadFields.ownerId.nullable(),
    tags: leadFields.tags.nullable(),
    customFields: CustomFieldValues.nullable(),
  })
  .partial()
  .meta({ id: 'LeadPatch' });

export const ScoreReason = z
  .object({
    ruleId: z.string(),
    kind: z.enum(['fit', 'engagement']),
    points: z.number().meta({ description: 'Points this rule adds now (engagement points after decay).' }),
    basePoints: z.number(),
    at: Timestamp.optional().meta({ description: 'When the engagement happened (engagement rules).' }),
    detail: z.string().optional(),
  })
  .meta({ id: 'ScoreReason' });

export const Lead = z
  .object({
    id: z.string(),
    firstName: z.string().optional(),
    lastName: z.string().optional(),
    emails: z.array(z.string()),
    phones: z.array(z.string()),
    title: z.string().optional(),
    company: LeadCompany.optional(),
    source: z.enum(LEAD_SOURCES),
    utm: Utm.optional(),
    status: z.enum(LEAD_STATUSES),
    disqualifiedReason: z.string().optional(),
    ownerId: z.string().optional(),
    assignedByRule: z
      .string()
      .optional()
      .meta({ description: 'Set when an assignment rule chose the owner at creation: that rule’s id.' }),
    tags: z.array(z.string()),
    customFields: z.record(z.string(), z.unknown()),
    consent: z
      .object({
        email: z.enum(['pending', 'granted']),
        source: z.string().optional(),
        formId: z.string().optional(),
        requestedAt: Timestamp.optional(),
        grantedAt: Timestamp.optional(),
      })
      .optional()
      .meta({ description: 'Email consent from a double opt-in form: pending until the link is followed.' }),
    score: z.number().optional().meta({ description: 'Set by the scoring rules after each relevant event.' }),
    scoreReasons: z.array(ScoreReason).optional(),
    scoredAt: Timestamp.optional(),
    convertedContactId: z.string().optional(),
    convertedCompanyId: z.string().optional(),
    convertedDealId: z.string().optional(),
    convertedAt: Timestamp.optional(),
    convertedBy: z.string().optional(),
    ...Audit,
  })
  .meta({ id: 'Lead' });

export const LeadSummary = z
  .object({
    id: z.string(),
    firstName: z.string().optional(),
    lastName: z.string().optional(),
    email: z.string().optional(),
    companyName: z.string().optional(),
    status: z.enum(LEAD_STATUSES).optional(),
    ownerId: z.string().optional(),
  })
  .meta({ id: 'LeadSummary', description: 'A lead in a list by email or tag. GET the lead for the rest.' });

export const LeadListItem = z.union([Lead, LeadSummary]);

export type LeadView = z.infer<typeof Lead>;
export type LeadSummaryView = z.infer<typeof LeadSummary>;
export type LeadCreateInput = z.output<typeof LeadCreate>;
export type LeadPatchInput = z.output<typeof LeadPatch>;

export const LeadIdParams = z.object({ leadId: Id });

export const LeadListQuery = z
  .strictObject({
    ...PageQuery,
    ownerId: Id.optional(),
    status: z.enum(LEAD_STATUSES).optional(),
    source: z.enum(LEAD_SOURCES).optional(),
    tag: z.string().trim().min(1).max(64).optional(),
    email: z.string().trim().max(254).optional().meta({ description: 'Exact email address (case-insensitive).' }),
    q: z.string().trim().min(1).max(100).optional().meta({ description: 'Name prefix.' }),
    ...trashAndSyncFilters('leads'),
  })
  .meta({ id: 'LeadListQuery' });
export type LeadFilters = Partial<z.output<typeof LeadListQuery>> & { limit: number };

/** The deal a conversion may create: a deal create without its links, which are the contact and company converted. */
const DealRequest = DealCreate.omit({ contactIds: true, companyId: true }).meta({
  id: 'LeadConvertDeal',
  description: "A deal create without contactIds and companyId; ownerId defaults to the lead's owner.",
});

export const LeadConvert = z
  .strictObject({
    contact: z
      .union([z.strictObject({ id: Id }), z.strictObject({ create: z.literal(true) })])
      .default({ create: true })
      .meta({ description: '{ "id": ... } links an existing contact; { "create": true } (default) creates one.' }),
    company: z
      .union([z.strictObject({ id: Id }), z.strictObject({ create: z.literal(true) }), z.literal('none')])
      .optional()
      .meta({
        description:
          '{ "id": ... } links a company, { "create": true } creates one from the lead\'s company fields, "none" ' +
          'links none. Default: create when the lead has a company name, else none.',
      }),
    deal: DealRequest.optional().meta({ description: 'Also create a deal (in the same transaction).' }),
  })
  .meta({ id: 'LeadConvert' });
export type LeadConvertInput = z.output<typeof LeadConvert>;
export type LeadConvertDeal = z.output<typeof DealRequest>;

export const LeadConversion = z
  .object({
    lead: Lead,
    contactId: z.string(),
    companyId: z.string().optional(),
    dealId: z.string().optional(),
  })
  .meta({ id: 'LeadConversion' });
