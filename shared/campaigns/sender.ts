import type { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { CAMPAIGN_STATS_SHARDS } from '../db/entities/campaign.ts';
import { campaignKeys } from '../db/keys.ts';
import { model, writeRecord } from '../db/store.ts';
import { DomainError } from '../errors.ts';
import { logger } from '../observability.ts';
import { type Ineligibility, marketingIneligibility } from '../subscriptions/eligibility.ts';
import { unsubscribeLinks } from '../subscriptions/links.ts';
import { suppressedAmong } from '../suppression/store.ts';
import { type MergeContact, mergeContextsFor } from '../templates/merge-context.ts';
import { type MergeContext, renderTemplate, templateFieldErrors } from '../templates/render.ts';
import { SES_REJECTIONS, sendMarketingEmail } from '../templates/sender.ts';
import { ensureStatsShard } from '../tracking/apply.ts';
import { trackingTags } from '../tracking/ses-events.ts';
import { recordRecipient, releaseRecipient, settleRecipient } from './ledger.ts';
import { type BackoffOptions, type Clock, isThrottle, realClock, type TokenBucket, withThrottleRetry } from './rate.ts';
import type { SkipReason } from './schema.ts';
import { readCampaign, type SendProgress, type StoredCampaign } from './service.ts';

/**
 * The campaign send workflow's steps (Step Functions: Start → SendBatch loop → Finish, any error → Fail). The
 * workflow's state carries ids only; where the send stands is the campaign's `progress` (which audience source,
 * and the ElectroDB cursor in it), written after each page, so a retried batch or a resumed run goes on from there.
 *
 * Per page of members: the contacts are read in one BatchGetItem; each address is processed once (two contacts
 * sharing an address: the first sendable one); recipients are skipped, in this order, when deleted or without an
 * address, excluded (a member of an excluded segment or list), unconsented or unsubscribed (at send time,
 * shared/subscriptions/eligibility.ts) or suppressed (shared/suppression/store.ts). Every processed address gets
 * a ledger item (CampaignRecipientEntity), created (must be new) in the same transaction as its counters, so a
 * counter is added exactly once per address however often a page is redone. A sendable one is CLAIMED before SES is
 * called (once its token of the rate is in hand), then moved claimed → sent with SES's id and sent=1 in one
 * transaction; a claim whose answer was lost stays claimed and is never sent again (at most once).
 */

export const PAGE_SIZE = 100;
const ACTOR = 'campaign-send';

/** A ledger key for a recipient without an address (a contact gone or without email): never a real address. */
export const addressless = (contactId: string) => `contact:${contactId}`;

export interface RunInput {
  tenantId: string;
  campaignId: string;
  run: number;
  /** The Step Functions execution's name: who owns the send. */
  execution: string;
}

export interface RunState extends RunInput {
  /** Start: whether this execution owns the run (false: stale, a duplicate start, or cancelled meanwhile). */
  proceed?: boolean;
  /** SendBatch: the send stopped (every page done, paused, cancelled, or taken over). */
  done?: boolean;
  /** Why it stopped: finished | paused | cancelled | superseded | <status>. */
  outcome?: string;
}

export interface SesSender {
  send: (command: SendEmailCommand) => Promise<{ MessageId?: string | undefined }>;
}

export interface SendDeps {
  ses: SesSender;
  bucket: TokenBucket;
  /** Sends in flight at once (within the bucket's rate). */
  concurrency: number;
  /** Members per page (PAGE_SIZE unless given: BatchGetItem's 100 keys). */
  pageSize?: number;
  backoff?: BackoffOptions;
  clock?: Clock;
}

/** A batch stops taking pages after this long, so an invocation ends well within its timeout. */
export interface BatchBudget {
  maxMs: number;
}

/** Thrown out of a batch when a page could not be completed (throttled past its retries, or SES's answer lost): the
 * workflow retries the batch with backoff, and the ledger makes the redone page send nobody twice. */
export class SendInterruptedError extends Error {
  override name = 'CampaignSendInterrupted';
}

// ---- small DynamoDB helpers ------------------------------------------------------------------------------------

type BatchEntity = {
  get(keys: Array<Record<string, string>>): {
    go(o?: Record<string, unknown>): Promise<{ data: unknown[]; unprocessed: Array<Record<string, string>> }>;
  };
};

/** BatchGetItem, 100 keys a call, unprocessed keys asked again with backoff (never silently missing). */
async function batchGet<T>(entity: BatchEntity, keys: Array<Record<string, string>>): Promise<T[]> {
  const found: T[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    let pending = keys.slice(i, i + 100);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 5) throw new Error(`BatchGetItem: ${pending.length} keys stayed unprocessed`);
      if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      const { data, unprocessed } = await entity.get(pending).go();
      found.push(...(data as T[]));
      pending = unprocessed;
    }
  }
  return found;
}

