import { isDeepStrictEqual } from 'node:util';
import type { SESv2Client } from '@aws-sdk/client-sesv2';
import { ulid } from 'ulid';
import type { Principal } from '../auth/principal.ts';
import { getCustomFieldSchema } from '../custom-fields/service.ts';
import { restoredVersion, type StoredAudit, trashedVersion } from '../db/documents.ts';
import { itemView } from '../db/item-view.ts';
import { recordIndex, sortableName } from '../db/keys.ts';
import { model, versionCondition, writeRecord } from '../db/store.ts';
import { DomainError, type FieldError, NotFoundError, PreconditionFailedError, ValidationError } from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import { type Page, queryIndex } from '../records/lists.ts';
import type { MergeContext } from './fields.ts';
import { loadMergeContext } from './merge-context.ts';
import {
  type DeclaredCustomFields,
  type RenderedTemplate,
  renderTemplate,
  type TemplateSource,
  templateFieldErrors,
  templateFields,
} from './render.ts';
import type {
  EmailTemplateCreateInput,
  EmailTemplateListFilters,
  EmailTemplatePatchInput,
  EmailTemplateSummaryView,
  EmailTemplateView,
  PreviewRequestInput,
  TestSendInput,
} from './schema.ts';
import {
  defaultFromAddress,
  formatFrom,
  marketingSendConfig,
  SES_REJECTIONS,
  senderAddressProblem,
  sendMarketingEmail,
} from './sender.ts';

const ENTITY = 'emailTemplate';

export interface StoredTemplate extends StoredAudit {
  tenantId: string;
  templateId: string;
  name: string;
  sortName: string;
  subject: string;
  html?: string;
  text?: string;
  fields: string[];
  deletedAt?: string;
  deletedBy?: string;
}

export const templateIndex = {
  name: (tenantId: string) => recordIndex.name(tenantId, ENTITY),
  trash: (tenantId: string) => recordIndex.trash(tenantId, ENTITY),
};

function templateKeys(t: StoredTemplate) {
  const live = !t.deletedAt;
  return {
    gsi4pk: live ? templateIndex.name(t.tenantId) : templateIndex.trash(t.tenantId),
    gsi4sk: live ? `${t.sortName}#${t.templateId}` : `${t.deletedAt}#${t.templateId}`,
  };
}

export const templateView = (stored: StoredTemplate): EmailTemplateView =>
  itemView(stored as unknown as Record<string, unknown>, 'templateId') as unknown as EmailTemplateView;

function summaryView(stored: StoredTemplate): EmailTemplateSummaryView {
  const { html, text, ...rest } = templateView(stored);
  return {
    ...rest,
    parts: [...(html !== undefined ? ['html' as const] : []), ...(text !== undefined ? ['text' as const] : [])],
  };
}

/** One GetItem. Trashed templates included (callers decide). */
export async function readTemplate(tenantId: string, templateId: string): Promise<StoredTemplate | undefined> {
  const { data } = await model.entities.emailTemplate.get({ tenantId, templateId }).go();
  return (data as StoredTemplate | null) ?? undefined;
}

async function liveTemplate(tenantId: string, templateId: string): Promise<StoredTemplate> {
  const stored = await readTemplate(tenantId, templateId);
  if (!stored || stored.deletedAt) throw new NotFoundError(ENTITY, templateId);
  return stored;
}

/** The tenant's declared custom field keys for contacts and companies (two GetItems, cached by their service). */
export async function declaredCustomFields(tenantId: string): Promise<DeclaredCustomFields> {
  const [contact, company] = await Promise.all([
    getCustomFieldSchema(tenantId, 'contact'),
    getCustomFieldSchema(tenantId, 'company'),
  ]);
  return { contact: contact.fields.map((f) => f.key), company: company.fields.map((f) => f.key) };
}

/** 400 `template.invalid` with each problem as a field error of its part, with line and column where known. */
async function validated(tenantId: string, template: TemplateSource): Promise<string[]> {
  const errors = templateFieldErrors(template, await declaredCustomFields(tenantId));
  if (errors.length > 0) {
    const fieldErrors: Array<FieldError & { line?: number; column?: number }> = errors.map((e) => ({
      field: `body.${e.field}`,
      message: e.line !== undefined ? `line ${e.line}, column ${e.column}: ${e.message}` : e.message,
      code: 'template_invalid',
      ...(e.line !== undefined ? { line: e.line, column: e.column } : {}),
    }));
    throw new ValidationError('The template cannot be used as it is.', fieldErrors, 'template.invalid');
  }
  return templateFields(template);
}

