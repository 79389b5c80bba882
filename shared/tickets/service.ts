import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { monotonicFactory, ulid } from 'ulid';
import type { Principal } from '../auth/principal.ts';
import { validateCustomFields } from '../custom-fields/service.ts';
import { largestFields, RecordTooLargeError } from '../db/item-size.ts';
import { isStorageOnly, itemView } from '../db/item-view.ts';
import { ticketIndex, ticketKeys } from '../db/keys.ts';
import { checkCursor, type ItemWrite, model, type RecordWrite, type ReferenceCheck, writeRecord } from '../db/store.ts';
import { ConflictError, DomainError, NotFoundError, PreconditionFailedError, ValidationError } from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import { MAX_RECORD_BYTES } from '../records/lifecycle.ts';
import { type Page, type PageRequest, queryIndex, queryLookup, singleFilter } from '../records/lists.ts';
import { type TimelinePlacement, timelineLinkWrites } from '../timeline/links.ts';
import { attachmentChecks } from './attachments.ts';
import type {
  TicketCreateInput,
  TicketListQueryInput,
  TicketMessageCreateInput,
  TicketMessageView,
  TicketPatchInput,
  TicketStatus,
  TicketView,
} from './schema.ts';
import { needsFolding, pausesAfterStatus } from './sla-clock.ts';
import { withFoldedPauses } from './sla-pauses.ts';

const ENTITY = 'ticket';
/** The first number a tenant's tickets get: T-1001. */
export const FIRST_TICKET_NUMBER = 1001;
/** How often a create re-reads the counter after another create took the number it read. */
const MAX_NUMBER_ATTEMPTS = 60;
/** How often a message re-reads its ticket after a concurrent change to it. */
const MAX_MESSAGE_ATTEMPTS = 8;

export type StoredTicket = TicketView & { tenantId: string; ticketId: string; deletedBy?: string };
type StoredMessage = TicketMessageView & { tenantId: string; messageId: string };

export const ticketNumber = (seq: number) => `T-${seq}`;

function storedItem(t: StoredTicket): Record<string, unknown> {
  const { id: _id, ...item } = t;
  return { ...item, ...ticketKeys(t) };
}

export function toView(stored: Record<string, unknown>): TicketView {
  return itemView(stored, 'ticketId') as TicketView;
}

const messageView = (stored: Record<string, unknown>) => itemView(stored, 'messageId') as TicketMessageView;

/** What the requester's and the company's timelines show of a ticket. */
function placementOf(t: StoredTicket): TimelinePlacement | undefined {
  if (t.deletedAt) return undefined;
  return {
    subjects: [{ type: 'contact', id: t.requesterId }, ...(t.companyId ? [{ type: 'company', id: t.companyId }] : [])],
    occurredAt: t.createdAt,
    summary: { number: t.number, subject: t.subject, status: t.status, priority: t.priority, channel: t.channel },
  };
}

const EDITABLE = new Set(['subject', 'description', 'tags', 'category', 'customFields', 'requesterId', 'companyId']);

function tooLarge(stored: Record<string, unknown>, size: number): DomainError {
  const largest = largestFields(stored, (name) => EDITABLE.has(name) && !isStorageOnly(name), ['customFields']);
  return new RecordTooLargeError(
    ENTITY,
    size,
    MAX_RECORD_BYTES,
    largest.slice(0, 3).map(({ path, bytes }) => ({
      field: `body.${path}`,
      message: `Takes ${bytes} bytes; the whole ticket would take ${size} of at most ${MAX_RECORD_BYTES} bytes.`,
      code: 'too_large',
    })),
  );
}

type ReferenceField = 'requesterId' | 'companyId' | 'assigneeId' | 'teamId' | 'slaPolicyId';
const REFERENCES: Record<
  ReferenceField,
  { entity: 'contact' | 'company' | 'user' | 'team' | 'slaPolicy'; key: string }
