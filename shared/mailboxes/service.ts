import { ulid } from 'ulid';
import * as z from 'zod';
import type { Principal } from '../auth/principal.ts';
import { readConfig } from '../config.ts';
import type { StoredAudit } from '../db/documents.ts';
import type { TICKET_PRIORITIES } from '../db/entities/ticket.ts';
import { itemView } from '../db/item-view.ts';
import { mailboxIndex, mailboxKeys } from '../db/keys.ts';
import { type ItemWrite, model, type ReferenceCheck, writeRecord, writeRecords } from '../db/store.ts';
import { ConflictError, DomainError, NotFoundError, PreconditionFailedError, ValidationError } from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import { type Page, queryIndex } from '../records/lists.ts';
import { coveredByRecipients } from './address.ts';
import { mailboxResolver, type ResolvedMailbox } from './resolve.ts';
import {
  DEFAULT_VERDICT_POLICY,
  type MailboxCreateInput,
  type MailboxPatchInput,
  type MailboxView,
  type VerdictPolicy,
} from './schema.ts';

export { subaddressTag } from './address.ts';

export interface StoredMailbox extends StoredAudit {
  tenantId: string;
  mailboxId: string;
  address: string;
  name: string;
  teamId?: string;
  defaultPriority: (typeof TICKET_PRIORITIES)[number];
  verdictPolicy: VerdictPolicy;
  replyName?: string;
}

export const mailboxView = (stored: StoredMailbox): MailboxView =>
  itemView(stored as unknown as Record<string, unknown>, 'mailboxId') as MailboxView;

const mailboxItem = (m: StoredMailbox) => ({ ...m, ...mailboxKeys(m) });

/**
 * INBOUND_RECIPIENTS: the receipt rule's recipient conditions (addresses, domains, `.domain`), comma-separated, when
 * the stack is configured with them: SES accepts mail only for those, so only they may be declared.
 */
const recipientsConfig = z.object({
  INBOUND_RECIPIENTS: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean),
    ),
});

/** The address is free in the whole service (any tenant's mailbox could hold it; which one is never said). */
const addressTaken = (address: string) =>
  new ConflictError(
    'mailbox.address_taken',
    `${address} already belongs to a mailbox. An address can feed only one mailbox; choose another or release it first.`,
    { address },
  );

function checkReceivable(address: string): void {
  const recipients = readConfig(recipientsConfig).INBOUND_RECIPIENTS;
  if (coveredByRecipients(address, recipients)) return;
  throw new ValidationError('This service does not receive mail for that address.', [
    {
      field: 'body.address',
      message: `Mail is received only for ${recipients.join(', ')}: use an address there.`,
      code: 'address_not_received',
    },
  ]);
}

/** The claim that makes `address` this mailbox's, created in the mailbox's transaction: it must not exist yet. */
const claimAddress = (m: StoredMailbox, claimedAt: string): ItemWrite => ({
  put: 'mailboxClaim',
  item: { mailboxAddress: m.address, tenantId: m.tenantId, mailboxId: m.mailboxId, claimedAt },
  mustBeNew: true,
  onConflict: () => addressTaken(m.address),
});

/** Releases the mailbox's claim, only if it is still this mailbox's (never another tenant's). */
const releaseAddress = (m: StoredMailbox): ItemWrite => ({
  delete: 'mailboxClaim',
  key: { mailboxAddress: m.address },
  expect: { tenantId: m.tenantId, mailboxId: m.mailboxId },
});

function teamReference(m: StoredMailbox): ReferenceCheck[] {
  if (!m.teamId) return [];
  return [
    {
      entity: 'team',
      key: { tenantId: m.tenantId, teamId: m.teamId },
      error: new ValidationError('The mailbox refers to something that does not exist.', [
        { field: 'body.teamId', message: `No team ${m.teamId}.`, code: 'unknown_team' },
      ]),
    },
  ];
}

/** One GetItem. */
export async function readMailbox(tenantId: string, mailboxId: string): Promise<StoredMailbox | undefined> {
  const { data } = await model.entities.mailbox.get({ tenantId, mailboxId }).go();
  return (data as StoredMailbox | null) ?? undefined;
}

/**
 * The tenant and mailbox an envelope recipient belongs to: its `+tag` stripped, lower-cased, then one GetItem on the
 * address claim (the one global key: the address alone names the tenant). Undefined for an address no mailbox owns,
 * and for one that cannot be a mailbox (no read then).
 */
export async function resolveMailbox(address: string): Promise<ResolvedMailbox | undefined> {
  return mailboxResolver(model)(address);
}

