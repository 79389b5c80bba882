import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { documentClient, tableName } from '../db/client.ts';
import { model } from '../db/store.ts';
import { ConflictError } from '../errors.ts';

/**
 * Membership writes, exact by construction. Each member put or delete is conditioned on the member's absence or
 * presence, and shares a TransactWriteItems with one `ADD memberCount` per segment for exactly the members it
 * changes, so a repeated add (a redelivered event, a retried page, a resumed backfill) fails its condition and counts
 * nothing. The cancellation reasons say which items failed: those operations are no-ops (already a member, already
 * gone) and the rest is written again without them.
 *
 * Two more checks ride in the same transaction. The contact: at the version the decision was made on (a consumer or
 * the backfill evaluated it), or merely live (a static list); a contact changed meanwhile is left to the consumer of
 * that change, which reads it fresh. The segment: live, and for dynamic segments still at the evaluation the filter
 * was read for, so a cached filter never decides after an edit.
 */

export type MemberAction = 'add' | 'remove';

export interface MemberOp {
  segmentId: string;
  contactId: string;
  action: MemberAction;
  source: 'filter' | 'manual' | 'backfill';
  /** The segment's evaluation the decision was made under (dynamic segments). */
  evaluation?: number;
  filterVersion?: number;
  /**
   * The contact's version the decision was made on. Absent: an add needs the contact live, a removal nothing.
   */
  contactVersion?: number;
}

export type MemberOutcome = 'changed' | 'unchanged' | 'contactMissing' | 'contactChanged';

/** The segment was deleted, or its filter changed, after the caller read it: re-read and decide again. */
export class SegmentChangedError extends ConflictError {
  constructor(readonly segmentId: string) {
    super('segment.changed', `Segment ${segmentId} changed meanwhile; retry.`);
  }
}

/** The table key of an item, as ElectroDB builds it. */
const memberKey = (tenantId: string, segmentId: string, contactId: string) =>
  model.entities.segmentMember.delete({ tenantId, segmentId, contactId }).params().Key as Record<string, unknown>;
export const segmentKey = (tenantId: string, segmentId: string) =>
  model.entities.segment.get({ tenantId, segmentId }).params().Key as Record<string, unknown>;
const contactKey = (tenantId: string, contactId: string) =>
  model.entities.contact.get({ tenantId, contactId }).params().Key as Record<string, unknown>;

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** A member op as it is tried now: `refresh` keeps an existing member's evaluation current. */
type Attempt = { op: MemberOp; index: number; mode: 'put' | 'refresh' | 'delete' };

const MAX_ITEMS = 100;
const MAX_ROUNDS = 8;

function memberItem(tenantId: string, op: MemberOp, now: string): Record<string, unknown> {
  return model.entities.segmentMember
    .put({
      tenantId,
      segmentId: op.segmentId,
      contactId: op.contactId,
      addedAt: now,
      source: op.source,
      ...(op.evaluation !== undefined ? { evaluation: op.evaluation } : {}),
      ...(op.filterVersion !== undefined ? { filterVersion: op.filterVersion } : {}),
    })
    .params().Item as Record<string, unknown>;
}

/** Splits attempts so each transaction holds at most 100 items (member ops + one check per contact and segment). */
function chunks(attempts: Attempt[]): Attempt[][] {
  const result: Attempt[][] = [];
  let current: Attempt[] = [];
  let contacts = new Set<string>();
  let segments = new Set<string>();
  for (const attempt of attempts) {
    const extra = 1 + (contacts.has(attempt.op.contactId) ? 0 : 1) + (segments.has(attempt.op.segmentId) ? 0 : 1);
    if (current.length + contacts.size + segments.size + extra > MAX_ITEMS) {
      result.push(current);
      current = [];
      contacts = new Set();
      segments = new Set();
    }
    current.push(attempt);
    contacts.add(attempt.op.contactId);
    segments.add(attempt.op.segmentId);
  }
  if (current.length > 0) result.push(current);
  return result;
}

/** What each item of a transaction stands for, to read its cancellation reason. */
type Role =
  | { kind: 'member'; attempt: Attempt }
  | { kind: 'contact'; contactId: string }
  | { kind: 'segment'; id: string };