> = {
  requesterId: { entity: 'contact', key: 'contactId' },
  companyId: { entity: 'company', key: 'companyId' },
  assigneeId: { entity: 'user', key: 'userId' },
  teamId: { entity: 'team', key: 'teamId' },
  slaPolicyId: { entity: 'slaPolicy', key: 'policyId' },
};

/** A ConditionCheck for each reference that is new in this write: the contact, company, user or team must be live. */
function referenceChecks(next: StoredTicket, previous?: StoredTicket): ReferenceCheck[] {
  const checks: ReferenceCheck[] = [];
  for (const [field, { entity, key }] of Object.entries(REFERENCES) as Array<
    [ReferenceField, (typeof REFERENCES)[ReferenceField]]
  >) {
    const id = next[field];
    if (id === undefined || id === previous?.[field]) continue;
    checks.push({
      entity,
      key: { tenantId: next.tenantId, [key]: id },
      error: new ValidationError(
        `The ${entity} ${id} does not exist.`,
        [{ field: `body.${field}`, message: `No live ${entity} with this id.` }],
        `ticket.${entity}_not_found`,
      ),
    });
  }
  return checks;
}

/** Status bookkeeping: solvedAt while solved (a reopen clears it), closedAt once closed. */
function withStatus(t: StoredTicket, status: TicketStatus, now: string): StoredTicket {
  const next = { ...t, status };
  const slaPauses = pausesAfterStatus(t.slaPauses, t.status, status, now);
  if (slaPauses) next.slaPauses = slaPauses;
  if (status === 'solved' || status === 'closed') next.solvedAt ??= now;
  else delete next.solvedAt;
  if (status === 'closed') next.closedAt ??= now;
  return next;
}

/** A number taken by a concurrent create: re-read the counter and try the next one. */
class NumberTaken extends DomainError {
  constructor() {
    super(409, 'ticket.number_taken', 'Another ticket took this number; retry.');
  }
}

/** The ticket changed between our read and our write (a message racing an edit): re-read and try again. */
class TicketMoved extends DomainError {
  constructor() {
    super(409, 'ticket.changed', 'The ticket changed concurrently; retry.');
  }
}

const retryable = (error: unknown, own: new () => DomainError) =>
  error instanceof own || (error instanceof ConflictError && error.code === 'request.conflict');

/** Jittered backoff: racing writers spread out instead of colliding again in step. */
const backoff = (attempt: number) => sleep(Math.floor(Math.random() * Math.min(1000, 20 * 2 ** Math.min(attempt, 6))));

async function readCounter(tenantId: string) {
  const { data } = await model.entities.ticketCounter.get({ tenantId }).go({ consistent: true });
  return data ?? undefined;
}

/** The counter's next state, conditioned on the state read (or on its absence): the number's claim. */
function counterWrite(tenantId: string, counter: { last: number; version: number } | undefined, now: string) {
  const seq = (counter?.last ?? FIRST_TICKET_NUMBER - 1) + 1;
  const write: ItemWrite = {
    put: 'ticketCounter',
    item: { tenantId, last: seq, version: (counter?.version ?? 0) + 1, updatedAt: now },
    ...(counter ? { expectedVersion: counter.version } : { mustBeNew: true }),
    onConflict: () => new NumberTaken(),
  };
  return { seq, write };
}

/**
 * Creates a ticket with the tenant's next number. The counter's increment, the ticket, its number lookup, the
 * reference checks (requester, company, assignee, team), the timeline links and the idempotency record are one
 * transaction: a create that fails for any reason consumes no number, and of two creates that read the same counter
 * exactly one commits; the other re-reads and takes the next number.
 */
