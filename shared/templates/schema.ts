import * as z from 'zod';
import { Audit, Id, PageQuery } from '../api/common-schemas.ts';
import { PART_MAX_BYTES } from './render.ts';

const Name = z.string().trim().min(1).max(200);
// Characters are at most bytes: these bound the parse; the byte caps (PART_MAX_BYTES) are checked with the fields,
// so a too-large part is a field error naming its size.
const Subject = z.string().max(PART_MAX_BYTES.subject).meta({
  description:
    'Liquid, e.g. "Hi {{ contact.firstName | default: \\"there\\" }}". At most 998 bytes; rendered on one line.',
});
const Html = z
  .string()
  .max(PART_MAX_BYTES.html)
  .meta({
    description:
      'Liquid HTML, at most 256 KiB. Every value is HTML-escaped (`raw` does not turn that off). Without ' +
      '{{ unsubscribeUrl }}, a standard unsubscribe footer is added when it is sent in a campaign.',
  });
const Text = z.string().max(PART_MAX_BYTES.text).meta({
  description: 'Liquid plain-text part, at most 64 KiB; not escaped. Footer as for html.',
});

export const EmailTemplateCreate = z
  .strictObject({ name: Name, subject: Subject, html: Html.optional(), text: Text.optional() })
  .meta({
    id: 'EmailTemplateCreate',
    description:
      'Merge fields: contact.{firstName, lastName, fullName, email, phone, jobTitle, lifecycleStage, address.*, ' +
      'custom.<key>}, company.{name, domain, industry, size, employeeCount, address.*, custom.<key>}, ' +
      'owner.{name, email}, unsubscribeUrl, preferencesUrl. Fallbacks: {{ contact.firstName | default: "there" }}. ' +
      'An unknown field, filter or tag is a 400 naming the part, line and column.',
  });

/** JSON merge patch: null removes a part (one of html and text must remain). */
export const EmailTemplatePatch = z
  .strictObject({ name: Name, subject: Subject, html: Html.nullable(), text: Text.nullable() })
  .partial()
  .meta({ id: 'EmailTemplatePatch' });

export const EmailTemplate = z
  .object({
    id: z.string(),
    name: z.string(),
    subject: z.string(),
    html: z.string().optional(),
    text: z.string().optional(),
    fields: z.array(z.string()).meta({ description: 'The merge fields the template uses, sorted.' }),
    ...Audit,
  })
  .meta({ id: 'EmailTemplate' });

/** Lists leave the parts out: a page of whole templates could pass Lambda's 6 MB response. */
export const EmailTemplateSummary = EmailTemplate.omit({ html: true, text: true })
  .extend({
    parts: z.array(z.enum(['html', 'text'])).meta({ description: 'Which body parts it has.' }),
  })
  .meta({ id: 'EmailTemplateSummary', description: 'A template in a list, without its parts: GET it for them.' });

export type EmailTemplateView = z.infer<typeof EmailTemplate>;
export type EmailTemplateSummaryView = z.infer<typeof EmailTemplateSummary>;
export type EmailTemplateCreateInput = z.output<typeof EmailTemplateCreate>;
export type EmailTemplatePatchInput = z.output<typeof EmailTemplatePatch>;

export const EmailTemplateIdParams = z.object({ templateId: Id });

export const EmailTemplateListQuery = z
  .strictObject({
    ...PageQuery,
    q: z.string().trim().min(1).max(100).optional().meta({ description: 'Names starting with this (any case).' }),
    inTrash: z.enum(['true']).optional().meta({ description: 'true: deleted templates, most recently deleted first.' }),
  })
  .meta({ id: 'EmailTemplateListQuery' });
export type EmailTemplateListFilters = z.output<typeof EmailTemplateListQuery>;

const Value = z.string().max(2000);
const AddressSample = z
  .strictObject({ street: Value, city: Value, region: Value, postalCode: Value, country: Value })
  .partial();
const CustomSample = z
  .record(
    z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,63}$/),
    z.union([Value, z.number(), z.boolean(), z.array(z.string().max(200)).max(50), z.null()]),
  )
  .refine((v) => Object.keys(v).length <= 100, 'At most 100 custom fields.');

/** Sample merge data for a preview or test send, in the shape templates see it. */
export const MergeSample = z
  .strictObject({
    contact: z
      .strictObject({
        firstName: Value,
        lastName: Value,
        fullName: Value,
        email: Value,
        phone: Value,
        jobTitle: Value,
        lifecycleStage: Value,
        address: AddressSample,
        custom: CustomSample,
      })
      .partial()
      .default({}),
    company: z
      .strictObject({
        name: Value,
        domain: Value,
        industry: Value,
        size: Value,
        employeeCount: z.number().int().min(0),
        address: AddressSample,
        custom: CustomSample,
      })
      .partial()
      .optional(),
    owner: z.strictObject({ name: Value, email: Value }).partial().optional(),
  })
  .meta({ id: 'EmailTemplateSample' });

const mergeSource = {
  contactId: Id.optional().meta({ description: "Render with this contact's fields, company and owner." }),
  sample: MergeSample.optional().meta({
    description: 'Render with these values instead (fields left out are empty). Neither: a built-in sample contact.',
  }),
};
const oneSource = (v: { contactId?: string | undefined; sample?: unknown }) =>
  !(v.contactId !== undefined && v.sample !== undefined);
const oneSourceIssue = { message: 'Give contactId or sample, not both.', path: ['sample'] };

export const PreviewRequest = z
  .strictObject(mergeSource)
  .refine(oneSource, oneSourceIssue)
  .meta({ id: 'EmailTemplatePreviewRequest' });
export type PreviewRequestInput = z.output<typeof PreviewRequest>;

export const RenderedEmail = z
  .object({
    subject: z.string(),
    html: z.string().optional(),
    text: z.string().optional(),
    fields: z.array(z.string()),
  })
  .meta({
    id: 'RenderedEmailTemplate',
    description:
      'The rendered parts, with the unsubscribe footer where a part lacks {{ unsubscribeUrl }}. The links are ' +
      'placeholders (https://unsubscribe.invalid/...): real ones are made per recipient when a campaign sends.',
  });

const Email = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ message: 'Not a valid email address.' }));

export const TestSendRequest = z
  .strictObject({
    to: Email.meta({ description: 'The one address the test goes to.' }),
    from: z
      .strictObject({ address: Email, name: z.string().trim().min(1).max(100).optional() })
      .optional()
      .meta({ description: 'An address in the mail domain; marketing@<mail domain> when left out.' }),
    ...mergeSource,
  })
  .refine(oneSource, oneSourceIssue)
  .meta({ id: 'EmailTemplateTestSendRequest' });
export type TestSendInput = z.output<typeof TestSendRequest>;

export const TestSendResult = z
  .object({
    messageId: z.string().meta({ description: "SES's message id." }),
    from: z.string(),
    to: z.string(),
    subject: z.string().meta({ description: 'As sent, with the "[Test] " prefix.' }),
  })
  .meta({ id: 'EmailTemplateTestSendResult' });