function plan(tenantId: string, batch: Attempt[], now: string) {
  const table = tableName();
  const items: TransactItem[] = [];
  const roles: Role[] = [];
  const delta = new Map<string, number>();
  const evaluations = new Map<string, number | undefined>();
  const contacts = new Map<string, number | undefined>();
  for (const attempt of batch) {
    const { op } = attempt;
    evaluations.set(op.segmentId, op.evaluation);
    // A removal decided without a version (a static list, a contact that no longer exists) needs no contact check.
    const checked = op.contactVersion !== undefined || op.action === 'add';
    if (checked && (!contacts.has(op.contactId) || op.contactVersion !== undefined)) {
      contacts.set(op.contactId, op.contactVersion);
    }
    const key = memberKey(tenantId, op.segmentId, op.contactId);
    if (attempt.mode === 'put') {
      items.push({
        Put: {
          TableName: table,
          Item: memberItem(tenantId, op, now),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      });
      delta.set(op.segmentId, (delta.get(op.segmentId) ?? 0) + 1);
    } else if (attempt.mode === 'delete') {
      items.push({ Delete: { TableName: table, Key: key, ConditionExpression: 'attribute_exists(pk)' } });
      delta.set(op.segmentId, (delta.get(op.segmentId) ?? 0) - 1);
    } else {
      items.push({
        Update: {
          TableName: table,
          Key: key,
          UpdateExpression: 'SET #evaluation = :evaluation, #filterVersion = :filterVersion',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#evaluation': 'evaluation', '#filterVersion': 'filterVersion' },
          ExpressionAttributeValues: { ':evaluation': op.evaluation ?? 0, ':filterVersion': op.filterVersion ?? 0 },
        },
      });
    }
    roles.push({ kind: 'member', attempt });
  }
  for (const [contactId, version] of contacts) {
    items.push({
      ConditionCheck: {
        TableName: table,
        Key: contactKey(tenantId, contactId),
        ...(version !== undefined
          ? {
              ConditionExpression: '#version = :version',
              ExpressionAttributeNames: { '#version': 'version' },
              ExpressionAttributeValues: { ':version': version },
            }
          : {
              ConditionExpression:
                'attribute_exists(pk) AND attribute_not_exists(#deletedAt) AND attribute_not_exists(#mergedInto)',
              ExpressionAttributeNames: { '#deletedAt': 'deletedAt', '#mergedInto': 'mergedInto' },
            }),
      },
    });
    roles.push({ kind: 'contact', contactId });
  }
  for (const [segmentId, evaluation] of evaluations) {
    const names: Record<string, string> = { '#deletedAt': 'deletedAt' };
    const values: Record<string, unknown> = {};
    let condition = 'attribute_exists(pk) AND attribute_not_exists(#deletedAt)';
    if (evaluation !== undefined) {
      condition += ' AND #evaluation = :evaluation';
      names['#evaluation'] = 'evaluation';
      values[':evaluation'] = evaluation;
    }
    const change = delta.get(segmentId) ?? 0;
    const key = segmentKey(tenantId, segmentId);
    if (change === 0) {
      items.push({
        ConditionCheck: {
          TableName: table,
          Key: key,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ...(evaluation !== undefined ? { ExpressionAttributeValues: values } : {}),
        },
      });
    } else {
      // No version bump: the count is bookkeeping, not an edit (ETags and If-Match stay about the definition).
      items.push({
        Update: {
          TableName: table,
          Key: key,
          UpdateExpression: 'ADD #memberCount :delta',
          ConditionExpression: condition,
          ExpressionAttributeNames: { ...names, '#memberCount': 'memberCount' },
          ExpressionAttributeValues: { ...values, ':delta': change },
        },
      });
    }
    roles.push({ kind: 'segment', id: segmentId });
  }
  return { items, roles };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Applies membership changes exactly once each: returns one outcome per op (in order). Throws SegmentChangedError
 * when a segment is gone or at another evaluation (nothing of that transaction is written).
 */
export async function applyMemberOps(tenantId: string, ops: MemberOp[]): Promise<MemberOutcome[]> {
  const outcomes: MemberOutcome[] = ops.map(() => 'unchanged');
  let pending: Attempt[] = ops.map((op, index) => ({ op, index, mode: op.action === 'add' ? 'put' : 'delete' }));
  for (let round = 0; pending.length > 0; round++) {
    if (round >= MAX_ROUNDS) {
      throw new ConflictError('request.conflict', 'Concurrent membership changes interfered; retry.');
    }
    const next: Attempt[] = [];
    for (const batch of chunks(pending)) {
      const now = new Date().toISOString();
      const { items, roles } = plan(tenantId, batch, now);
      try {
        await documentClient.send(new TransactWriteCommand({ TransactItems: items }));
        for (const attempt of batch) if (attempt.mode !== 'refresh') outcomes[attempt.index] = 'changed';
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = (error.CancellationReasons ?? []).map((r) => r.Code ?? 'None');
        if (!reasons.includes('ConditionalCheckFailed')) {
          // A conflict with a concurrent transaction: the whole batch again, after a jittered pause.
          await sleep(20 * 2 ** round * Math.random());
          next.push(...batch);
          continue;
        }
        const failedContacts = new Set<string>();
        for (const [i, role] of roles.entries()) {
          if (reasons[i] !== 'ConditionalCheckFailed') continue;
          if (role.kind === 'segment') throw new SegmentChangedError(role.id);
          if (role.kind === 'contact') failedContacts.add(role.contactId);
        }
        for (const [i, role] of roles.entries()) {
          if (role.kind !== 'member') continue;
          const { attempt } = role;
          if (failedContacts.has(attempt.op.contactId)) {
            outcomes[attempt.index] = attempt.op.contactVersion !== undefined ? 'contactChanged' : 'contactMissing';
            continue;
          }
          if (reasons[i] !== 'ConditionalCheckFailed') {
            next.push(attempt);
            continue;
          }
          // Already a member: keep its evaluation current (dynamic), else nothing to do. A refresh that finds the
          // member gone (removed meanwhile) adds it again.
          if (attempt.mode === 'put' && attempt.op.evaluation !== undefined) next.push({ ...attempt, mode: 'refresh' });
          else if (attempt.mode === 'refresh') next.push({ ...attempt, mode: 'put' });
        }
      }
    }
    pending = next;
  }
  return outcomes;
}