export async function createTicket(
  principal: Principal,
  input: TicketCreateInput,
  idempotency?: ApiRequest['idempotency'],
  mail?: MailTicketOptions,
): Promise<TicketView> {
  const t = principal.tenantId;
  await validateCustomFields(t, 'ticket', input.customFields);
  const ticketId = mail?.ticketId ?? ulid();
  for (let attempt = 0; ; attempt++) {
    const now = new Date().toISOString();
    const { seq, write: counter } = counterWrite(t, await readCounter(t), now);
    const { status: requested, customFields, ...fields } = input;
    const ticket = withStatus(
      {
        ...fields,
        ...(customFields && Object.keys(customFields).length > 0 ? { customFields: dropNulls(customFields) } : {}),
        tenantId: t,
        ticketId,
        id: ticketId,
        seq,
        number: ticketNumber(seq),
        status: 'new',
        priority: input.priority ?? 'normal',
        channel: input.channel ?? 'api',
        messageCount: mail?.firstMessage ? 1 : 0,
        ...(mail?.firstMessage ? { lastMessageAt: now } : {}),
        ...(mail?.mailboxId ? { mailboxId: mail.mailboxId } : {}),
        version: 1,
        createdAt: now,
        updatedAt: now,
        createdBy: principal.userId,
        updatedBy: principal.userId,
      } as StoredTicket,
      requested ?? (input.assigneeId ? 'open' : 'new'),
      now,
    );
    const view = toView(storedItem(ticket));
    try {
      await writeRecord({
        entity: ENTITY,
        item: storedItem(ticket),
        onVersionConflict: () => new ConflictError('ticket.exists', 'A ticket with this id exists; retry.'),
        sizeLimit: { bytes: MAX_RECORD_BYTES, tooLarge },
        references: referenceChecks(ticket),
        lookups: {
          tenantId: t,
          targetId: ticketId,
          next: [{ kind: 'ticket.number', value: String(seq) }],
          previous: [],
          summary: { id: ticketId, number: ticket.number },
        },
        items: [
          counter,
          ...timelineLinkWrites(t, ENTITY, ticketId, placementOf(ticket), undefined),
          ...(mail?.firstMessage
            ? [firstMessageWrite(t, principal.userId, ticketId, mail.firstMessage, now), ...(mail.items ?? [])]
            : (mail?.items ?? [])),
        ],
        ...(idempotency ? { idempotency: { tenantId: t, ...idempotency, statusCode: 201, response: view } } : {}),
      });
      return view;
    } catch (error) {
      if (!retryable(error, NumberTaken) || attempt + 1 >= MAX_NUMBER_ATTEMPTS) throw error;
      await backoff(attempt);
    }
  }
}

/**
 * What the email-in part adds to a create (shared/tickets/mail.ts): a ticket id chosen by the caller (derived from
 * the SES message id, so a redelivered mail after a partial failure lands on the same id), the mailbox, the mail
 * as the thread's first message and other items (its de-duplication and Message-ID lookups), all in the create's
 * transaction.
 */
export interface MailTicketOptions {
  ticketId?: string;
  mailboxId?: string;
  firstMessage?: NewMessage;
  items?: ItemWrite[];
}

function firstMessageWrite(tenantId: string, actorId: string, ticketId: string, message: NewMessage, now: string) {
  const { status: _status, ...fields } = message;
  const messageId = nextMessageId();
  return {
    put: 'ticketMessage',
    item: {
      ...fields,
      tenantId,
      ticketId,
      messageId,
      version: 1,
      createdAt: now,
      updatedAt: now,
      createdBy: actorId,
      updatedBy: actorId,
    },
    mustBeNew: true,
  } satisfies ItemWrite;
}

function dropNulls(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== null));
}

export async function readTicket(tenantId: string, ticketId: string): Promise<StoredTicket | undefined> {
  const { data } = await model.entities.ticket.get({ tenantId, ticketId }).go({ consistent: true });
  return (data as unknown as StoredTicket | null) ?? undefined;
}

export async function readLive(tenantId: string, ticketId: string): Promise<StoredTicket> {
  const found = await readTicket(tenantId, ticketId);
  if (!found || found.deletedAt) throw new NotFoundError(ENTITY, ticketId);
  return { ...found, id: found.ticketId };
}

