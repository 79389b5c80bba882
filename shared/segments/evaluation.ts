import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient, tableName } from '../db/client.ts';
import { segmentIndex } from '../db/keys.ts';
import { model } from '../db/store.ts';
import { type EvaluationSubject, matches, readsEngagement } from './evaluate.ts';
import type { MemberOp } from './membership.ts';
import type { Filter } from './schema.ts';
import type { StoredSegment } from './service.ts';

/** A contact as stored (what filters read) with its version, or undefined when there is no such item. */
export type StoredContact = EvaluationSubject['contact'] & { contactId: string; version: number };
export type StoredEngagement = NonNullable<EvaluationSubject['engagement']>;

export async function readContact(tenantId: string, contactId: string): Promise<StoredContact | undefined> {
  const { data } = await model.entities.contact.get({ tenantId, contactId }).go({ consistent: true });
  return (data as StoredContact | null) ?? undefined;
}

export async function readEngagement(tenantId: string, contactId: string): Promise<StoredEngagement | undefined> {
  const { data } = await model.entities.contactEngagement.get({ tenantId, contactId }).go({ consistent: true });
  return (data as StoredEngagement | null) ?? undefined;
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping their order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A dynamic segment as evaluation needs it. */
export interface LiveDynamicSegment {
  segmentId: string;
  filter: Filter;
  filterVersion: number;
  evaluation: number;
  readsEngagement: boolean;
}

/**
 * Whether the contact (as read, at its version) belongs in the segment, as the membership op that makes it so when
 * it is not already. `member` is whether it is a member now (undefined: unknown, so both outcomes are written and
 * the conditions sort it out).
 */
export function decide(
  segment: LiveDynamicSegment,
  contactId: string,
  contact: StoredContact | undefined,
  engagement: StoredEngagement | undefined,
  member: boolean | undefined,
  source: MemberOp['source'],
  now = Date.now(),
): { matched: boolean; op?: MemberOp } {
  const matched = contact !== undefined && matches(segment.filter, { contact, engagement }, now);
  const base = {
    segmentId: segment.segmentId,
    contactId,
    source,
    evaluation: segment.evaluation,
    filterVersion: segment.filterVersion,
    ...(contact ? { contactVersion: contact.version } : {}),
  };
  if (matched && member !== true) return { matched, op: { ...base, action: 'add' } };
  if (!matched && member !== false) return { matched, op: { ...base, action: 'remove' } };
  return { matched };
}

export function asLiveDynamic(segment: StoredSegment): LiveDynamicSegment | undefined {
  if (segment.deletedAt || segment.kind !== 'dynamic' || !segment.filter) return undefined;
  return {
    segmentId: segment.segmentId,
    filter: segment.filter,
    filterVersion: segment.filterVersion ?? 1,
    evaluation: segment.evaluation ?? 1,
    readsEngagement: readsEngagement(segment.filter),
  };
}

const CACHE_MS = 30_000;
const cache = new Map<string, { segments: LiveDynamicSegment[]; expires: number }>();

/**
 * The tenant's live dynamic segments: one Query of the segments' name partition (paged), cached per container for
 * 30 s. A stale entry never decides: every membership write checks the segment's evaluation (see membership.ts),
 * and a refused write forgets the cache.
 */
export async function dynamicSegments(tenantId: string, fresh = false): Promise<LiveDynamicSegment[]> {
  const cached = cache.get(tenantId);
  if (!fresh && cached && cached.expires > Date.now()) return cached.segments;
  const segments: LiveDynamicSegment[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await documentClient.send(
      new QueryCommand({
        TableName: tableName(),
        IndexName: 'gsi4',
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'gsi4pk' },
        ExpressionAttributeValues: { ':pk': segmentIndex.name(tenantId) },
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    for (const item of page.Items ?? []) {
      const live = asLiveDynamic(item as StoredSegment);
      if (live) segments.push(live);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  cache.set(tenantId, { segments, expires: Date.now() + CACHE_MS });
  return segments;
}

export function forgetSegments(tenantId: string): void {
  cache.delete(tenantId);
}
