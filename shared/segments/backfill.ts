import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient, tableName } from '../db/client.ts';
import { contactIndex } from '../db/keys.ts';
import { model } from '../db/store.ts';
import {
  asLiveDynamic,
  decide,
  type LiveDynamicSegment,
  mapLimited,
  readContact,
  readEngagement,
  type StoredContact,
} from './evaluation.ts';
import { applyMemberOps, SegmentChangedError, segmentKey } from './membership.ts';
import { timeDependence } from './schema.ts';
import { type BackfillState, readSegment, type StoredSegment } from './service.ts';

/**
 * The backfill of a dynamic segment, one evaluation at a time, as the steps of a Step Functions loop (infra/
 * constructs/segments.ts). Phase `contacts` pages through the tenant's live contacts (the name index, gsi4) and adds
 * those that match under the segment's current evaluation (or marks existing members with it); phase `members` then
 * pages through the segment's own partition and re-checks every member not marked with it (a contact that stopped
 * matching, was deleted or merged away), removing those that no longer match. A sweep (time windows) runs the same
 * loop under a new evaluation: only the members phase when matches can only lapse.
 *
 * Progress is kept on the segment (`backfill`: status, processed, matched, the phase, the page cursor, the run that
 * owns it), advanced by one write conditioned on the page it started from: a step retried after a crash finds its
 * page again and redoes it, and the member writes being conditional (see membership.ts), nothing counts twice.
 */

/** Contacts (or members) per step: one Lambda invocation each. */
export const BACKFILL_PAGE_SIZE = 500;
/** Reads in flight while a page is evaluated. */
const READ_CONCURRENCY = 25;

export interface BackfillInput {
  tenantId: string;
  segmentId: string;
  /** The execution's name: the run that owns the progress. */
  run: string;
  mode?: 'backfill' | 'sweep';
}

export interface BackfillStepState extends BackfillInput {
  evaluation?: number;
  decision: 'page' | 'done' | 'skip';
}

interface Progress extends BackfillState {
  page: number;
}