export async function getTicket(principal: Principal, ticketId: string): Promise<TicketView> {
  return toView(storedItem(await readLive(principal.tenantId, ticketId)));
}

/** By number (`T-1042`): the number's lookup item, then the ticket. */
export async function getTicketByNumber(principal: Principal, seq: number): Promise<TicketView> {
  const { items } = await queryLookup<{ id: string }>(principal.tenantId, 'ticket.number', String(seq), { limit: 1 });
  const found = items[0];
  if (!found) throw new NotFoundError(ENTITY, ticketNumber(seq));
  return getTicket(principal, found.id);
}

const CLEARABLE = ['description', 'companyId', 'assigneeId', 'teamId', 'tags', 'category', 'slaPolicyId'] as const;

function assertOpen(t: StoredTicket): void {
  if (t.status === 'closed') {
    throw new DomainError(409, 'ticket.closed', `Ticket ${t.number} is closed; open a follow-up ticket instead.`);
  }
}

async function rewrite(
  actorId: string,
  current: StoredTicket,
  candidate: StoredTicket,
  extra: {
    items?: ItemWrite[];
    idempotency?: RecordWrite['idempotency'];
    conflict?: () => DomainError;
    now?: string;
  } = {},
): Promise<StoredTicket> {
  const unchanged = isDeepStrictEqual(toView(storedItem(candidate)), toView(storedItem(current)));
  if (unchanged && !extra.items?.length) return current;
  const next = {
    ...(needsFolding(candidate.slaPauses) ? await withFoldedPauses(candidate) : candidate),
    version: current.version + 1,
    updatedAt: extra.now ?? new Date().toISOString(),
    updatedBy: actorId,
  };
  await writeRecord({
    entity: ENTITY,
    item: storedItem(next),
    expectedVersion: current.version,
    onVersionConflict: extra.conflict ?? (() => new PreconditionFailedError(ENTITY, current.ticketId)),
    sizeLimit: { bytes: MAX_RECORD_BYTES, tooLarge },
    references: next.deletedAt ? [] : referenceChecks(next, current),
    items: [
      ...timelineLinkWrites(current.tenantId, ENTITY, current.ticketId, placementOf(next), placementOf(current)),
      ...(extra.items ?? []),
    ],
    ...(extra.idempotency ? { idempotency: extra.idempotency } : {}),
  });
  return next;
}

/**
 * A workflow's change to a ticket it read (the SLA escalation): one write conditioned on the version read, with the
 * reference checks and timeline links of any edit. Throws PreconditionFailedError when the ticket changed meanwhile.
 */
export async function rewriteTicket(actorId: string, current: StoredTicket, next: StoredTicket): Promise<StoredTicket> {
  return rewrite(actorId, current, next);
}

export async function patchTicket(
  principal: Principal,
  ticketId: string,
  patch: TicketPatchInput,
  ifMatch?: VersionPrecondition,
): Promise<TicketView> {
  const current = await readLive(principal.tenantId, ticketId);
  if (ifMatch && !ifMatch.matches(current.version)) throw new PreconditionFailedError(ENTITY, ticketId);
  assertOpen(current);
  if (patch.status === 'new' && current.status !== 'new') {
    throw new ValidationError('A ticket cannot go back to new.', [
      { field: 'body.status', message: 'Choose open, pending, on_hold, solved or closed.' },
    ]);
  }
  await validateCustomFields(principal.tenantId, 'ticket', patch.customFields);
  const { customFields, status, ...rest } = patch;
  let next = { ...current } as StoredTicket;
  for (const [key, value] of Object.entries(rest)) {
    if (value === undefined) continue;
    if (value === null && (CLEARABLE as readonly string[]).includes(key))
      delete next[key as (typeof CLEARABLE)[number]];
    else (next as Record<string, unknown>)[key] = value;
  }
  if (customFields) {
    const merged = dropNulls({ ...(current.customFields ?? {}), ...customFields });
    if (Object.keys(merged).length > 0) next.customFields = merged;
    else delete next.customFields;
  }
  if (status && status !== current.status) next = withStatus(next, status, new Date().toISOString());
  return toView(storedItem(await rewrite(principal.userId, current, next)));
}

