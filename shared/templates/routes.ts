import { pageOf } from '../api/common-schemas.ts';
import { defineRoutes } from '../api/route.ts';
import {
  EmailTemplate,
  EmailTemplateCreate,
  EmailTemplateIdParams,
  EmailTemplateListQuery,
  EmailTemplatePatch,
  EmailTemplateSummary,
  PreviewRequest,
  RenderedEmail,
  TestSendRequest,
  TestSendResult,
} from './schema.ts';

const TAG = 'Email templates';
/** A template's parts reach 320 KiB, and JSON escaping (quotes, non-ASCII as \u) can triple HTML. */
const TEMPLATE_BODY_BYTES = 1024 * 1024;

export const emailTemplatesRoutes = defineRoutes([
  {
    operationId: 'createEmailTemplate',
    method: 'POST',
    path: '/v1/email-templates',
    group: 'emailTemplates',
    permission: 'emailTemplates:write',
    tag: TAG,
    summary: 'Create an email template',
    description:
      'Validated before it is stored: an unknown merge field, filter or tag, or a syntax error, is a 400 ' +
      '`template.invalid` whose field errors name the part (`body.subject`, `body.html`, `body.text`) and the line ' +
      'and column. A part over its size is a 400 as well; a body over 1 MiB is a 413.',
    body: EmailTemplateCreate,
    response: { status: 201, schema: EmailTemplate, description: 'The new template, with the fields it uses.' },
    idempotent: true,
    maxBodyBytes: TEMPLATE_BODY_BYTES,
  },
  {
    operationId: 'listEmailTemplates',
    method: 'GET',
    path: '/v1/email-templates',
    group: 'emailTemplates',
    permission: 'emailTemplates:read',
    tag: TAG,
    summary: 'List email templates by name',
    description: 'Summaries (no parts). One filter at a time: q (name prefix) or inTrash=true.',
    query: EmailTemplateListQuery,
    response: { status: 200, schema: pageOf(EmailTemplateSummary), description: 'A page of templates.' },
  },
  {
    operationId: 'getEmailTemplate',
    method: 'GET',
    path: '/v1/email-templates/{templateId}',
    group: 'emailTemplates',
    permission: 'emailTemplates:read',
    tag: TAG,
    summary: 'Get an email template',
    params: EmailTemplateIdParams,
    response: { status: 200, schema: EmailTemplate, description: 'The template, with its version as ETag.' },
  },
  {
    operationId: 'patchEmailTemplate',
    method: 'PATCH',
    path: '/v1/email-templates/{templateId}',
    group: 'emailTemplates',
    permission: 'emailTemplates:write',
    tag: TAG,
    summary: 'Change an email template (JSON merge patch)',
    description: 'null removes the html or text part (one must remain). Validated like a create.',
    params: EmailTemplateIdParams,
    body: EmailTemplatePatch,
    response: { status: 200, schema: EmailTemplate, description: 'The updated template.' },
    conditional: true,
    maxBodyBytes: TEMPLATE_BODY_BYTES,
  },
  {
    operationId: 'deleteEmailTemplate',
    method: 'DELETE',
    path: '/v1/email-templates/{templateId}',
    group: 'emailTemplates',
    permission: 'emailTemplates:write',
    tag: TAG,
    summary: 'Move an email template to the trash',
    params: EmailTemplateIdParams,
    response: { status: 204, description: 'Done; nothing to return.' },
    conditional: true,
  },
  {
    operationId: 'restoreEmailTemplate',
    method: 'POST',
    path: '/v1/email-templates/{templateId}/restore',
    group: 'emailTemplates',
    permission: 'emailTemplates:write',
    tag: TAG,
    summary: 'Restore an email template from the trash',
    params: EmailTemplateIdParams,
    response: { status: 200, schema: EmailTemplate, description: 'The restored template.' },
    conditional: true,
  },
  {
    operationId: 'previewEmailTemplate',
    method: 'POST',
    path: '/v1/email-templates/{templateId}/preview',
    group: 'emailTemplates',
    permission: 'emailTemplates:read',
    tag: TAG,
    summary: 'Render a template for a contact or sample data',
    description:
      'Stores nothing. With contactId: that contact, its company and owner; with sample: those values; with ' +
      'neither: a built-in sample contact. A value too large to render within the limits is a 422.',
    params: EmailTemplateIdParams,
    body: PreviewRequest,
    response: { status: 200, schema: RenderedEmail, description: 'The rendered subject and parts.' },
  },
  {
    operationId: 'testSendEmailTemplate',
    method: 'POST',
    path: '/v1/email-templates/{templateId}/test-send',
    group: 'emailTemplates',
    permission: 'emailTemplates:write',
    tag: TAG,
    summary: 'Send a template to one address as a test',
    description:
      'Rendered as for a preview and sent through SES with "[Test] " before the subject, from an address of the ' +
      "stack's mail domain (400 `request.invalid` on `body.from.address` otherwise). SES's refusals are a 422 " +
      '`emailTemplate.send_rejected`.',
    params: EmailTemplateIdParams,
    body: TestSendRequest,
    response: { status: 200, schema: TestSendResult, description: 'Sent: what and to whom.' },
  },
]);