async function writeProgress(
  tenantId: string,
  segmentId: string,
  set: Record<string, unknown>,
  condition: string,
  values: Record<string, unknown>,
): Promise<boolean> {
  const names: Record<string, string> = {
    '#backfill': 'backfill',
    '#evaluation': 'evaluation',
    '#deletedAt': 'deletedAt',
    '#runId': 'runId',
    '#status': 'status',
    '#page': 'page',
  };
  const assignments = Object.keys(set).map((field, i) => {
    names[`#s${i}`] = field;
    return `#s${i} = :s${i}`;
  });
  const setValues = Object.fromEntries(Object.values(set).map((v, i) => [`:s${i}`, v]));
  // Only the names the expressions use may be sent.
  const expression = `${assignments.join(', ')} ${condition}`;
  for (const name of Object.keys(names)) if (!expression.includes(name)) delete names[name];
  try {
    await documentClient.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: segmentKey(tenantId, segmentId),
        UpdateExpression: `SET ${assignments.join(', ')}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ...setValues, ...values },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

const running = (evaluation: number, run: string, phase: Progress['phase']): Progress => ({
  status: 'running',
  evaluation,
  processed: 0,
  matched: 0,
  startedAt: new Date().toISOString(),
  runId: run,
  phase,
  cursor: null,
  page: 0,
});

/**
 * Claims the segment's current evaluation for this run (or, in sweep mode, starts a new evaluation and claims it).
 * A run that finds the progress already its own resumes it (the local cloud re-runs an interrupted execution under
 * its name); one that finds another run owning the evaluation stops: a redelivered event starts nothing twice.
 */
export async function startBackfill(input: BackfillInput): Promise<BackfillStepState> {
  const { tenantId, segmentId, run } = input;
  const segment = await readSegment(tenantId, segmentId);
  const live = segment ? asLiveDynamic(segment) : undefined;
  if (!segment || !live) return { ...input, decision: 'skip' };
  const current = segment.backfill as Progress | undefined;
  if (current?.runId === run) {
    return { ...input, evaluation: current.evaluation, decision: current.status === 'done' ? 'done' : 'page' };
  }
  if (input.mode === 'sweep') return startSweep(input, segment, live);
  const claimed = await writeProgress(
    tenantId,
    segmentId,
    { backfill: running(live.evaluation, run, 'contacts') },
    'attribute_exists(pk) AND attribute_not_exists(#deletedAt) AND #evaluation = :evaluation AND ' +
      '(attribute_not_exists(#backfill.#runId) OR #backfill.#evaluation <> :evaluation OR #backfill.#status = :failed)',
    { ':evaluation': live.evaluation, ':failed': 'failed' },
  );
  return { ...input, evaluation: live.evaluation, decision: claimed ? 'page' : 'skip' };
}

async function startSweep(
  input: BackfillInput,
  segment: StoredSegment,
  live: LiveDynamicSegment,
): Promise<BackfillStepState> {
  const dependence = timeDependence(live.filter);
  // A backfill still under way evaluates at the time it reaches each contact: no sweep on top of it.
  if (dependence === 'none' || segment.backfill?.status !== 'done') return { ...input, decision: 'skip' };
  const evaluation = live.evaluation + 1;
  // Lapsing windows can only end memberships: re-checking the members is enough. Entering ones need every contact.
  const phase = dependence === 'entering' ? 'contacts' : 'members';
  const claimed = await writeProgress(
    input.tenantId,
    input.segmentId,
    { evaluation, backfill: running(evaluation, input.run, phase) },
    'attribute_exists(pk) AND attribute_not_exists(#deletedAt) AND #evaluation = :current',
    { ':current': live.evaluation },
  );
  return { ...input, evaluation, decision: claimed ? 'page' : 'skip' };
}

interface PageResult {
  processed: number;
  matched: number;
  cursor: string | null;
}

async function contactsPage(
  tenantId: string,
  segment: LiveDynamicSegment,
  cursor: string | null,
  now: number,
): Promise<PageResult> {
  const result = await model.entities.contact.query
    .gsi4({ gsi4pk: contactIndex.name(tenantId) })
    .go({ limit: BACKFILL_PAGE_SIZE, cursor });
  const contacts = result.data as unknown as StoredContact[];
  const engagements = segment.readsEngagement
    ? await mapLimited(contacts, READ_CONCURRENCY, (c) => readEngagement(tenantId, c.contactId))
    : [];
  let matched = 0;
  const ops = contacts.flatMap((contact, i) => {
    // Only matches are written here: members that stopped matching are found in the members phase.
    const decision = decide(segment, contact.contactId, contact, engagements[i], undefined, 'backfill', now);
    if (!decision.matched) return [];
    matched += 1;
    return decision.op ? [decision.op] : [];
  });
  await applyMemberOps(tenantId, ops);
  return { processed: contacts.length, matched, cursor: result.cursor ?? null };
}

async function membersPage(
  tenantId: string,
  segment: LiveDynamicSegment,
  cursor: string | null,
  now: number,
): Promise<PageResult> {
  const result = await model.entities.segmentMember.query
    .byMember({ tenantId, segmentId: segment.segmentId })
    .go({ limit: BACKFILL_PAGE_SIZE, cursor });
  const stale = result.data.filter((m) => m.evaluation !== segment.evaluation);
  const decisions = await mapLimited(stale, READ_CONCURRENCY, async (member) => {
    const contact = await readContact(tenantId, member.contactId);
    const engagement =
      contact && segment.readsEngagement ? await readEngagement(tenantId, member.contactId) : undefined;
    return decide(segment, member.contactId, contact, engagement, undefined, 'backfill', now);
  });
  await applyMemberOps(
    tenantId,
    decisions.flatMap((d) => d.op ?? []),
  );
  return { processed: stale.length, matched: decisions.filter((d) => d.matched).length, cursor: result.cursor ?? null };
}

/**
 * One page of the run: evaluates it, then advances the progress with a write conditioned on the page number it
 * read. `skip` when the run was superseded (a newer evaluation, a deleted segment, another run).
 */
export async function backfillPage(state: BackfillStepState): Promise<BackfillStepState> {
  const { tenantId, segmentId, run } = state;
  const segment = await readSegment(tenantId, segmentId);
  const live = segment ? asLiveDynamic(segment) : undefined;
  const progress = segment?.backfill as Progress | undefined;
  if (!live || !progress || progress.runId !== run || live.evaluation !== state.evaluation) {
    return { ...state, decision: 'skip' };
  }
  if (progress.status === 'done') return { ...state, decision: 'done' };
  const now = Date.now();
  let page: PageResult;
  try {
    page =
      progress.phase === 'members'
        ? await membersPage(tenantId, live, progress.cursor ?? null, now)
        : await contactsPage(tenantId, live, progress.cursor ?? null, now);
  } catch (error) {
    // Edited or deleted mid-page: the newer evaluation has (or had) a run of its own.
    if (error instanceof SegmentChangedError) return { ...state, decision: 'skip' };
    throw error;
  }
  const finishedPhase = page.cursor === null;
  const done = finishedPhase && progress.phase === 'members';
  const next: Progress = {
    ...progress,
    // Both phases evaluate contacts: the members phase only those the contacts phase did not find matching.
    processed: progress.processed + page.processed,
    matched: progress.matched + page.matched,
    phase: finishedPhase ? 'members' : progress.phase,
    cursor: page.cursor,
    page: progress.page + 1,
    ...(done ? { status: 'done' as const, finishedAt: new Date().toISOString() } : {}),
  };
  await writeProgress(
    tenantId,
    segmentId,
    { backfill: next },
    '#backfill.#runId = :run AND #backfill.#page = :page AND #evaluation = :evaluation',
    { ':run': run, ':page': progress.page, ':evaluation': live.evaluation },
  );
  return { ...state, decision: done ? 'done' : 'page' };
}

/** The workflow's catch: the progress says the run failed (a later edit or restore starts a new one). */
export async function failBackfill(state: BackfillStepState, error: string): Promise<void> {
  const segment = await readSegment(state.tenantId, state.segmentId);
  const progress = segment?.backfill as Progress | undefined;
  if (!progress || progress.runId !== state.run || progress.status === 'done') return;
  await writeProgress(
    state.tenantId,
    state.segmentId,
    { backfill: { ...progress, status: 'failed', error: error.slice(0, 500), finishedAt: new Date().toISOString() } },
    '#backfill.#runId = :run',
    { ':run': state.run },
  );
}