async function save(
  p: Principal,
  next: StoredTemplate,
  previous: StoredTemplate | undefined,
  idempotency?: ApiRequest['idempotency'],
): Promise<EmailTemplateView> {
  const view = templateView(next);
  await writeRecord({
    entity: ENTITY,
    item: { ...next, ...templateKeys(next) },
    ...versionCondition(ENTITY, next.templateId, previous),
    ...(idempotency ? { idempotency: { tenantId: p.tenantId, ...idempotency, statusCode: 201, response: view } } : {}),
  });
  return view;
}

export async function createTemplate(
  p: Principal,
  input: EmailTemplateCreateInput,
  idempotency?: ApiRequest['idempotency'],
): Promise<EmailTemplateView> {
  const fields = await validated(p.tenantId, input);
  const now = new Date().toISOString();
  const stored: StoredTemplate = {
    tenantId: p.tenantId,
    templateId: ulid(),
    name: input.name,
    sortName: sortableName(input.name),
    subject: input.subject,
    ...(input.html !== undefined ? { html: input.html } : {}),
    ...(input.text !== undefined ? { text: input.text } : {}),
    fields,
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: p.userId,
    updatedBy: p.userId,
  };
  return save(p, stored, undefined, idempotency);
}

export async function getTemplate(p: Principal, templateId: string): Promise<EmailTemplateView> {
  return templateView(await liveTemplate(p.tenantId, templateId));
}

