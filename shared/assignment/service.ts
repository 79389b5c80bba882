import { createHash } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Principal } from '../auth/principal.ts';
import { documentClient } from '../db/client.ts';
import { replaceDocument } from '../db/documents.ts';
import { model } from '../db/store.ts';
import { PreconditionFailedError } from '../errors.ts';
import type { VersionPrecondition } from '../http/request.ts';
import { logger, metrics } from '../observability.ts';
import { getTeamRoster, type TeamMember } from '../teams/members.ts';
import { firstMatchingRule } from './rules.ts';
import type { AssignmentRulesPutInput, AssignmentRulesView, AssignmentRuleView, AssignmentSubject } from './schema.ts';

/**
 * Rules are read whenever a record is created without an owner, so each container keeps them briefly: a change
 * applies at once in the container that made it and within RULES_CACHE_MS everywhere else.
 */
export const RULES_CACHE_MS = 30_000;
const CACHE_MAX_TENANTS = 1_000;
const cache = new Map<string, { rules: AssignmentRuleView[]; expires: number }>();

function remember(tenantId: string, rules: AssignmentRuleView[]): void {
  cache.delete(tenantId);
  if (cache.size >= CACHE_MAX_TENANTS) cache.delete(cache.keys().next().value!);
  cache.set(tenantId, { rules, expires: Date.now() + RULES_CACHE_MS });
}

/** The tenant's rules (none, version 0, when never set): one GetItem. */
export async function getAssignmentRules(tenantId: string): Promise<AssignmentRulesView> {
  const { data } = await model.entities.assignmentRules.get({ tenantId }).go();
  const epoch = new Date(0).toISOString();
  const view: AssignmentRulesView = data
    ? (({ tenantId: _t, ...rest }) => rest as AssignmentRulesView)(data)
    : { rules: [], version: 0, createdAt: epoch, updatedAt: epoch };
  remember(tenantId, view.rules);
  return view;
}

async function cachedRules(tenantId: string): Promise<AssignmentRuleView[]> {
  const cached = cache.get(tenantId);
  if (cached && cached.expires > Date.now()) return cached.rules;
  return (await getAssignmentRules(tenantId)).rules;
}

/** Replaces the whole ordered list, conditioned on the version read (If-Match makes it explicit). */
export async function putAssignmentRules(
  principal: Principal,
  input: AssignmentRulesPutInput,
  ifMatch: VersionPrecondition | undefined,
): Promise<AssignmentRulesView> {
  const { tenantId } = principal;
  const current = await getAssignmentRules(tenantId);
  if (ifMatch && !ifMatch.matches(current.version)) throw new PreconditionFailedError('assignmentRules', tenantId);
  const next = await replaceDocument({
    entity: 'assignmentRules',
    tenantId,
    current,
    values: { rules: input.rules },
    actorId: principal.userId,
    conflict: () => new PreconditionFailedError('assignmentRules', tenantId),
  });
  remember(tenantId, next.rules);
  return next;
}

export const rotationCounter = (ruleId: string) => `rotation#${ruleId}`;

/**
 * What a load counter counts: `records` the open contacts, leads and deals a user owns (sales assignment); `tickets`
 * the unresolved tickets assigned to them (ticket routing's least busy). Kept apart so an agent's contacts do not
 * make them look busy on tickets.
 */
export type LoadKind = 'records' | 'tickets';
export const loadCounter = (userId: string, kind: LoadKind = 'records') =>
  kind === 'tickets' ? `load#ticket#${userId}` : `load#${userId}`;

/** A user's open load as assignment counts it (records assigned and not yet closed, deleted or reassigned). */
export async function openLoad(tenantId: string, userId: string, kind: LoadKind = 'records'): Promise<number> {
  const { data } = await model.entities.assignmentCounter.get({ tenantId, counterId: loadCounter(userId, kind) }).go();
  return data?.value ?? 0;
}

function counterUpdate(tenantId: string, counterId: string, by: number) {
  return model.entities.assignmentCounter
    .update({ tenantId, counterId })
    .add({ value: by })
    .set({ updatedAt: new Date().toISOString() });
}