// ---- the campaign's own writes ---------------------------------------------------------------------------------

class Raced extends Error {}

/** A status change of the campaign: a Put conditioned on the version read (keys rebuilt: gsi2 is by status). */
async function rewrite(previous: StoredCampaign, changes: Partial<StoredCampaign>): Promise<StoredCampaign> {
  const next = {
    ...previous,
    ...changes,
    version: previous.version + 1,
    updatedAt: new Date().toISOString(),
    updatedBy: ACTOR,
  } as unknown as StoredCampaign & { sortName: string };
  await writeRecord({
    entity: 'campaign',
    item: { ...next, ...campaignKeys(next) },
    expectedVersion: previous.version,
    onVersionConflict: () => new Raced() as unknown as DomainError,
  });
  return next;
}

/** Re-reads and re-decides on a concurrent change (a pause, a cancel) until the write lands or nothing is left. */
async function withCampaign<T>(
  input: RunInput,
  decide: (campaign: StoredCampaign | undefined) => Promise<T>,
  attempts = 5,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const campaign = await readCampaign(input.tenantId, input.campaignId);
    try {
      return await decide(campaign && !campaign.deletedAt ? campaign : undefined);
    } catch (error) {
      if (!(error instanceof Raced) || attempt >= attempts) throw error;
    }
  }
}

const owns = (campaign: StoredCampaign, state: RunInput) =>
  campaign.executionName === state.execution && campaign.executionRun === state.run;

/** The audience's sources in send order: segments, then lists. */
export const sourcesOf = (campaign: StoredCampaign) => [...campaign.audience.segmentIds, ...campaign.audience.listIds];

// ---- steps ------------------------------------------------------------------------------------------------------

/**
 * Start: this execution takes the run if the campaign is scheduled for it (or resumed into it) and nobody took it
 * yet; a retried Start of the same execution finds it its own. Snapshots the template into `content` (once: a
 * resumed run sends what the first did) and makes the stats shards, so senders and tracking can ADD to them.
 */
export async function startRun(input: RunInput): Promise<RunState> {
  return withCampaign(input, async (campaign) => {
    if (!campaign || campaign.run !== input.run) return { ...input, proceed: false, outcome: 'stale' };
    if (owns(campaign, input) && campaign.status === 'sending') return { ...input, proceed: true };
    const resumed = campaign.status === 'sending' && (campaign.executionRun ?? 0) < input.run;
    if (campaign.status !== 'scheduled' && !resumed) {
      return { ...input, proceed: false, outcome: campaign.executionRun === input.run ? 'duplicate' : campaign.status };
    }
    let content = campaign.content;
    if (!content) {
      const { data: template } = await model.entities.emailTemplate
        .get({ tenantId: input.tenantId, templateId: campaign.templateId })
        .go({ consistent: true });
      const problems = template && !template.deletedAt ? templateFieldErrors(template) : [];
      if (!template || template.deletedAt || problems.length > 0) {
        const failure = !template || template.deletedAt ? 'The template was deleted.' : problems[0]!.message;
        await rewrite(campaign, { status: 'failed', failure: `Not started: ${failure}`.slice(0, 1000) });
        return { ...input, proceed: false, outcome: 'failed' };
      }
      content = {
        subject: template.subject,
        ...(template.html !== undefined ? { html: template.html } : {}),
        ...(template.text !== undefined ? { text: template.text } : {}),
      };
    }
    await Promise.all(
      Array.from({ length: CAMPAIGN_STATS_SHARDS }, (_, shard) =>
        ensureStatsShard(input.tenantId, input.campaignId, shard),
      ),
    );
    const now = new Date().toISOString();
    await rewrite(campaign, {
      status: 'sending',
      executionName: input.execution,
      executionRun: input.run,
      content,
      startedAt: campaign.startedAt ?? now,
      progress: campaign.progress ?? { source: 0, cursor: null },
    });
    return { ...input, proceed: true };
  });
}

