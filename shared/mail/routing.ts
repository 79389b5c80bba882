import {
  type EmailReceivedV2Detail,
  FLAGGABLE_VERDICTS,
  MAIL_LIMITS,
  SES_VERDICT_STATUSES,
} from '../../events/catalog.ts';
import { subaddressTag } from '../mailboxes/address.ts';
import { readMailbox, resolveMailbox, type StoredMailbox } from '../mailboxes/service.ts';
import { jsonStringBytes } from './inbound.ts';

export type Verdicts = EmailReceivedV2Detail['verdicts'];
export type FlaggableVerdict = (typeof FLAGGABLE_VERDICTS)[number];

/** A verdict status as SES sent it; anything unknown counts as PROCESSING_FAILED (neither a pass nor a fail). */
export function verdictStatus(status: string | undefined): Verdicts['spam'] {
  return (SES_VERDICT_STATUSES as readonly string[]).includes(status ?? '')
    ? (status as Verdicts['spam'])
    : 'PROCESSING_FAILED';
}

/** The message for one tenant: the recipient it came in at and that recipient's mailbox. */
export interface TenantRecipient {
  tenantId: string;
  recipient: string;
  mailbox: StoredMailbox;
}

export interface RecipientRouting {
  /** One entry per tenant, in the order of their first recipient. */
  tenants: TenantRecipient[];
  /** Recipients no mailbox owns (or whose mailbox was deleted meanwhile). */
  unroutable: string[];
}

export interface MailboxDirectory {
  resolve: typeof resolveMailbox;
  read: typeof readMailbox;
}

const directory: MailboxDirectory = { resolve: resolveMailbox, read: readMailbox };

/**
 * The tenants of a message, from its SES envelope recipients only (never the To/Cc headers, which the sender
 * writes): each recipient's address claim, then its mailbox (two GetItems per distinct mailbox address). Several
 * recipients of one tenant give it one delivery: the first with a `+tag` (it names a ticket), else the first.
 */
export async function routeRecipients(
  recipients: readonly string[],
  mailboxes: MailboxDirectory = directory,
): Promise<RecipientRouting> {
  const byTenant = new Map<string, TenantRecipient>();
  const unroutable: string[] = [];
  const read = new Map<string, Promise<StoredMailbox | undefined>>();
  for (const recipient of [...new Set(recipients)]) {
    // SMTP bounds a path to 256 bytes; a longer one (a huge +tag) could not travel in the event, and is nobody's.
    const owner =
      jsonStringBytes(recipient) <= MAIL_LIMITS.addressBytes ? await mailboxes.resolve(recipient) : undefined;
    const key = owner && `${owner.tenantId}\n${owner.mailboxId}`;
    if (owner && key && !read.has(key)) read.set(key, mailboxes.read(owner.tenantId, owner.mailboxId));
    const mailbox = key ? await read.get(key) : undefined;
    if (!owner || !mailbox) {
      unroutable.push(recipient);
      continue;
    }
    const current = byTenant.get(owner.tenantId);
    if (!current || (subaddressTag(recipient) && !subaddressTag(current.recipient))) {
      byTenant.set(owner.tenantId, { tenantId: owner.tenantId, recipient, mailbox });
    }
  }
  return { tenants: [...byTenant.values()], unroutable };
}

export type VerdictDecision =
  | { action: 'deliver'; flagged: FlaggableVerdict[] }
  | { action: 'reject'; verdicts: string[] };

/**
 * What a mailbox's policy makes of SES's verdicts: a virus is always rejected; each other FAIL is rejected or
 * flagged as the mailbox says. GRAY, PROCESSING_FAILED and DISABLED decide nothing.
 */
export function decideVerdicts(policy: StoredMailbox['verdictPolicy'], verdicts: Verdicts): VerdictDecision {
  const failed = (['virus', ...FLAGGABLE_VERDICTS] as const).filter((v) => verdicts[v] === 'FAIL');
  const rejecting = failed.filter((v) => v === 'virus' || policy[v] === 'reject');
  if (rejecting.length > 0) return { action: 'reject', verdicts: rejecting };
  return { action: 'deliver', flagged: failed.filter((v): v is FlaggableVerdict => v !== 'virus') };
}
