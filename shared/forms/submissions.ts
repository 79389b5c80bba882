import { createHash, randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import * as z from 'zod';
import { assignOwner, leadSubject } from '../assignment/service.ts';
import type { Principal } from '../auth/principal.ts';
import { documentClient } from '../db/client.ts';
import { timelineIndex } from '../db/keys.ts';
import { type ItemWrite, model, type RecordWrite, writeRecords } from '../db/store.ts';
import { runAsTenant } from '../db/tenant-context.ts';
import {
  ConflictError,
  DomainError,
  type FieldError,
  NotFoundError,
  TooManyRequestsError,
  ValidationError,
} from '../errors.ts';
import { fieldErrorsFrom } from '../http/problem.ts';
import { LeadCreate } from '../leads/schema.ts';
import { leadKind } from '../leads/service.ts';
import * as lifecycle from '../records/lifecycle.ts';
import { queryLookup } from '../records/lists.ts';
import { type FormFieldDefinition, type LeadFieldTarget, PUBLIC_FORM_KEY, type SubmissionInput } from './schema.ts';
import { readForm } from './service.ts';

/** Submissions per form per source address per window. */
export const SUBMISSION_LIMIT = { perWindow: 10, windowSeconds: 600 };

export interface SubmissionClient {
  origin?: string;
  sourceIp?: string;
  baseUrl?: string;
}

type Values = Record<string, string | string[] | boolean>;

const UTM_KEYS = ['source', 'medium', 'campaign', 'term', 'content'] as const;

function parsePublicKey(publicKey: string): { tenantId: string; formId: string } {
  const match = PUBLIC_FORM_KEY.exec(publicKey);
  if (!match) throw new NotFoundError('form', publicKey);
  return { tenantId: match[1]!, formId: match[2]! };
}

const asText = (value: string | string[] | boolean | undefined): string | undefined => {
  if (value === undefined) return undefined;
  if (typeof value === 'boolean') return value ? 'true' : undefined;
  const text = (Array.isArray(value) ? value.join(', ') : value).trim();
  return text === '' ? undefined : text;
};

/** Sets `path` (a.b.c) in `target`. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

/**
 * Checks the values against the form's fields and maps them onto lead fields. Every problem is named by the form
 * field it came from (`body.<name>`), so the page can show it beside the input.
 */
export function mapSubmission(fields: FormFieldDefinition[], values: Values, honeypot?: string) {
  const errors: FieldError[] = [];
  const byName = new Map(fields.map((f) => [f.name, f]));
  for (const name of Object.keys(values)) {
    if (!byName.has(name) && name !== honeypot && !/^utm_(source|medium|campaign|term|content)$/.test(name)) {
      errors.push({ field: `body.${name}`, message: 'This form has no such field.' });
    }
  }
  const kept: Record<string, string> = {};
  const lead: Record<string, unknown> = {};
  const fieldOfPath = new Map<string, string>();
  for (const field of fields) {
    const text = asText(values[field.name]);
    if (text === undefined) {
      if (field.required) errors.push({ field: `body.${field.name}`, message: 'Required.' });
      continue;
    }
    if (text.length > field.maxLength) {
      errors.push({ field: `body.${field.name}`, message: `At most ${field.maxLength} characters.` });
      continue;
    }
    if (field.type === 'select' && !field.options!.includes(text)) {
      errors.push({ field: `body.${field.name}`, message: `One of: ${field.options!.join(', ')}.` });
      continue;
    }
    kept[field.name] = text;
    if (!field.mapsTo) continue;
    const target: LeadFieldTarget = field.mapsTo;
    if (target === 'email') {
      lead.emails = [text];
      fieldOfPath.set('emails', field.name);
    } else if (target === 'phone') {
      lead.phones = [text];
      fieldOfPath.set('phones', field.name);
    } else {
      setPath(lead, target, text);
      fieldOfPath.set(target, field.name);
    }
  }
  const utm: Record<string, string> = {};
  for (const key of UTM_KEYS) {
    const text = asText(values[`utm_${key}`]);
    if (text) utm[key] = text.slice(0, 200);
  }
  if (Object.keys(utm).length > 0) lead.utm = utm;
  if (!lead.firstName && !lead.lastName && !lead.emails && !(lead.company as { name?: string })?.name) {
    errors.push({ field: 'body', message: 'Give at least a name, an email address or a company name.' });
  }
  if (errors.length > 0) throw new ValidationError('The submission is invalid.', errors);

  const parsed = LeadCreate.safeParse(lead);
  if (!parsed.success) {
    // Name each problem by the form field it came from.
    const mapped = fieldErrorsFrom(parsed.error, 'body').map((e) => {
      const path = e.field.replace(/^body\./, '').replace(/\.\d+$/, '');
      const name = fieldOfPath.get(path) ?? [...fieldOfPath].find(([p]) => path.startsWith(p))?.[1];
      return { ...e, field: name ? `body.${name}` : e.field };
    });
    throw new ValidationError('The submission is invalid.', mapped);
  }
  return { lead: parsed.data, kept, utm: lead.utm as Record<string, string> | undefined, fieldOfPath };
}

/**
 * One atomic ADD on the (form, source address, window) counter, refused once the window's limit is reached: 429
 * with the seconds until the window ends. The address is stored hashed.
 */
export async function admitSubmission(tenantId: string, formId: string, sourceIp: string, now = Date.now()) {
  const { perWindow, windowSeconds } = SUBMISSION_LIMIT;
  const nowSeconds = Math.floor(now / 1000);
  const windowStart = nowSeconds - (nowSeconds % windowSeconds);
  const source = createHash('sha256').update(sourceIp).digest('base64url');
  const params = model.entities.formRateWindow
    .update({ tenantId, formId, source, windowStart })
    .add({ count: 1 })
    .set({ expiresAt: windowStart + 2 * windowSeconds })
    .where((attr, op) => `${op.notExists(attr.count)} OR ${op.lt(attr.count, perWindow)}`)
    .params() as UpdateCommandInput;
  try {
    await documentClient.send(new UpdateCommand({ ...params, ReturnValues: 'NONE' }));
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    throw new TooManyRequestsError(windowStart + windowSeconds - nowSeconds);
  }
}

let ses: SESv2Client | undefined;
const senderConfig = () => z.object({ SENDER_EMAIL: z.email().optional() }).parse(process.env);

export interface SubmissionResult {
  status: 'received' | 'pending_confirmation';
  message: string;
  redirectUrl?: string;
}

const RECEIVED: SubmissionResult = { status: 'received', message: 'Thank you.' };

/**
 * The public web-to-lead endpoint. The public key names the tenant, so everything below runs with that tenant's
 * scoped credentials and reads only its keys; the form must exist there. Then: origin allowed, rate limit, honeypot
 * (accepted, stored nowhere), values checked and mapped, and in one transaction a new lead (or the live lead with the
 * same email, updated only for a pending opt-in) plus the submission on its timeline, plus the opt-in token.
 */
export async function submitForm(publicKey: string, values: SubmissionInput, client: SubmissionClient) {
  const { tenantId, formId } = parsePublicKey(publicKey);
  return runAsTenant(tenantId, async (): Promise<SubmissionResult & { cors: Record<string, string> }> => {
    const form = await readForm(tenantId, formId);
    if (!form || form.deletedAt || form.tenantId !== tenantId) throw new NotFoundError('form', publicKey);
    if (!client.origin || !(form.allowedOrigins as string[]).includes(client.origin)) {
      throw new DomainError(403, 'form.origin_not_allowed', 'This page may not post this form.');
    }
    // From here on the page may read the answer, refusals included.
    const cors = corsHeaders(client.origin);
    try {
      return { ...(await accept(tenantId, formId, form, values, client)), cors };
    } catch (error) {
      if (error instanceof DomainError) error.headers = { ...error.headers, ...cors };
      throw error;
    }
  });
}

/** What a page in a form's allowedOrigins gets: its origin allowed, nothing else exposed but Retry-After. */
export function corsHeaders(origin: string): Record<string, string> {
  return { 'access-control-allow-origin': origin, 'access-control-expose-headers': 'retry-after', vary: 'origin' };
}

/**
 * A CORS preflight, answered per form: allowed only for an Origin in the form's allowedOrigins, only POST with a
 * content-type header. Anything else gets no CORS headers (the browser then does not send the request).
 */
export async function preflightSubmission(publicKey: string, origin: string | undefined) {
  const { tenantId, formId } = parsePublicKey(publicKey);
  return runAsTenant(tenantId, async (): Promise<Record<string, string>> => {
    const form = await readForm(tenantId, formId);
    const allowed =
      form && !form.deletedAt && origin !== undefined && (form.allowedOrigins as string[]).includes(origin);
    if (!allowed) return { vary: 'origin' };
    return {
      'access-control-allow-origin': origin,
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type',
      'access-control-max-age': '600',
      vary: 'origin',
    };
  });
}

type StoredForm = NonNullable<Awaited<ReturnType<typeof readForm>>>;

async function accept(
  tenantId: string,
  formId: string,
  form: StoredForm,
  values: SubmissionInput,
  client: SubmissionClient,
): Promise<SubmissionResult> {
  const redirect = form.redirectUrl ? { redirectUrl: String(form.redirectUrl) } : {};
  await admitSubmission(tenantId, formId, client.sourceIp ?? 'unknown');
  const honeypot = form.honeypotField as string | undefined;
  if (honeypot && asText(values[honeypot]) !== undefined) return { ...RECEIVED, ...redirect };

  const fields = form.fields as FormFieldDefinition[];
  const { lead: input, kept, utm } = mapSubmission(fields, values, honeypot);
  const optIn = form.doubleOptIn as
    | { enabled: boolean; subject: string; text: string; linkValidHours: number }
    | undefined;
  const sender = senderConfig().SENDER_EMAIL;
  if (optIn?.enabled && !sender) {
    throw new DomainError(503, 'mail.unavailable', 'Confirmation emails cannot be sent now; nothing was stored.');
  }

  const principal: Principal = { tenantId, userId: `form:${formId}`, roles: [] };
  const email = input.emails?.[0];
  const now = new Date().toISOString();
  const existing = email
    ? (await queryLookup<{ id: string }>(tenantId, 'lead.email', email, { limit: 1 })).items[0]
    : undefined;
  const previous = existing ? await lifecycle.readStored(leadKind, tenantId, existing.id) : undefined;

  const consent = previous?.consent as { email?: string } | undefined;
  const wantsConfirmation = optIn?.enabled === true && email !== undefined && consent?.email !== 'granted';
  const pending = { email: 'pending', source: 'form', formId, requestedAt: now };

  const writes: RecordWrite[] = [];
  let undoAssignment = async () => {};
  let leadId: string;
  const attached = previous !== undefined && !previous.deletedAt;
  if (previous && attached) {
    leadId = String(previous.leadId);
    if (wantsConfirmation && consent?.email !== 'pending') {
      const next = {
        ...previous,
        consent: pending,
        version: previous.version + 1,
        updatedAt: now,
        updatedBy: principal.userId,
      };
      writes.push(lifecycle.planWrite(leadKind, principal, next, previous).write);
    }
  } else {
    const fields = {
      ...input,
      source: 'form' as const,
      status: 'new' as const,
      ...(form.ownerId ? { ownerId: String(form.ownerId) } : {}),
      ...(form.tags ? { tags: form.tags } : {}),
      ...(wantsConfirmation ? { consent: pending } : {}),
    };
    // A form without an owner of its own lets the assignment rules choose (by territory, or source "form").
    const assigned = await assignOwner(tenantId, leadSubject(fields), fields);
    undoAssignment = assigned.undo;
    const planned = await lifecycle.planCreate(leadKind, principal, assigned.input);
    leadId = planned.view.id;
    writes.push(planned.write);
  }

  const submissionId = ulid();
  const items: ItemWrite[] = [
    {
      put: 'formSubmission',
      mustBeNew: true,
      item: {
        tenantId,
        submissionId,
        formId,
        leadId,
        outcome: attached ? 'attached' : 'created',
        values: kept,
        ...(utm ? { utm } : {}),
        origin: client.origin,
        ...(email ? { email } : {}),
        doubleOptIn: wantsConfirmation,
        occurredAt: now,
        version: 1,
        createdAt: now,
        updatedAt: now,
        gsi6pk: timelineIndex.pk(tenantId, 'lead', leadId),
        gsi6sk: timelineIndex.sk(now, 'formSubmission', submissionId),
      },
    },
  ];
  let token: string | undefined;
  if (wantsConfirmation) {
    const secret = randomBytes(32).toString('base64url');
    token = `${tenantId}.${secret}`;
    const validUntil = Math.floor(Date.now() / 1000) + optIn.linkValidHours * 3600;
    items.push({
      put: 'formConfirmation',
      mustBeNew: true,
      item: {
        tenantId,
        tokenHash: hashSecret(secret),
        formId,
        leadId,
        email: email!,
        createdAt: now,
        validUntil,
        version: 1,
        expiresAt: validUntil + 30 * 24 * 3600,
      },
    });
  }
  try {
    // Attaching to a lead without changing it: the submission item alone (with the token).
    await writeRecords(writes, items);
  } catch (error) {
    await undoAssignment();
    throw error;
  }

  if (token && optIn) {
    const link = `${client.baseUrl ?? ''}/v1/forms/confirmations/${token}`;
    ses ??= new SESv2Client({});
    await ses.send(
      new SendEmailCommand({
        FromEmailAddress: sender,
        Destination: { ToAddresses: [email!] },
        Content: {
          Simple: {
            Subject: { Data: optIn.subject, Charset: 'UTF-8' },
            Body: { Text: { Data: optIn.text.replaceAll('{{link}}', link), Charset: 'UTF-8' } },
          },
        },
      }),
    );
    return { status: 'pending_confirmation', message: 'Please confirm your email address.', ...redirect };
  }
  return { ...RECEIVED, ...redirect };
}

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('base64url');

/**
 * Follows a double opt-in link: once, idempotently. The lead's email consent becomes granted, with when and from
 * which form; a second click answers the same; an expired link is 410.
 */
export async function confirmSubmission(token: string): Promise<{ status: 'confirmed'; confirmedAt: string }> {
  const dot = token.indexOf('.');
  const tenantId = token.slice(0, dot);
  const secret = token.slice(dot + 1);
  return runAsTenant(tenantId, async () => {
    const tokenHash = hashSecret(secret);
    const { data } = await model.entities.formConfirmation.get({ tenantId, tokenHash }).go();
    if (!data) throw new NotFoundError('confirmation', 'link');
    if (data.confirmedAt) return { status: 'confirmed' as const, confirmedAt: data.confirmedAt };
    if (data.validUntil * 1000 < Date.now()) {
      throw new DomainError(410, 'confirmation.expired', 'This confirmation link has expired; submit the form again.');
    }
    const now = new Date().toISOString();
    const principal: Principal = { tenantId, userId: `form:${data.formId}`, roles: [] };
    const lead = await lifecycle.readStored(leadKind, tenantId, data.leadId);
    const writes: RecordWrite[] = [];
    if (lead && !lead.deletedAt) {
      const consent = {
        email: 'granted',
        source: 'double_opt_in',
        formId: data.formId,
        ...((lead.consent as { requestedAt?: string } | undefined)?.requestedAt
          ? { requestedAt: (lead.consent as { requestedAt: string }).requestedAt }
          : {}),
        grantedAt: now,
      };
      const next = { ...lead, consent, version: lead.version + 1, updatedAt: now, updatedBy: principal.userId };
      writes.push(lifecycle.planWrite(leadKind, principal, next, lead).write);
    }
    const confirmed = new ConflictError('confirmation.raced', 'Confirmed concurrently.');
    const confirm: ItemWrite = {
      put: 'formConfirmation',
      item: { ...data, confirmedAt: now, version: 2 },
      expectedVersion: 1,
      onConflict: () => confirmed,
    };
    try {
      await writeRecords(writes, [confirm]);
    } catch (error) {
      // Another click won, or the lead changed meanwhile: what is stored now answers.
      const { data: after } = await model.entities.formConfirmation.get({ tenantId, tokenHash }).go();
      if (after?.confirmedAt) return { status: 'confirmed' as const, confirmedAt: after.confirmedAt };
      throw error;
    }
    return { status: 'confirmed' as const, confirmedAt: now };
  });
}