/** Soft delete: out of every view and timeline; the sync feed (gsi5), the trash and the events keep it. */
export async function deleteTicket(principal: Principal, ticketId: string, ifMatch?: VersionPrecondition) {
  const current = await readLive(principal.tenantId, ticketId);
  if (ifMatch && !ifMatch.matches(current.version)) throw new PreconditionFailedError(ENTITY, ticketId);
  await rewrite(principal.userId, current, {
    ...current,
    deletedAt: new Date().toISOString(),
    deletedBy: principal.userId,
  });
}

/**
 * One filter per list, each one Query on its own partition, newest-updated first: status (every live ticket with
 * it), assigneeId / teamId / priority (unresolved tickets: the work queues), the trash, or the sync feed
 * (updatedSince, oldest first). Without a filter: every live ticket.
 */
export async function listTickets(
  principal: Principal,
  query: Omit<TicketListQueryInput, 'limit' | 'cursor'>,
  page: PageRequest,
): Promise<Page<TicketView>> {
  const filter = singleFilter(query, ['status', 'assigneeId', 'teamId', 'priority', 'inTrash', 'updatedSince']);
  const t = principal.tenantId;
  const desc = { order: 'desc' as const };
  const result =
    filter === 'status'
      ? await queryIndex<Record<string, unknown>>(ENTITY, 'gsi2', ticketIndex.status(t, query.status!), page, desc)
      : filter === 'assigneeId'
        ? await queryIndex<Record<string, unknown>>(
            ENTITY,
            'gsi1',
            ticketIndex.assignee(t, query.assigneeId!),
            page,
            desc,
          )
        : filter === 'teamId'
          ? await queryIndex<Record<string, unknown>>(ENTITY, 'gsi3', ticketIndex.team(t, query.teamId!), page, desc)
          : filter === 'priority'
            ? await queryIndex<Record<string, unknown>>(
                ENTITY,
                'gsi7',
                ticketIndex.priority(t, query.priority!),
                page,
                desc,
              )
            : filter === 'inTrash'
              ? await queryIndex<Record<string, unknown>>(ENTITY, 'gsi4', ticketIndex.trash(t), page, desc)
              : filter === 'updatedSince'
                ? await queryIndex<Record<string, unknown>>(ENTITY, 'gsi5', ticketIndex.sync(t), page, {
                    gte: new Date(query.updatedSince!).toISOString(),
                  })
                : await queryIndex<Record<string, unknown>>(ENTITY, 'gsi4', ticketIndex.recent(t), page, desc);
  return { items: result.items.map(toView), nextCursor: result.nextCursor };
}

/** A message to add to a ticket's thread. */
export interface NewMessage extends MessageEmailFields {
  visibility: 'public' | 'internal';
  authorType: 'user' | 'contact';
  authorId: string;
  bodyText?: string | undefined;
  bodyHtml?: string | undefined;
  attachmentIds?: string[] | undefined;
  source?: Record<string, unknown> | undefined;
  /** The ticket's status after this message (else: a customer reply reopens, an agent's first reply opens). */
  status?: TicketStatus | undefined;
}

/** What an email message carries beside its body: its RFC 5322 Message-ID, addresses, threading headers and
 * (outbound) the delivery state. */
export interface MessageEmailFields {
  emailMessageId?: string;
  from?: { address: string; name?: string };
  to?: string[];
  cc?: string[];
  replyTo?: string;
  subject?: string;
  inReplyTo?: string;
  references?: string[];
  delivery?: { status: 'queued' | 'sending' | 'sent' | 'failed'; sesMessageId?: string; sentAt?: string };
}