export async function patchTemplate(
  p: Principal,
  templateId: string,
  patch: EmailTemplatePatchInput,
  ifMatch?: VersionPrecondition,
): Promise<EmailTemplateView> {
  const previous = await liveTemplate(p.tenantId, templateId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError(ENTITY, templateId);
  const { html: _html, text: _text, ...kept } = previous;
  const html = patch.html === undefined ? previous.html : (patch.html ?? undefined);
  const text = patch.text === undefined ? previous.text : (patch.text ?? undefined);
  const name = patch.name ?? previous.name;
  const changed: StoredTemplate = {
    ...kept,
    name,
    sortName: sortableName(name),
    subject: patch.subject ?? previous.subject,
    ...(html !== undefined ? { html } : {}),
    ...(text !== undefined ? { text } : {}),
  };
  if (isDeepStrictEqual(templateView(changed), templateView(previous))) return templateView(previous);
  const fields = await validated(p.tenantId, changed);
  const next: StoredTemplate = {
    ...changed,
    fields,
    version: previous.version + 1,
    updatedAt: new Date().toISOString(),
    updatedBy: p.userId,
  };
  return save(p, next, previous);
}

/** Soft delete: out of the list, into the trash (restorable); campaigns cannot use it meanwhile. */
export async function deleteTemplate(p: Principal, templateId: string, ifMatch?: VersionPrecondition): Promise<void> {
  const previous = await liveTemplate(p.tenantId, templateId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError(ENTITY, templateId);
  await save(p, trashedVersion(previous, p.userId), previous);
}

export async function restoreTemplate(
  p: Principal,
  templateId: string,
  ifMatch?: VersionPrecondition,
): Promise<EmailTemplateView> {
  const previous = await readTemplate(p.tenantId, templateId);
  if (!previous) throw new NotFoundError(ENTITY, templateId);
  if (!previous.deletedAt) {
    throw new DomainError(409, 'emailTemplate.not_deleted', `emailTemplate ${templateId} is not in the trash.`);
  }
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError(ENTITY, templateId);
  return save(p, restoredVersion(previous, p.userId), previous);
}

/** By name (a name prefix with q) or the trash, newest deletion first: one Query on gsi4. Summaries, no parts. */
export async function listTemplates(
  p: Principal,
  filters: EmailTemplateListFilters,
): Promise<Page<EmailTemplateSummaryView>> {
  const page = { limit: filters.limit, cursor: filters.cursor };
  if (filters.inTrash && filters.q) {
    throw new ValidationError('Use one filter at a time.', [
      { field: 'query.q', message: 'q searches live templates only; leave out inTrash.' },
    ]);
  }
  const result = filters.inTrash
    ? await queryIndex<StoredTemplate>(ENTITY, 'gsi4', templateIndex.trash(p.tenantId), page, { order: 'desc' })
    : await queryIndex<StoredTemplate>(
        ENTITY,
        'gsi4',
        templateIndex.name(p.tenantId),
        page,
        filters.q ? { begins: sortableName(filters.q) } : undefined,
      );
  return { items: result.items.map(summaryView), nextCursor: result.nextCursor };
}

/** What previews and test sends show for the links: placeholders, as real ones are signed per recipient. */
export const PREVIEW_LINKS = {
  unsubscribeUrl: 'https://unsubscribe.invalid/preview',
  preferencesUrl: 'https://unsubscribe.invalid/preferences',
};

/** A sample recipient for previews without a contact. */
export const SAMPLE_CONTEXT: MergeContext = {
  contact: {
    firstName: 'Ada',
    lastName: 'Lovelace',
    fullName: 'Ada Lovelace',
    email: 'ada@example.com',
    jobTitle: 'Analyst',
    lifecycleStage: 'lead',
    address: { city: 'London', country: 'GB' },
  },
  company: { name: 'Analytical Engines Ltd', domain: 'engines.example', industry: 'Computing' },
  owner: { name: 'Grace Hopper', email: 'grace@example.com' },
};

async function mergeContextFor(p: Principal, source: PreviewRequestInput): Promise<MergeContext> {
  if (source.contactId) {
    const context = await loadMergeContext(p.tenantId, source.contactId);
    if (!context) {
      throw new ValidationError('The preview names a contact that does not exist.', [
        { field: 'body.contactId', message: `No contact ${source.contactId}.`, code: 'unknown_contact' },
      ]);
    }
    return context;
  }
  return (source.sample as MergeContext | undefined) ?? SAMPLE_CONTEXT;
}

async function rendered(p: Principal, templateId: string, source: PreviewRequestInput): Promise<RenderedTemplate> {
  const template = await liveTemplate(p.tenantId, templateId);
  return renderTemplate(template, await mergeContextFor(p, source), { links: PREVIEW_LINKS });
}

/** Renders the template for a contact or sample data; stores nothing. */
export async function previewTemplate(
  p: Principal,
  templateId: string,
  source: PreviewRequestInput,
): Promise<RenderedTemplate & { fields: string[] }> {
  const template = await liveTemplate(p.tenantId, templateId);
  const content = await renderTemplate(template, await mergeContextFor(p, source), { links: PREVIEW_LINKS });
  return { ...content, fields: template.fields };
}

/**
 * Sends the rendered template to one address through SES, from an address of the mail domain, with "[Test] " before
 * the subject. SES's refusals (sandbox, unverified identity, a rejected address) are a 422 with SES's reason.
 */
export async function testSendTemplate(
  deps: { ses: SESv2Client },
  p: Principal,
  templateId: string,
  input: TestSendInput,
): Promise<{ messageId: string; from: string; to: string; subject: string }> {
  const mailDomain = marketingSendConfig().MARKETING_MAIL_DOMAIN;
  const from = input.from ?? { address: defaultFromAddress(mailDomain) };
  const problem = senderAddressProblem(from.address, mailDomain);
  if (problem) {
    throw new ValidationError('The sender is not in the mail domain.', [
      { field: 'body.from.address', message: problem, code: 'sender_not_in_domain' },
    ]);
  }
  const content = await rendered(p, templateId, input);
  const subject = `[Test] ${content.subject}`;
  try {
    const messageId = await sendMarketingEmail(deps.ses, { from, to: input.to, content: { ...content, subject } });
    return { messageId, from: formatFrom(from), to: input.to, subject };
  } catch (error) {
    const name = (error as { name?: string }).name ?? '';
    if (!SES_REJECTIONS.has(name)) throw error;
    throw new DomainError(
      422,
      'emailTemplate.send_rejected',
      `SES refused the test send: ${(error as Error).message}`,
      {
        sesError: name,
      },
    );
  }
}
