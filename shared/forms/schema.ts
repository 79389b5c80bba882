import * as z from 'zod';
import { Audit, Id, PageQuery, Tags, Timestamp } from '../api/common-schemas.ts';
import { TENANT_ID_PATTERN } from '../auth/principal.ts';

/** Lead fields a form field can fill. utm_* values of a submission fill `utm` without being declared. */
export const LEAD_FIELD_TARGETS = [
  'firstName',
  'lastName',
  'email',
  'phone',
  'title',
  'company.name',
  'company.domain',
  'company.website',
  'company.size',
  'company.industry',
  'company.address.street',
  'company.address.city',
  'company.address.region',
  'company.address.postalCode',
  'company.address.country',
] as const;
export type LeadFieldTarget = (typeof LEAD_FIELD_TARGETS)[number];

export const FORM_FIELD_TYPES = ['text', 'email', 'tel', 'textarea', 'select', 'checkbox', 'hidden'] as const;

/** Field names as they appear in the HTML form (and in the JSON body). */
const FieldName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'Letters, digits, "_" or "-", starting with a letter.')
  .refine((n) => !/^utm_/i.test(n), 'utm_* names are reserved for campaign attribution.');

export const FormField = z
  .strictObject({
    name: FieldName,
    label: z.string().trim().min(1).max(200).optional(),
    type: z.enum(FORM_FIELD_TYPES).default('text'),
    required: z.boolean().default(false),
    mapsTo: z
      .enum(LEAD_FIELD_TARGETS)
      .optional()
      .meta({ description: 'The lead field it fills; none: kept only on the submission.' }),
    maxLength: z.number().int().min(1).max(5000).default(500),
    options: z.array(z.string().trim().min(1).max(200)).min(1).max(100).optional(),
  })
  .refine((f) => (f.type === 'select') === (f.options !== undefined), {
    message: 'select fields need options; other types take none.',
    path: ['options'],
  });
export type FormFieldDefinition = z.output<typeof FormField>;

/** An exact web origin: scheme, host, optional port; no path. */
export const Origin = z
  .string()
  .max(300)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
    } catch {
      return false;
    }
  }, 'An origin like https://www.example.com (scheme, host and optional port; no path or trailing slash).');

const HttpUrl = z
  .string()
  .trim()
  .max(2000)
  .pipe(z.url({ protocol: /^https?$/, message: 'An http(s) URL.' }));

export const DoubleOptIn = z
  .strictObject({
    enabled: z.boolean(),
    subject: z.string().trim().min(1).max(200),
    text: z
      .string()
      .min(1)
      .max(5000)
      .refine((t) => t.includes('{{link}}'), 'Put {{link}} where the confirmation link goes.'),
    linkValidHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 14)
      .default(72),
  })
  .meta({ id: 'DoubleOptIn' });

const uniqueNames = (fields: Array<{ name: string }>) => new Set(fields.map((f) => f.name)).size === fields.length;
const oneEmail = (fields: Array<{ mapsTo?: string | undefined }>) =>
  fields.filter((f) => f.mapsTo === 'email').length <= 1;

const formFields = {
  name: z.string().trim().min(1).max(200),
  fields: z
    .array(FormField)
    .min(1)
    .max(50)
    .refine(uniqueNames, 'Field names must be unique.')
    .refine(oneEmail, 'At most one field maps to email.'),
  allowedOrigins: z.array(Origin).min(1).max(20).meta({ description: 'Origins whose pages may post this form.' }),
  honeypotField: FieldName.optional().meta({
    description: 'A field hidden from people: a submission that fills it is answered as accepted and stored nowhere.',
  }),
  doubleOptIn: DoubleOptIn.optional(),
  redirectUrl: HttpUrl.optional().meta({ description: 'Where an HTML form post is sent after submitting (303).' }),
  ownerId: Id.optional().meta({ description: 'Owner of the leads this form creates.' }),
  tags: Tags.optional().meta({ description: 'Tags given to the leads this form creates.' }),
};