const nextMessageId = monotonicFactory();
/** A new message id (a monotonic ULID): for callers that must know it before the write (an outbound Message-ID). */
export const newMessageId = (): string => nextMessageId();

/** What a message does to its ticket: counts, first response, and the status it leads to. */
function afterMessage(current: StoredTicket, message: NewMessage, now: string): StoredTicket {
  let next: StoredTicket = { ...current, messageCount: (current.messageCount ?? 0) + 1, lastMessageAt: now };
  const agentReply = message.authorType === 'user' && message.visibility === 'public';
  if (agentReply) next.firstRespondedAt ??= now;
  const status =
    message.status ??
    (message.authorType === 'contact' && (current.status === 'pending' || current.status === 'solved')
      ? 'open'
      : agentReply && current.status === 'new'
        ? 'open'
        : undefined);
  if (status && status !== current.status) next = withStatus(next, status, now);
  return next;
}

/**
 * Adds a message and updates its ticket in one transaction conditioned on the ticket's version (re-read and retried
 * when something else changed the ticket meanwhile), so the count, the status and the thread never disagree.
 */
export async function appendMessage(
  tenantId: string,
  actorId: string,
  ticketId: string,
  message: NewMessage,
  idempotency?: ApiRequest['idempotency'],
  extra: { messageId?: string; items?: ItemWrite[] } = {},
): Promise<{ message: TicketMessageView; ticket: TicketView }> {
  const messageId = extra.messageId ?? nextMessageId();
  const attachments = message.attachmentIds?.length
    ? await attachmentChecks(tenantId, ticketId, message.attachmentIds)
    : [];
  for (let attempt = 0; ; attempt++) {
    const current = await readLive(tenantId, ticketId);
    assertOpen(current);
    const now = new Date().toISOString();
    const { status: _status, ...fields } = message;
    const stored = {
      ...fields,
      tenantId,
      ticketId,
      messageId,
      id: messageId,
      version: 1,
      createdAt: now,
      updatedAt: now,
      createdBy: actorId,
      updatedBy: actorId,
    } as StoredMessage;
    const { id: _id, ...messageItem } = stored;
    const candidate = afterMessage(current, message, now);
    const expectedTicket = toView(
      storedItem({ ...candidate, version: current.version + 1, updatedAt: now, updatedBy: actorId }),
    );
    const response = { message: messageView(messageItem), ticket: expectedTicket };
    try {
      const next = await rewrite(actorId, current, candidate, {
        now,
        items: [{ put: 'ticketMessage', item: messageItem, mustBeNew: true }, ...attachments, ...(extra.items ?? [])],
        conflict: () => new TicketMoved(),
        ...(idempotency ? { idempotency: { tenantId, ...idempotency, statusCode: 201, response } } : {}),
      });
      return { message: messageView(messageItem), ticket: toView(storedItem(next)) };
    } catch (error) {
      if (!retryable(error, TicketMoved) || attempt + 1 >= MAX_MESSAGE_ATTEMPTS) {
        if (error instanceof TicketMoved) throw new ConflictError('request.conflict', 'The ticket is busy; retry.');
        throw error;
      }
      await backoff(attempt);
    }
  }
}

/** An agent's reply or internal note, or (authorType contact) a message from the requester taken down by an agent. */
export async function postMessage(
  principal: Principal,
  ticketId: string,
  input: TicketMessageCreateInput,
  idempotency?: ApiRequest['idempotency'],
) {
  const fromRequester = input.authorType === 'contact';
  const requesterId = fromRequester ? (await readLive(principal.tenantId, ticketId)).requesterId : undefined;
  return appendMessage(
    principal.tenantId,
    principal.userId,
    ticketId,
    {
      visibility: fromRequester ? 'public' : (input.visibility ?? 'public'),
      authorType: fromRequester ? 'contact' : 'user',
      authorId: requesterId ?? principal.userId,
      bodyText: input.bodyText,
      bodyHtml: input.bodyHtml,
      ...(input.attachmentIds?.length ? { attachmentIds: input.attachmentIds } : {}),
      status: input.status,
    },
    idempotency,
  );
}

