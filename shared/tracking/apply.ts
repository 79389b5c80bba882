import { timelineIndex } from '../db/keys.ts';
import { model } from '../db/store.ts';
import { suppressAddress } from '../suppression/store.ts';
import {
  campaignStatsShard,
  type SesEvent,
  type SesEventKind,
  type TrackedMessage,
  trackedMessage,
} from './ses-events.ts';

/**
 * Applies one SES sending event to the campaign it belongs to (see the contract in ses-events.ts):
 * - the ledger item (CampaignRecipientEntity) gets the event's first time (deliveredAt, bouncedAt, complainedAt,
 *   openedAt, clickedAt, rejectedAt) under `attribute_not_exists`, in ONE transaction with the counter ADD on the
 *   address's stats shard and the contact's timeline link, so a redelivered event counts nothing;
 * - an item still `claimed` is moved to `sent` (sesMessageId, sentAt) with sent=1 in that same transaction, by any
 *   event of its message: SES may deliver a Delivery before the Send, and whoever moves it out of `claimed` counts it;
 * - opens and clicks after the first ADD to the open/click totals every time (SES counts each one as well);
 * - a hard bounce or a complaint puts the address on the tenant's suppression list (the first entry stands);
 * - an open or a click moves the contact's engagement forward (never back), which the stream publishes as
 *   `email.opened` / `email.clicked`.
 * Side effects that are idempotent on their own (suppression, engagement) run before the ledger's transaction, so a
 * crash between them is repaired by the redelivery, which then finds nothing left to count.
 */

export type ApplyOutcome =
  /** Not one of our campaign messages (no tracking tags). */
  | 'untracked'
  /** Tagged, but the campaign has no ledger item for the address (or one for another message). */
  | 'unknown_recipient'
  /** Counted now. */
  | 'applied'
  /** Seen before: nothing left to count. */
  | 'repeat'
  /** Delivery delays and rendering failures: logged, nothing stored. */
  | 'ignored';

export interface ApplyResult {
  outcome: ApplyOutcome;
  message?: TrackedMessage;
  /** Whether this event put the address on the suppression list. */
  suppressed?: boolean;
}

/** The ledger field an event kind sets once, and the counter its first occurrence ADDs. */
const FIRST: Partial<Record<SesEventKind, { field: string; counter: string }>> = {
  delivery: { field: 'deliveredAt', counter: 'delivered' },
  bounce: { field: 'bouncedAt', counter: 'bounced' },
  complaint: { field: 'complainedAt', counter: 'complained' },
  open: { field: 'openedAt', counter: 'opened' },
  click: { field: 'clickedAt', counter: 'clicked' },
  reject: { field: 'rejectedAt', counter: 'rejected' },
};

/** Every open or click (not only the first) adds to these totals, on the ledger item and the stats shard. */
const REPEATABLE: Partial<Record<SesEventKind, { itemCount: string; counter: string }>> = {
  open: { itemCount: 'openCount', counter: 'opens' },
  click: { itemCount: 'clickCount', counter: 'clicks' },
};

/** How often a transaction is re-planned after a concurrent change (the sender or another event) interfered. */
const MAX_ATTEMPTS = 5;

type Op = { commit: () => unknown };
type Where = (fn: (attr: Record<string, unknown>, op: Record<string, (...args: unknown[]) => string>) => string) => Op;
interface UpdateChain extends Op {
  set: (values: Record<string, unknown>) => UpdateChain;
  add: (values: Record<string, number>) => UpdateChain;
  data: (
    fn: (attr: Record<string, Record<string, unknown>>, op: Record<string, (...a: unknown[]) => void>) => void,
  ) => UpdateChain;
  where: Where;
}
interface Ops {
  patch: (key: Record<string, unknown>) => UpdateChain;
  update: (key: Record<string, unknown>) => UpdateChain;
  put: (item: Record<string, unknown>) => Op;
  create: (item: Record<string, unknown>) => { go: () => Promise<unknown> };
}
const ops = (name: 'campaignRecipient' | 'campaignStats' | 'timelineLink' | 'contactEngagement') =>
  model.entities[name] as unknown as Ops;