async function existingMailbox(tenantId: string, mailboxId: string): Promise<StoredMailbox> {
  const stored = await readMailbox(tenantId, mailboxId);
  if (!stored) throw new NotFoundError('mailbox', mailboxId);
  return stored;
}

export async function createMailbox(
  principal: Principal,
  input: MailboxCreateInput,
  idempotency?: ApiRequest['idempotency'],
): Promise<MailboxView> {
  checkReceivable(input.address);
  const now = new Date().toISOString();
  const mailbox: StoredMailbox = {
    tenantId: principal.tenantId,
    mailboxId: ulid(),
    address: input.address,
    name: input.name,
    ...(input.teamId ? { teamId: input.teamId } : {}),
    defaultPriority: input.defaultPriority,
    verdictPolicy: { ...DEFAULT_VERDICT_POLICY, ...definedOnly(input.verdictPolicy) },
    ...(input.replyName ? { replyName: input.replyName } : {}),
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: principal.userId,
    updatedBy: principal.userId,
  };
  const view = mailboxView(mailbox);
  await writeRecord({
    entity: 'mailbox',
    item: mailboxItem(mailbox),
    onVersionConflict: () => new DomainError(409, 'mailbox.exists', `mailbox ${mailbox.mailboxId} already exists.`),
    references: teamReference(mailbox),
    items: [claimAddress(mailbox, now)],
    ...(idempotency
      ? { idempotency: { tenantId: principal.tenantId, ...idempotency, statusCode: 201, response: view } }
      : {}),
  });
  return view;
}

export async function getMailbox(principal: Principal, mailboxId: string): Promise<MailboxView> {
  return mailboxView(await existingMailbox(principal.tenantId, mailboxId));
}

export async function listMailboxes(principal: Principal, page: { limit: number; cursor?: string | undefined }) {
  const result = await queryIndex<StoredMailbox>('mailbox', 'gsi4', mailboxIndex.address(principal.tenantId), page);
  return { items: result.items.map(mailboxView), nextCursor: result.nextCursor } satisfies Page<MailboxView>;
}

export async function patchMailbox(
  principal: Principal,
  mailboxId: string,
  patch: MailboxPatchInput,
  ifMatch?: VersionPrecondition,
): Promise<MailboxView> {
  const previous = await existingMailbox(principal.tenantId, mailboxId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('mailbox', mailboxId);
  const { teamId: _team, replyName: _reply, ...kept } = previous;
  const teamId = patch.teamId === undefined ? previous.teamId : (patch.teamId ?? undefined);
  const replyName = patch.replyName === undefined ? previous.replyName : (patch.replyName ?? undefined);
  const changed: StoredMailbox = {
    ...kept,
    ...(patch.address !== undefined ? { address: patch.address } : {}),
    ...(patch.name !== undefined ? { name: patch.name } : {}),
    ...(teamId ? { teamId } : {}),
    ...(patch.defaultPriority !== undefined ? { defaultPriority: patch.defaultPriority } : {}),
    verdictPolicy: { ...previous.verdictPolicy, ...definedOnly(patch.verdictPolicy ?? {}) },
    ...(replyName ? { replyName } : {}),
  };
  if (JSON.stringify(mailboxView(changed)) === JSON.stringify(mailboxView(previous))) return mailboxView(previous);
  const moved = changed.address !== previous.address;
  if (moved) checkReceivable(changed.address);
  const now = new Date().toISOString();
  const next: StoredMailbox = {
    ...changed,
    version: previous.version + 1,
    updatedAt: now,
    updatedBy: principal.userId,
  };
  await writeRecord({
    entity: 'mailbox',
    item: mailboxItem(next),
    expectedVersion: previous.version,
    onVersionConflict: () => new PreconditionFailedError('mailbox', mailboxId),
    // Only a newly named team is checked: one that was deleted since does not block other changes.
    references: next.teamId !== previous.teamId ? teamReference(next) : [],
    // The address moves in the same transaction: the old claim released, the new one taken (or the whole change fails).
    items: moved ? [releaseAddress(previous), claimAddress(next, now)] : [],
  });
  return mailboxView(next);
}

/** Deletes the mailbox and releases its address in one transaction; mail to it is refused from then on. */
export async function deleteMailbox(principal: Principal, mailboxId: string, ifMatch?: VersionPrecondition) {
  const previous = await existingMailbox(principal.tenantId, mailboxId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('mailbox', mailboxId);
  await writeRecords(
    [],
    [
      {
        delete: 'mailbox',
        key: { tenantId: previous.tenantId, mailboxId },
        expect: { version: previous.version },
        onConflict: () => new PreconditionFailedError('mailbox', mailboxId),
      },
      releaseAddress(previous),
    ],
  );
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
