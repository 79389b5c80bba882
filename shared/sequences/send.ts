import type { SESv2Client } from '@aws-sdk/client-sesv2';
import { recordRecipient, releaseRecipient, settleRecipient } from '../campaigns/ledger.ts';
import { model } from '../db/store.ts';
import { type MarketingContact, marketingIneligibility } from '../subscriptions/eligibility.ts';
import { unsubscribeLinks } from '../subscriptions/links.ts';
import { contactFields, type MergeContact } from '../templates/merge-context.ts';
import { type MergeContext, renderTemplate, TemplateRenderError } from '../templates/render.ts';
import { sendMarketingEmail } from '../templates/sender.ts';
import { ensureStatsShard } from '../tracking/apply.ts';
import { campaignStatsShard, trackingTags } from '../tracking/ses-events.ts';
import type { ExitReason } from './schema.ts';
import { SES_THROTTLES } from './ses-throttles.ts';

/**
 * The one marketing mail of a sequence's send step to one contact. The ledger is the campaigns' own
 * (CampaignRecipientEntity) under campaign id `seq-<sequenceId>-<stepId>`: so a step mails an address at most once
 * whatever retries and restarts happen, and the tracking consumer sets opened/clicked on that very item, which a
 * branch step reads. Same rules as the campaign sender: eligibility and suppression at send time, the ledger item
 * claimed (must be new) before SendEmail, claimed → sent with the `sent` count in one transaction after.
 * SendEmail itself is the templates' `sendMarketingEmail` (configuration set, From within the mail domain).
 */

export const sequenceCampaignId = (sequenceId: string, stepId: string) => `seq-${sequenceId}-${stepId}`;

export interface SequenceMail {
  tenantId: string;
  sequenceId: string;
  stepId: string;
  templateId: string;
  categoryId?: string | undefined;
  from: { address: string; name?: string | undefined };
  replyTo?: string | undefined;
  contactId: string;
  run: number;
}

export type SendOutcome =
  | { status: 'sent' | 'already_claimed'; email: string; messageId?: string }
  | { status: 'failed'; email?: string; error: string }
  | { status: 'ineligible'; reason: ExitReason };

/** The configuration set and mail domain come from the environment grantMarketingSend sets (templates/sender.ts). */
export interface SendDeps {
  ses: SESv2Client;
}

const INELIGIBLE: Record<string, ExitReason> = {
  deleted: 'deleted',
  no_email: 'no_email',
  unconsented: 'unconsented',
  unsubscribed: 'unsubscribe',
};

const THROTTLES = new Set<string>(SES_THROTTLES);

const definedOnly = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

/**
 * The merge context of one recipient with GetItems (the contact is read already; its company and owner): the stack
 * grants no batch reads, and one recipient needs none. Same fields as shared/templates/merge-context.ts.
 */
async function mergeContextOf(tenantId: string, contact: MergeContact): Promise<MergeContext> {
  const live = (r: { deletedAt?: string; mergedInto?: string } | null) =>
    r && !r.deletedAt && !r.mergedInto ? r : null;
  const [company, owner] = await Promise.all([
    contact.companyId
      ? model.entities.company
          .get({ tenantId, companyId: contact.companyId })
          .go()
          .then((r) => live(r.data as never))
      : null,
    contact.ownerId
      ? model.entities.user
          .get({ tenantId, userId: contact.ownerId })
          .go()
          .then((r) => live(r.data as never))
      : null,
  ]);
  const c = company as {
    name?: string;
    domains?: string[];
    industry?: string;
    size?: string;
    employeeCount?: number;
    address?: Record<string, string>;
    customFields?: Record<string, unknown>;
  } | null;
  const o = owner as { name?: string; email?: string } | null;
  return {
    contact: contactFields(contact),
    ...(c
      ? {
          company: definedOnly({
            name: c.name,
            domain: c.domains?.[0],
            industry: c.industry,
            size: c.size,
            employeeCount: c.employeeCount,
            address: c.address,
            custom: c.customFields,
          }),
        }
      : {}),
    ...(o ? { owner: definedOnly({ name: o.name, email: o.email }) } : {}),
  } as MergeContext;
}

export async function sendSequenceEmail(deps: SendDeps, mail: SequenceMail): Promise<SendOutcome> {
  const { tenantId, contactId } = mail;
  const contact = (await model.entities.contact.get({ tenantId, contactId }).go({ consistent: true }))
    .data as MarketingContact | null;
  const ineligible = contact ? marketingIneligibility(contact, mail.categoryId) : 'deleted';
  if (ineligible) return { status: 'ineligible', reason: INELIGIBLE[ineligible]! };
  const email = contact!.emails![0]!.toLowerCase();
  if ((await model.entities.suppression.get({ tenantId, email }).go({ attributes: ['email'] })).data) {
    return { status: 'ineligible', reason: 'suppressed' };
  }

  const template = (await model.entities.emailTemplate.get({ tenantId, templateId: mail.templateId }).go()).data as {
    subject: string;
    html?: string;
    text?: string;
    deletedAt?: string;
  } | null;
  if (!template || template.deletedAt) return { status: 'failed', email, error: 'template.not_found' };
  const context = await mergeContextOf(tenantId, contact as MergeContact);
  const campaignId = sequenceCampaignId(mail.sequenceId, mail.stepId);
  const links = await unsubscribeLinks({
    tenantId,
    contactId,
    campaignId,
    ...(mail.categoryId ? { categoryId: mail.categoryId } : {}),
  });
  let rendered: Awaited<ReturnType<typeof renderTemplate>>;
  try {
    rendered = await renderTemplate(template, context, {
      links: { unsubscribeUrl: links.oneClickUrl, preferencesUrl: links.preferencesUrl },
    });
  } catch (error) {
    if (error instanceof TemplateRenderError) return { status: 'failed', email, error: error.code };
    throw error;
  }

  const key = { tenantId, campaignId, email };
  await ensureStatsShard(tenantId, campaignId, campaignStatsShard(email));
  const claimedAt = new Date().toISOString();
  // Claimed before (a retry, a restarted execution, another contact with this address): never mailed twice.
  if (!(await recordRecipient(key, { contactId, state: 'claimed', run: mail.run, claimedAt }))) {
    return { status: 'already_claimed', email };
  }
  let messageId: string | undefined;
  try {
    messageId =
      (await sendMarketingEmail(deps.ses, {
        from: mail.from,
        to: email,
        replyTo: mail.replyTo,
        content: rendered,
        headers: links.headers,
        tags: trackingTags({ tenantId, campaignId, contactId, email }),
      })) || undefined;
  } catch (error) {
    const name = (error as { name?: string }).name ?? '';
    if (THROTTLES.has(name)) {
      // Refused before sending: release the claim so the retried step may send.
      await releaseRecipient(key, mail.run);
      throw error;
    }
    const message = `${name}: ${(error as Error).message}`.slice(0, 1000);
    await settleRecipient(key, { state: 'failed', error: message }, { failed: 1 });
    return { status: 'failed', email, error: message };
  }
  // claimed → sent with its count, unless SES's own Send event (the tracking consumer) got there first.
  await settleRecipient(
    key,
    { state: 'sent', sentAt: new Date().toISOString(), ...(messageId ? { sesMessageId: messageId } : {}) },
    { sent: 1 },
  );
  return { status: 'sent', email, ...(messageId ? { messageId } : {}) };
}