type TransactionResult = { canceled: boolean; data: Array<{ rejected?: boolean; code: string }> };
const transact = (items: unknown[]) =>
  (model.transaction.write as unknown as (fn: () => unknown[]) => { go: () => Promise<TransactionResult> })(
    () => items,
  ).go();

/** Stats shards known to exist (their `counts` map must, for a nested ADD): created once, cached per container. */
const knownShards = new Set<string>();

/** Creates the shard with empty counts unless it exists; the campaign sender may call it too. */
export async function ensureStatsShard(tenantId: string, campaignId: string, shard: number): Promise<void> {
  const key = `${tenantId}\n${campaignId}\n${shard}`;
  if (knownShards.has(key)) return;
  try {
    await ops('campaignStats').create({ tenantId, campaignId, shard, counts: {} }).go();
  } catch (error) {
    if ((error as { cause?: { name?: string } }).cause?.name !== 'ConditionalCheckFailedException') throw error;
  }
  knownShards.add(key);
}

/** The transaction item ADDing `counts` (name → n) on a stats shard. */
export function statsAdd(tenantId: string, campaignId: string, shard: number, counts: Record<string, number>) {
  return ops('campaignStats')
    .update({ tenantId, campaignId, shard })
    .data((attr, op) => {
      for (const [name, by] of Object.entries(counts)) op.add!(attr.counts![name], by);
    })
    .commit();
}

type Ledger = Record<string, unknown> & { state: string; sesMessageId?: string };

async function readLedger(message: TrackedMessage): Promise<Ledger | undefined> {
  const { data } = await model.entities.campaignRecipient
    .get({ tenantId: message.tenantId, campaignId: message.campaignId, email: message.email })
    .go({ consistent: true });
  return (data as Ledger | null) ?? undefined;
}

/** The timeline entry of a contact for a first event of a campaign's mail to them (its link item, on gsi6). */
function timelineEntry(message: TrackedMessage, event: SesEvent) {
  const entityId = `${message.campaignId}.${message.contactId}.${event.kind}`;
  return ops('timelineLink')
    .put({
      tenantId: message.tenantId,
      entity: 'campaignEmail',
      entityId,
      subjectType: 'contact',
      subjectId: message.contactId,
      occurredAt: event.at,
      summary: {
        campaignId: message.campaignId,
        event: event.kind,
        email: message.email,
        sesMessageId: event.mail.messageId,
        ...(event.bounceType ? { bounceType: event.bounceType } : {}),
        ...(event.link ? { link: event.link.slice(0, 2048) } : {}),
      },
      gsi6pk: timelineIndex.pk(message.tenantId, 'contact', message.contactId),
      gsi6sk: timelineIndex.sk(event.at, 'campaignEmail', entityId),
    })
    .commit();
}

/**
 * The transaction items for the event against the ledger item as read, each conditioned on what was read, so a
 * concurrent change cancels it (then it is re-planned); empty when there is nothing left to do.
 */