/** Where the send stands, written after each page by the owning execution only (no version bump, no event). */
async function saveProgress(state: RunInput, progress: SendProgress): Promise<boolean> {
  try {
    await model.entities.campaign
      .patch({ tenantId: state.tenantId, campaignId: state.campaignId })
      .set({ progress })
      .where((attr, op) => `${op.eq(attr.executionName, state.execution)} AND ${op.eq(attr.executionRun, state.run)}`)
      .go({ response: 'none' });
    return true;
  } catch (error) {
    if ((error as { cause?: { name?: string } }).cause?.name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}

/**
 * SendBatch: pages through the audience from `progress` until every source is done, the budget is spent, or the
 * campaign is no longer this execution's to send (paused, cancelled, or a newer run took over; checked before
 * every page). Returns `done` with the outcome, or not done to be called again.
 *
 * The sends flow across pages: the next page is read and decided while the current one sends, and its first sends
 * start as soon as the current page's last ones have started (not finished), so the rate is kept at page edges.
 * Progress is saved in page order, each page once all its sends finished; a page with an interrupted send saves
 * nothing (it and the pages after it are redone, and the ledger sends nobody twice).
 */
export async function sendBatch(state: RunState, deps: SendDeps, budget: BatchBudget): Promise<RunState> {
  const clock = deps.clock ?? realClock;
  const started = clock.now();
  const sends = new SendLanes(deps.concurrency);
  /** Every page's completion and progress save, chained in page order; false once the run was taken over. */
  let saved: Promise<boolean> = Promise.resolve(true);
  let position: SendProgress | undefined;
  let ahead: Promise<PreparedPage> | undefined;
  let pages = 0;
  let redo = false;
  const stop = async (outcome: RunState): Promise<RunState> => {
    await sends.drained();
    const owned = await saved;
    if (sends.interrupted !== undefined) throw sends.interrupted;
    return owned ? outcome : { ...state, done: true, outcome: 'superseded' };
  };
  for (;;) {
    if (pages > 0 && clock.now() - started >= budget.maxMs) return stop({ ...state, done: false });
    if (sends.interrupted !== undefined) return stop(state);
    const campaign = await readCampaign(state.tenantId, state.campaignId);
    if (!campaign || campaign.deletedAt) return stop({ ...state, done: true, outcome: 'deleted' });
    if (!owns(campaign, state)) return stop({ ...state, done: true, outcome: 'superseded' });
    if (campaign.status !== 'sending') return stop({ ...state, done: true, outcome: campaign.status });
    position ??= campaign.progress ?? { source: 0, cursor: null };
    const sources = sourcesOf(campaign);
    if (position.done || sources[position.source] === undefined) {
      const last = await stop({ ...state, done: true, outcome: 'finished' });
      if (last.outcome === 'finished' && !position.done) {
        await saveProgress(state, { source: position.source, done: true });
      }
      return last;
    }

    const page = await (ahead ?? preparePage(campaign, position, deps));
    ahead = undefined;
    pages++;
    position = page.next;
    if (sources[page.next.source] !== undefined) {
      ahead = preparePage(campaign, page.next, deps);
      ahead.catch(() => undefined); // awaited on the next turn, or dropped when the batch stops first
    }
    const { finished } = await startPage(campaign, page, deps, state.run, sends);
    saved = saved.then(async (owned) => {
      const result = await finished;
      if (result === undefined) redo = true; // this page is redone, so no later page may move progress past it
      if (!owned || redo) return owned;
      logger.info('campaign page', { source: page.at.source, ...result });
      return saveProgress(state, page.next);
    });
  }
}

/** Finish: the campaign is sent (only by the execution that owns it, and only once every page is done). */
export async function finishRun(state: RunState): Promise<RunState> {
  return withCampaign(state, async (campaign) => {
    if (!campaign || !owns(campaign, state) || campaign.status !== 'sending' || !campaign.progress?.done) {
      return { ...state, outcome: 'left alone' };
    }
    await rewrite(campaign, { status: 'sent', finishedAt: new Date().toISOString() });
    return { ...state, outcome: 'sent' };
  });
}

/** Fail: an error the retries did not overcome; the campaign is failed with the cause (resumable). */
export async function failRun(state: RunState & { error?: { Error?: string; Cause?: string } }): Promise<RunState> {
  const cause = [state.error?.Error, state.error?.Cause].filter(Boolean).join(': ') || 'unknown error';
  return withCampaign(state, async (campaign) => {
    if (!campaign || campaign.run !== state.run) return { ...state, outcome: 'left' };
    if (campaign.status === 'sending' && !owns(campaign, state)) return { ...state, outcome: 'left' };
    if (campaign.status !== 'sending' && campaign.status !== 'scheduled') return { ...state, outcome: 'left' };
    await rewrite(campaign, { status: 'failed', failure: cause.slice(0, 1000) });
    return { ...state, outcome: 'failed' };
  });
}

// ---- one page ---------------------------------------------------------------------------------------------------

export interface PageResult {
  /** Addresses new to the ledger, by what happened to them. */
  sent: number;
  failed: number;
  skipped: number;
  /** Already in the ledger (an earlier attempt or run), or another contact's address on the same page. */
  repeated: number;
}

type PageContact = MergeContact & {
  consent?: { email?: string };
  subscriptions?: Record<string, { status?: string }>;
};

interface Decision {
  contactId: string;
  email: string;
  contact?: PageContact;
  skip?: SkipReason;
}

/** Which of `contactIds` are members of any of the excluded segments or lists: BatchGetItem of membership keys. */
async function excludedAmong(
  tenantId: string,
  excludeIds: readonly string[],
  contactIds: readonly string[],
): Promise<Set<string>> {
  if (excludeIds.length === 0 || contactIds.length === 0) return new Set();
  const keys = excludeIds.flatMap((segmentId) => contactIds.map((contactId) => ({ tenantId, segmentId, contactId })));
  const members = await batchGet<{ contactId: string }>(model.entities.segmentMember as unknown as BatchEntity, keys);
  return new Set(members.map((m) => m.contactId));
}

/** Decides every member of the page: skipped with its reason, or to send; one decision per address. */
async function decide(
  campaign: StoredCampaign,
  contactIds: readonly string[],
): Promise<{ decisions: Decision[]; sharedAddresses: number }> {
  const { tenantId } = campaign;
  const unique = [...new Set(contactIds)];
  const contacts = await batchGet<PageContact>(
    model.entities.contact as unknown as BatchEntity,
    unique.map((contactId) => ({ tenantId, contactId })),
  );
  const byId = new Map(contacts.map((c) => [c.contactId, c]));
  const excluded = await excludedAmong(
    tenantId,
    [...campaign.audience.excludeSegmentIds, ...campaign.audience.excludeListIds],
    unique,
  );
  const decisions: Decision[] = unique.map((contactId) => {
    const contact = byId.get(contactId);
    if (!contact) return { contactId, email: addressless(contactId), skip: 'deleted' };
    const email = contact.emails?.[0]?.trim().toLowerCase();
    const ineligible: Ineligibility | undefined = marketingIneligibility(contact, campaign.categoryId);
    if (!email) return { contactId, email: addressless(contactId), skip: 'no_email' };
    if (ineligible === 'deleted') return { contactId, email, skip: 'deleted' };
    if (excluded.has(contactId)) return { contactId, email, skip: 'excluded' };
    if (ineligible) return { contactId, email, contact, skip: ineligible };
    return { contactId, email, contact };
  });
  const suppressed = await suppressedAmong(
    tenantId,
    decisions.filter((d) => !d.skip).map((d) => d.email),
  );
  for (const d of decisions) if (!d.skip && suppressed.has(d.email)) d.skip = 'suppressed';
  // One decision per address: a sendable contact wins over skipped ones sharing its address.
  const byAddress = new Map<string, Decision>();
  for (const d of decisions) {
    const held = byAddress.get(d.email);
    if (!held || (held.skip && !d.skip)) byAddress.set(d.email, d);
  }
  return { decisions: [...byAddress.values()], sharedAddresses: decisions.length - byAddress.size };
}

const key = (campaign: StoredCampaign, email: string) => ({
  tenantId: campaign.tenantId,
  campaignId: campaign.campaignId,
  email,
});

/** A new ledger item and its counters, together; false when the address is already in the ledger. */
const record = (
  campaign: StoredCampaign,
  d: Decision,
  item: Record<string, unknown> & { state: string },
  counts = {},
) => recordRecipient(key(campaign, d.email), { contactId: d.contactId, ...item }, counts);
const settle = (
  campaign: StoredCampaign,
  email: string,
  set: Record<string, unknown> & { state: 'sent' | 'failed' },
  counts: Record<string, number>,
) => settleRecipient(key(campaign, email), set, counts);

/** SES refused this message for good (its address, its content, the sender): nothing was sent. */
function isPermanentRefusal(error: unknown): boolean {
  const e = error as { name?: string; $fault?: string };
  if (isThrottle(error)) return false;
  return SES_REJECTIONS.has(e.name ?? '') || e.$fault === 'client';
}

type Outcome = keyof PageResult;

async function sendOne(
  campaign: StoredCampaign,
  d: Decision & { context: MergeContext },
  deps: SendDeps,
  run: number,
): Promise<Outcome> {
  const { tenantId, campaignId } = campaign;
  const links = await unsubscribeLinks({
    tenantId,
    contactId: d.contactId,
    campaignId,
    ...(campaign.categoryId ? { categoryId: campaign.categoryId } : {}),
  });
  let rendered: { subject: string; html?: string; text?: string };
  try {
    rendered = await renderTemplate(campaign.content!, d.context, {
      links: { unsubscribeUrl: links.oneClickUrl, preferencesUrl: links.preferencesUrl },
    });
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    const stored = await record(
      campaign,
      d,
      { state: 'failed', run, error: error.message.slice(0, 1000) },
      { failed: 1 },
    );
    return stored ? 'failed' : 'repeated';
  }
  // The token first, then the claim: a claim lives only for its SES call, so a crash leaves in doubt only the sends
  // SES was answering, never the ones still waiting for the rate.
  await deps.bucket.take();
  const claimedAt = new Date().toISOString();
  if (!(await record(campaign, d, { state: 'claimed', run, claimedAt }, {}))) {
    deps.bucket.giveBack();
    return 'repeated';
  }

  const mail = {
    from: campaign.from,
    to: d.email,
    replyTo: campaign.replyTo,
    content: rendered,
    headers: { ...links.headers },
    tags: trackingTags({ tenantId, campaignId, contactId: d.contactId, email: d.email }),
  };
  let messageId: string | undefined;
  try {
    messageId = await withThrottleRetry(
      () => sendMarketingEmail(deps.ses as SESv2Client, mail),
      deps.bucket,
      deps.backoff,
      deps.clock,
      true,
    );
  } catch (error) {
    if (isThrottle(error)) {
      await releaseRecipient(key(campaign, d.email), run);
      throw new SendInterruptedError(`SES kept throttling: ${(error as Error).message}`);
    }
    if (isPermanentRefusal(error)) {
      await settle(
        campaign,
        d.email,
        { state: 'failed', error: String((error as Error).message).slice(0, 1000) },
        {
          failed: 1,
        },
      );
      return 'failed';
    }
    // The answer was lost (a timeout, a 5xx): SES may have sent it. Left claimed, never sent again.
    logger.warn('send in doubt: left claimed', { email: d.email, error: (error as Error).message });
    throw new SendInterruptedError(`SES's answer was lost: ${(error as Error).message}`);
  }
  await settle(
    campaign,
    d.email,
    { state: 'sent', sesMessageId: messageId, sentAt: new Date().toISOString() },
    {
      sent: 1,
    },
  );
  return 'sent';
}

/** A page of members, read and decided (reads only), ready to send. */
interface PreparedPage extends Prepared {
  /** Where the page starts, and where the send stands once it is done. */
  at: SendProgress;
  next: SendProgress;
}

interface Prepared {
  decisions: Decision[];
  sharedAddresses: number;
  contexts: Map<string, MergeContext>;
}

async function prepare(campaign: StoredCampaign, contactIds: readonly string[]): Promise<Prepared> {
  const { decisions, sharedAddresses } = await decide(campaign, contactIds);
  const contexts = await mergeContextsFor(
    campaign.tenantId,
    decisions.filter((d) => !d.skip).map((d) => d.contact!),
  );
  return { decisions, sharedAddresses, contexts };
}

async function preparePage(campaign: StoredCampaign, at: SendProgress, deps: SendDeps): Promise<PreparedPage> {
  const page = await model.entities.segmentMember.query
    .byMember({ tenantId: campaign.tenantId, segmentId: sourcesOf(campaign)[at.source]! })
    .go({ limit: deps.pageSize ?? PAGE_SIZE, cursor: at.cursor ?? null, consistent: true });
  const prepared = await prepare(
    campaign,
    page.data.map((m) => m.contactId),
  );
  const next = page.cursor ? { source: at.source, cursor: page.cursor } : { source: at.source + 1, cursor: null };
  return { ...prepared, at, next };
}

/**
 * Sends in flight, at most `limit` at once, across pages. The first interrupted send (throttled past its retries,
 * or its answer lost) stops new ones from starting; the ones in flight still complete.
 */
class SendLanes {
  interrupted: unknown;
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly limit: number) {}

  /** Starts `work` once a lane is free (undefined, nothing started, once a send was interrupted). */
  async start(work: () => Promise<void>): Promise<{ done: Promise<void> } | undefined> {
    while (this.running >= Math.max(1, this.limit)) await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (this.interrupted !== undefined) return undefined;
    this.running++;
    const done = work()
      .catch((error) => {
        this.interrupted ??= error;
      })
      .finally(() => {
        this.running--;
        this.inFlight.delete(done);
        this.waiting.shift()?.();
      });
    this.inFlight.add(done);
    return { done };
  }

  async drained(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }
}

/**
 * Records the page's skips, then starts its sends through the lanes. Resolves once every send has started, with
 * `finished`: the page's result once they all ended (undefined when one was interrupted: the page is to be redone).
 */
async function startPage(
  campaign: StoredCampaign,
  page: Prepared,
  deps: SendDeps,
  run: number,
  lanes: SendLanes,
): Promise<{ finished: Promise<PageResult | undefined> }> {
  const result: PageResult = { sent: 0, failed: 0, skipped: 0, repeated: page.sharedAddresses };
  await Promise.all(
    page.decisions
      .filter((d) => d.skip)
      .map(async (d) => {
        const stored = await record(
          campaign,
          d,
          { state: 'skipped', reason: d.skip, run },
          {
            [`skipped_${d.skip}`]: 1,
          },
        );
        result[stored ? 'skipped' : 'repeated']++;
      }),
  );
  let interrupted = false;
  const started: Array<Promise<void>> = [];
  for (const d of page.decisions) {
    if (d.skip) continue;
    const context = page.contexts.get(d.contactId) ?? { contact: {} };
    const send = await lanes.start(async () => {
      try {
        result[await sendOne(campaign, { ...d, context }, deps, run)]++;
      } catch (error) {
        interrupted = true; // a claim left in doubt included: the page is redone, and the ledger keeps the claim
        throw error;
      }
    });
    if (!send) {
      interrupted = true;
      break;
    }
    started.push(send.done);
  }
  return { finished: Promise.all(started).then(() => (interrupted ? undefined : result)) };
}

/**
 * Processes one page of members (see the module comment): its sends run `deps.concurrency` at a time within the
 * bucket's rate. If a send is interrupted (throttled past its retries, or its answer lost), the page's other sends
 * still complete, then the error is thrown: the page is redone by the retried batch.
 */
export async function sendPage(
  campaign: StoredCampaign,
  contactIds: readonly string[],
  deps: SendDeps,
  run: number,
): Promise<PageResult> {
  const lanes = new SendLanes(deps.concurrency);
  const { finished } = await startPage(campaign, await prepare(campaign, contactIds), deps, run, lanes);
  const result = await finished;
  await lanes.drained();
  if (lanes.interrupted !== undefined) throw lanes.interrupted;
  return result!;
}