/** ADD `by` to a counter (created at 0 when missing) and return the new value: one UpdateItem, atomic. */
export async function addToCounter(tenantId: string, counterId: string, by: number): Promise<number> {
  const { data } = await counterUpdate(tenantId, counterId, by).go({ response: 'updated_new' });
  return Number((data as { value?: number }).value ?? 0);
}

/**
 * ADD 1 to a user's load only if the condition on its current value holds: it is at most `atMost` (least loaded:
 * the minimum the chooser saw) or under `capacity`. Returns true, or the value found instead
 * (ReturnValuesOnConditionCheckFailure, so a lost race costs no extra read).
 */
async function claimLoad(
  tenantId: string,
  userId: string,
  bound: { atMost: number } | { under: number },
  kind: LoadKind,
): Promise<true | number> {
  const params = counterUpdate(tenantId, loadCounter(userId, kind), 1)
    .where((attr, op) =>
      'atMost' in bound
        ? `${op.notExists(attr.value)} OR ${op.lte(attr.value, bound.atMost)}`
        : `${op.notExists(attr.value)} OR ${op.lt(attr.value, bound.under)}`,
    )
    .params() as UpdateCommandInput;
  try {
    await documentClient.send(
      new UpdateCommand({ ...params, ReturnValues: 'NONE', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
    );
    return true;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return Number(error.Item?.value?.N ?? 0);
  }
}

/** Members who may be given a record now: available, and under their capacity when they have one. */
function eligibleMembers(members: TeamMember[], loads: Map<string, number>): TeamMember[] {
  return members
    .filter((m) => m.availability === 'available')
    .filter((m) => m.capacity === undefined || (loads.get(m.userId) ?? 0) < m.capacity)
    .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
}

/** The members' loads, read only when a capacity or the method needs them (one GetItem each, in parallel). */
async function loadsOf(
  tenantId: string,
  members: TeamMember[],
  needed: boolean,
  kind: LoadKind = 'records',
): Promise<Map<string, number>> {
  if (!needed) return new Map();
  const values = await Promise.all(members.map((m) => openLoad(tenantId, m.userId, kind)));
  return new Map(members.map((m, i) => [m.userId, values[i]!]));
}

/** How many times a least-loaded chooser tries again after losing a race, before taking the minimum it last saw. */
const MAX_CLAIM_ATTEMPTS = 100;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Least loaded: the member with the fewest open records, claimed with a conditional ADD that holds only if their
 * load is still at most the minimum the chooser saw. Loads only grow while records are being assigned, so a claim
 * that succeeds lands on a member who is at the minimum at that instant: concurrent choosers spread out instead of
 * all taking the same member, and while no record is closed the eligible members' loads never differ by more than
 * 1. A chooser that loses re-reads the loads and tries again (ties broken at random, a short random pause); after
 * MAX_CLAIM_ATTEMPTS it takes the minimum it last saw without the condition (logged), the one case the bound can
 * be exceeded.
 */
async function chooseLeastLoaded(
  tenantId: string,
  ruleId: string,
  members: TeamMember[],
  initial: Map<string, number>,
  kind: LoadKind,
): Promise<string | undefined> {
  let loads = initial;
  for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
    const eligible = eligibleMembers(members, loads);
    if (eligible.length === 0) return undefined;
    const least = Math.min(...eligible.map((m) => loads.get(m.userId) ?? 0));
    const tied = eligible.filter((m) => (loads.get(m.userId) ?? 0) === least);
    const pick = tied[Math.floor(Math.random() * tied.length)]!;
    const bound = pick.capacity === undefined ? { atMost: least } : { atMost: Math.min(least, pick.capacity - 1) };
    if ((await claimLoad(tenantId, pick.userId, bound, kind)) === true) return pick.userId;
    await pause(Math.random() * Math.min(20, 2 * (attempt + 1)));
    loads = await loadsOf(tenantId, members, true, kind);
  }
  const eligible = eligibleMembers(members, loads);
  if (eligible.length === 0) return undefined;
  logger.warn('least-loaded assignment kept losing races; taking the last known minimum', { tenantId, ruleId });
  metrics.addMetric('AssignmentClaimContention', MetricUnit.Count, 1);
  const least = eligible.reduce((a, b) => ((loads.get(a.userId) ?? 0) <= (loads.get(b.userId) ?? 0) ? a : b));
  await addToCounter(tenantId, loadCounter(least.userId, kind), 1);
  return least.userId;
}

/** How long a request's turn is remembered: as long as its Idempotency-Key is honoured (and a margin). */
const TURN_TTL_SECONDS = 25 * 60 * 60;

/**
 * When a first attempt that claimed a turn without recording its number is known to be dead: the API functions'
 * timeout (10 s) after its claim, plus a margin, since Lambda has stopped it by then. A duplicate waits until that
 * moment (counted from the claim, not from its own start) before taking the turn over; waiting less would take a
 * second number for a first attempt that is merely slow, and leave a hole in the rotation.
 */
const TURN_TAKEOVER_MS = 15_000;

const isConditionalFailure = (error: unknown) =>
  error instanceof ConditionalCheckFailedException ||
  (error as { cause?: { name?: string } }).cause?.name === 'ConditionalCheckFailedException';

/**
 * The rotation number for one create: a fresh atomic ADD on the rule's rotation counter, or, for a request retried
 * with the same Idempotency-Key (a client retrying after a timeout, a duplicate in flight), the number its first
 * attempt took. The first attempt claims a marker under a hash of the key before taking its number and records the
 * number in it; a repeat finds the marker and waits for the number (taking over if the first attempt died in
 * between). Without this, an attempt that died after taking its turn, or a duplicate, would leave a hole in the
 * rotation and one member a record short.
 */
async function takeTurn(
  tenantId: string,
  ruleId: string,
  requestKey: string | undefined,
): Promise<{ n: number; repeated: boolean }> {
  if (!requestKey) return { n: await addToCounter(tenantId, rotationCounter(ruleId), 1), repeated: false };
  const counterId = `turn#${ruleId}#${createHash('sha256').update(requestKey).digest('base64url')}`;
  const turns = model.entities.assignmentCounter;
  const marker = async () => (await turns.get({ tenantId, counterId }).go()).data;
  // Records the number unless another attempt of the request did first (then this one's number is not used).
  const record = async (): Promise<number | undefined> => {
    const n = await addToCounter(tenantId, rotationCounter(ruleId), 1);
    try {
      await turns
        .update({ tenantId, counterId })
        .set({ value: n, updatedAt: new Date().toISOString() })
        .where((attr, op) => op.notExists(attr.value))
        .go();
      return n;
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
      return undefined;
    }
  };
  const ttl = Math.floor(Date.now() / 1000) + TURN_TTL_SECONDS;
  try {
    await turns.create({ tenantId, counterId, ttl, updatedAt: new Date().toISOString() }).go();
    const n = await record();
    if (n !== undefined) return { n, repeated: false };
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
  }
  for (;;) {
    const earlier = await marker();
    if (earlier?.value !== undefined && earlier.value !== null) return { n: earlier.value, repeated: true };
    const claimedAt = ((earlier?.ttl ?? ttl) - TURN_TTL_SECONDS) * 1000;
    if (Date.now() > claimedAt + TURN_TAKEOVER_MS) break;
    await pause(25 + Math.random() * 25);
  }
  // The first attempt claimed the turn and died before taking a number: take one for it, once.
  const n = await record();
  if (n !== undefined) return { n, repeated: false };
  return { n: (await marker())?.value ?? 0, repeated: true };
}

/**
 * Round robin: the create's rotation number n (see takeTurn) picks eligible[(n - 1) mod count], so concurrent
 * creates spread exactly evenly while the eligible set stays the same. A member with a capacity is then claimed
 * conditionally (load under capacity), so concurrent creates cannot push them past it; if they just reached it, they
 * leave the eligible set and the next turn is taken. A repeated request adds no load again.
 */
async function chooseRoundRobin(
  tenantId: string,
  ruleId: string,
  members: TeamMember[],
  loads: Map<string, number>,
  requestKey: string | undefined,
  kind: LoadKind,
): Promise<{ userId: string; loadAdded: boolean } | undefined> {
  for (let attempt = 0; attempt <= members.length; attempt++) {
    const eligible = eligibleMembers(members, loads);
    if (eligible.length === 0) return undefined;
    const { n, repeated } = await takeTurn(tenantId, ruleId, attempt === 0 ? requestKey : undefined);
    const member = eligible[(((n - 1) % eligible.length) + eligible.length) % eligible.length]!;
    if (repeated) return { userId: member.userId, loadAdded: false };
    if (member.capacity === undefined) {
      await addToCounter(tenantId, loadCounter(member.userId, kind), 1);
      return { userId: member.userId, loadAdded: true };
    }
    const claimed = await claimLoad(tenantId, member.userId, { under: member.capacity }, kind);
    if (claimed === true) return { userId: member.userId, loadAdded: true };
    loads.set(member.userId, claimed);
  }
  return undefined;
}

/**
 * One of `members` (already filtered to those who may take work) by `method`, its load counted under `kind`:
 * roundRobin takes the rotation counter `rotation#<rotationId>` (the same turn for a repeated `requestKey`),
 * leastLoaded claims the least loaded. Under capacity in both. Undefined when nobody can take it.
 */
export async function chooseMember(options: {
  tenantId: string;
  rotationId: string;
  method: 'roundRobin' | 'leastLoaded';
  members: TeamMember[];
  kind?: LoadKind;
  requestKey?: string | undefined;
}): Promise<{ userId: string; loadAdded: boolean } | undefined> {
  const { tenantId, rotationId, method, members, kind = 'records', requestKey } = options;
  const needLoads = method === 'leastLoaded' || members.some((m) => m.capacity !== undefined);
  const loads = await loadsOf(tenantId, members, needLoads, kind);
  if (method === 'leastLoaded') {
    const userId = await chooseLeastLoaded(tenantId, rotationId, members, loads, kind);
    return userId ? { userId, loadAdded: true } : undefined;
  }
  return chooseRoundRobin(tenantId, rotationId, members, loads, requestKey, kind);
}

/**
 * The owner for a record created without one, or undefined (the record stays unowned): the first active rule that
 * matches the subject, then its team's eligible members (available, under capacity), by the rule's method.
 * roundRobin spreads concurrent creates exactly evenly while the eligible set stays the same; leastLoaded keeps
 * loads within 1 of each other (see each chooser for the guarantee). Every assignment adds 1 to the
 * member's open load (what capacity and leastLoaded compare); the assignment-load consumer takes it off again when
 * the record is deleted or reassigned.
 */
export async function chooseOwner(
  tenantId: string,
  subject: AssignmentSubject,
  requestKey?: string,
): Promise<string | undefined> {
  return (await chooseAssignment(tenantId, subject, requestKey))?.ownerId;
}

/**
 * chooseOwner, also naming the rule that chose (stored on the record as `assignedByRule`) and whether this call
 * added to the owner's load (not when it repeated an earlier attempt of the same request).
 */
export async function chooseAssignment(
  tenantId: string,
  subject: AssignmentSubject,
  requestKey?: string,
): Promise<{ ownerId: string; ruleId: string; loadAdded: boolean } | undefined> {
  const rule = firstMatchingRule(await cachedRules(tenantId), subject);
  if (!rule) return undefined;
  const roster = await getTeamRoster(tenantId, rule.teamId);
  const members = roster?.members ?? [];
  const available = members.filter((m) => m.availability === 'available');
  const chosen = await chooseMember({
    tenantId,
    rotationId: rule.id,
    method: rule.method,
    members: available,
    requestKey,
  });
  if (chosen) return { ownerId: chosen.userId, ruleId: rule.id, loadAdded: chosen.loadAdded };
  metrics.addMetric('AssignmentNoEligibleMember', MetricUnit.Count, 1);
  logger.warn('assignment: no eligible member; the record stays unowned', {
    tenantId,
    ruleId: rule.id,
    teamId: rule.teamId,
    teamFound: roster !== undefined,
    entity: subject.entity,
  });
  return undefined;
}

/** Which rule and members a record would meet, without assigning anything. */
export async function previewAssignment(
  tenantId: string,
  subject: AssignmentSubject,
): Promise<{ ruleId: string | null; teamId: string | null; eligibleUserIds: string[] }> {
  const rule = firstMatchingRule((await getAssignmentRules(tenantId)).rules, subject);
  if (!rule) return { ruleId: null, teamId: null, eligibleUserIds: [] };
  const members = (await getTeamRoster(tenantId, rule.teamId))?.members ?? [];
  const available = members.filter((m) => m.availability === 'available');
  const loads = await loadsOf(
    tenantId,
    available,
    available.some((m) => m.capacity !== undefined),
  );
  return {
    ruleId: rule.id,
    teamId: rule.teamId,
    eligibleUserIds: eligibleMembers(available, loads).map((m) => m.userId),
  };
}

/**
 * The input with an owner chosen by the rules when it has none (`ownerId` and `assignedByRule` set, or as it was:
 * the load consumer counts only creates no rule counted already), and `undo`, which takes back the load the choice
 * added: call it when the write then fails (a validation, reference or duplicate error), so a refused create leaves
 * no phantom load. The rotation stays advanced, which shifts the turn but never piles records on one member.
 */
export async function assignOwner<I extends { ownerId?: string | undefined }>(
  tenantId: string,
  subject: AssignmentSubject,
  input: I,
  requestKey?: string,
): Promise<{ input: I; undo: () => Promise<void> }> {
  const nothing = { input, undo: async () => {} };
  if (input.ownerId) return nothing;
  const chosen = await chooseAssignment(tenantId, subject, requestKey);
  if (!chosen) return nothing;
  const { ownerId, ruleId, loadAdded } = chosen;
  return {
    input: { ...input, ownerId, assignedByRule: ruleId },
    undo: async () => {
      if (!loadAdded) return;
      await addToCounter(tenantId, loadCounter(ownerId), -1).catch((error: unknown) =>
        logger.warn('assignment: could not take back the load of a failed create', { tenantId, error: error as Error }),
      );
    },
  };
}

/** Runs a create with an owner chosen by the rules when the input has none (see assignOwner). */
export async function createWithAssignedOwner<I extends { ownerId?: string | undefined }, R>(
  tenantId: string,
  subject: AssignmentSubject,
  input: I,
  create: (input: I) => Promise<R>,
  requestKey?: string,
): Promise<R> {
  const assigned = await assignOwner(tenantId, subject, input, requestKey);
  try {
    return await create(assigned.input);
  } catch (error) {
    await assigned.undo();
    throw error;
  }
}

interface TerritoryAddress {
  country?: string | undefined;
  region?: string | undefined;
  postalCode?: string | undefined;
}

const territoryOf = (address: TerritoryAddress | undefined) => {
  const { country, region, postalCode } = address ?? {};
  return {
    ...(country ? { country } : {}),
    ...(region ? { region } : {}),
    ...(postalCode ? { postalCode } : {}),
  };
};

/** What a lead's create input tells assignment: its company's address and its source. */
export function leadSubject(input: {
  company?: { address?: TerritoryAddress | undefined } | undefined;
  source?: string | undefined;
}): AssignmentSubject {
  return { entity: 'lead', ...territoryOf(input.company?.address), ...(input.source ? { source: input.source } : {}) };
}

/** What a contact's create input tells assignment: its address decides the territory. */
export function contactSubject(input: { address?: TerritoryAddress | undefined }): AssignmentSubject {
  return { entity: 'contact', ...territoryOf(input.address) };
}