/**
 * A customer's message arriving on a ticket (the email-in part calls this for a reply it threaded): a public message
 * by the contact; a pending or solved ticket reopens. A closed ticket refuses it (409 `ticket.closed`): open a
 * follow-up ticket instead. Runs as the tenant (call it inside `runAsTenant`).
 */
export async function addCustomerMessage(
  tenantId: string,
  ticketId: string,
  message: {
    contactId: string;
    bodyText?: string;
    bodyHtml?: string;
    attachmentIds?: string[];
    source?: Record<string, unknown>;
    /** The mail's own headers (Message-ID, addresses, threading), stored on the message. */
    email?: Pick<NewMessage, 'emailMessageId' | 'from' | 'to' | 'cc' | 'subject' | 'inReplyTo' | 'references'>;
  },
  /** Items written in the message's transaction (the mail's de-duplication and Message-ID lookups). */
  items?: ItemWrite[],
): Promise<{ message: TicketMessageView; ticket: TicketView }> {
  return appendMessage(
    tenantId,
    `contact:${message.contactId}`,
    ticketId,
    {
      visibility: 'public',
      authorType: 'contact',
      authorId: message.contactId,
      bodyText: message.bodyText,
      bodyHtml: message.bodyHtml,
      ...(message.attachmentIds?.length ? { attachmentIds: message.attachmentIds } : {}),
      ...(message.source ? { source: message.source } : {}),
      ...definedFields(message.email ?? {}),
    },
    undefined,
    items ? { items } : {},
  );
}

const definedFields = <T extends object>(fields: T): Partial<T> =>
  Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;

/** The thread, oldest first: one Query of the ticket's partition. */
export async function listMessages(
  principal: Principal,
  ticketId: string,
  page: PageRequest,
): Promise<Page<TicketMessageView>> {
  await readLive(principal.tenantId, ticketId);
  const query = model.entities.ticketMessage.query.byTicket({ tenantId: principal.tenantId, ticketId });
  const partition = query.params().ExpressionAttributeValues[':pk'] as string;
  checkCursor(page.cursor, 'pk', partition);
  const result = await query.go({ limit: page.limit, cursor: page.cursor ?? null, order: 'asc' });
  return {
    items: result.data.map((m) => messageView(m as unknown as Record<string, unknown>)),
    nextCursor: result.cursor ?? null,
  };
}

/** Who the audit trail names for the routing workflow's writes. */
export const ROUTING_ACTOR = 'system:routing';

/**
 * The routing workflow's one write (contract 4): sets team, priority and assignee and records `routing`, in one
 * conditional write on the version given (the one the caller just read). The assignee and team are ConditionChecks,
 * so a user or team deleted meanwhile fails the write (`ticket.user_not_found` / `ticket.team_not_found`).
 * Returns false when the ticket changed since that read (the caller re-reads and decides again).
 */
export async function applyRouting(
  current: StoredTicket,
  change: {
    teamId?: string | undefined;
    priority?: TicketView['priority'] | undefined;
    assigneeId?: string | undefined;
  },
  routing: NonNullable<TicketView['routing']>,
): Promise<boolean> {
  const next: StoredTicket = { ...current, id: current.ticketId, routing };
  if (change.teamId) next.teamId = change.teamId;
  if (change.priority) next.priority = change.priority;
  if (change.assigneeId) next.assigneeId = change.assigneeId;
  try {
    await rewrite(ROUTING_ACTOR, { ...current, id: current.ticketId }, next, { conflict: () => new TicketMoved() });
    return true;
  } catch (error) {
    if (retryable(error, TicketMoved)) return false;
    throw error;
  }
}