const checkForm = <T extends { fields?: FormFieldDefinition[]; honeypotField?: string | null; doubleOptIn?: unknown }>(
  schema: z.ZodType<T>,
) =>
  schema
    .refine((f) => !f.honeypotField || !f.fields?.some((field) => field.name === f.honeypotField), {
      message: 'The honeypot must not be one of the form fields.',
      path: ['honeypotField'],
    })
    .refine(
      (f) =>
        !(f.doubleOptIn as { enabled?: boolean } | undefined | null)?.enabled ||
        !f.fields ||
        f.fields.some((field) => field.mapsTo === 'email'),
      { message: 'Double opt-in needs a field that maps to email.', path: ['doubleOptIn'] },
    );

export const FormCreate = checkForm(z.strictObject(formFields)).meta({ id: 'FormCreate' });

export const FormPatch = checkForm(
  z
    .strictObject({
      name: formFields.name,
      fields: formFields.fields,
      allowedOrigins: formFields.allowedOrigins,
      honeypotField: FieldName.nullable(),
      doubleOptIn: DoubleOptIn.nullable(),
      redirectUrl: HttpUrl.nullable(),
      ownerId: Id.nullable(),
      tags: formFields.tags.unwrap().nullable(),
    })
    .partial(),
).meta({ id: 'FormPatch', description: 'JSON merge patch; `fields` and lists replace the whole value.' });

export const Form = z
  .object({
    id: z.string(),
    publicKey: z.string().meta({ description: 'Use in the public submission URL: /v1/forms/{publicKey}/submissions.' }),
    name: z.string(),
    fields: z.array(FormField),
    allowedOrigins: z.array(z.string()),
    honeypotField: z.string().optional(),
    doubleOptIn: DoubleOptIn.optional(),
    redirectUrl: z.string().optional(),
    ownerId: z.string().optional(),
    tags: z.array(z.string()).optional(),
    ...Audit,
  })
  .meta({ id: 'Form' });
export type FormView = z.infer<typeof Form>;
export type FormCreateInput = z.output<typeof FormCreate>;
export type FormPatchInput = z.output<typeof FormPatch>;

export const FormIdParams = z.object({ formId: Id });
export const FormListQuery = z.strictObject({ ...PageQuery }).meta({ id: 'FormListQuery' });

/** `<tenantId>.<formId>`: the tenant is found from the URL without a Scan, then checked against the stored form. */
export const PUBLIC_FORM_KEY = new RegExp(`^(${TENANT_ID_PATTERN.source.slice(1, -1)})\\.([A-Za-z0-9_-]{1,64})$`);
export const PublicFormParams = z.object({
  formId: z.string().max(130).regex(PUBLIC_FORM_KEY, 'The form\'s publicKey ("<organisation>.<form id>").'),
});

/** The bounded body of a public submission: at most 60 fields of at most 5000 characters. */
export const MAX_SUBMISSION_BYTES = 32 * 1024;
const SubmissionValue = z.union([z.string().max(5000), z.array(z.string().max(5000)).max(20), z.boolean()]);
export const Submission = z
  .record(z.string().max(64), SubmissionValue)
  .refine((v) => Object.keys(v).length <= 60, 'At most 60 fields.')
  .meta({
    id: 'FormSubmission',
    description:
      "The form's fields by name, plus optional utm_source, utm_medium, utm_campaign, utm_term, utm_content. " +
      'JSON or application/x-www-form-urlencoded.',
  });
export type SubmissionInput = z.output<typeof Submission>;

export const SubmissionAccepted = z
  .object({
    status: z.enum(['received', 'pending_confirmation']),
    message: z.string(),
  })
  .meta({ id: 'SubmissionAccepted' });

export const ConfirmationParams = z.object({
  token: z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{43}$/, 'The token from the email link.'),
});
export const ConfirmationResult = z
  .object({ status: z.literal('confirmed'), confirmedAt: Timestamp })
  .meta({ id: 'ConfirmationResult' });