function plan(message: TrackedMessage, event: SesEvent, ledger: Ledger): unknown[] {
  const key = { tenantId: message.tenantId, campaignId: message.campaignId, email: message.email };
  const first = FIRST[event.kind];
  const repeatable = REPEATABLE[event.kind];
  const moveToSent = ledger.state === 'claimed';
  const isFirst = first !== undefined && ledger[first.field] === undefined;
  const set: Record<string, unknown> = {};
  const counts: Record<string, number> = {};
  if (moveToSent) {
    Object.assign(set, { state: 'sent', sesMessageId: event.mail.messageId, sentAt: event.mail.timestamp });
    counts.sent = 1;
  }
  if (first && isFirst) {
    set[first.field] = event.at;
    counts[first.counter] = 1;
    if (event.kind === 'bounce') {
      set.bounceType = event.bounceType;
      counts[`bounced_${event.bounceType!.toLowerCase()}`] = 1;
    }
    if (event.detail && (event.kind === 'reject' || event.kind === 'bounce')) set.error = event.detail.slice(0, 1000);
  }
  const add: Record<string, number> = {};
  if (repeatable) {
    add[repeatable.itemCount] = 1;
    counts[repeatable.counter] = 1;
  }
  if (Object.keys(set).length === 0 && Object.keys(add).length === 0) return [];

  let update = ops('campaignRecipient').patch(key);
  if (Object.keys(set).length > 0) update = update.set(set);
  if (Object.keys(add).length > 0) update = update.add(add);
  const ledgerOp = update.where((attr, op) => {
    const conditions = [moveToSent ? op.eq!(attr.state, 'claimed') : op.ne!(attr.state, 'claimed')];
    if (first) conditions.push(isFirst ? op.notExists!(attr[first.field]) : op.exists!(attr[first.field]));
    return conditions.join(' AND ');
  });
  const items = [
    ledgerOp.commit(),
    statsAdd(message.tenantId, message.campaignId, campaignStatsShard(message.email), counts),
  ];
  if (first && isFirst) items.push(timelineEntry(message, event));
  return items;
}

/** Moves the contact's last open or click forward to the event's time (never back); true if it moved. */
async function recordEngagement(message: TrackedMessage, event: SesEvent): Promise<boolean> {
  const field = event.kind === 'open' ? 'lastOpenedAt' : 'lastClickedAt';
  const campaignField = event.kind === 'open' ? 'lastOpenedCampaignId' : 'lastClickedCampaignId';
  try {
    await (
      ops('contactEngagement')
        .update({ tenantId: message.tenantId, contactId: message.contactId })
        .set({ [field]: event.at, [campaignField]: message.campaignId, updatedAt: new Date().toISOString() })
        .where((attr, op) => `${op.notExists!(attr[field])} OR ${op.lt!(attr[field], event.at)}`) as unknown as {
        go: (o?: Record<string, unknown>) => Promise<unknown>;
      }
    ).go({ response: 'none' });
    return true;
  } catch (error) {
    if ((error as { cause?: { name?: string } }).cause?.name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}

export async function applySesEvent(event: SesEvent): Promise<ApplyResult> {
  const message = trackedMessage(event.mail);
  if (!message) return { outcome: 'untracked' };
  if (event.kind === 'deliveryDelay' || event.kind === 'renderingFailure') return { outcome: 'ignored', message };

  let suppressed: boolean | undefined;
  const hard = event.kind === 'complaint' || (event.kind === 'bounce' && event.bounceType === 'Permanent');
  if (hard) {
    suppressed = await suppressAddress(message.tenantId, {
      email: message.email,
      reason: event.kind === 'complaint' ? 'complaint' : 'hard_bounce',
      source: message.campaignId,
      detail: `SES ${event.mail.messageId}${event.detail ? `: ${event.detail}` : ''}`,
    });
  }
  if (event.kind === 'open' || event.kind === 'click') await recordEngagement(message, event);

  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const ledger = await readLedger(message);
    if (!ledger || (ledger.sesMessageId !== undefined && ledger.sesMessageId !== event.mail.messageId)) {
      return { outcome: 'unknown_recipient', message, ...(suppressed === undefined ? {} : { suppressed }) };
    }
    const items = plan(message, event, ledger);
    if (items.length === 0) return { outcome: 'repeat', message, ...(suppressed === undefined ? {} : { suppressed }) };
    await ensureStatsShard(message.tenantId, message.campaignId, campaignStatsShard(message.email));
    const result = await transact(items);
    if (!result.canceled) return { outcome: 'applied', message, ...(suppressed === undefined ? {} : { suppressed }) };
    const codes = result.data.map((d) => d.code);
    if (!codes.every((c) => c === 'None' || c === 'ConditionalCheckFailed' || c === 'TransactionConflict')) {
      throw new Error(`tracking transaction cancelled: ${codes.join(', ')}`);
    }
  }
  throw new Error(`ledger item of ${message.campaignId} kept changing while applying an SES ${event.kind} event`);
}
