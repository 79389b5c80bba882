import type { UniqueKeyKind } from '../db/entities/unique-key.ts';
import type { ItemWrite, LookupEntry } from '../db/store.ts';
import { model } from '../db/store.ts';
import { ConflictError, type DomainError } from '../errors.ts';
import type { RecordKind, Stored } from '../records/lifecycle.ts';
import type { DuplicatePolicy } from '../settings/schema.ts';
import { cachedSettings } from '../settings/service.ts';

/** The values each policy looks at: a contact's emails and phones, a company's domains (normalised by `derive`). */
const UNIQUE_KINDS = new Set<string>(['contact.email', 'contact.phone', 'company.domain']);

/** What a duplicate matched on, as clients see it. */
export type MatchKey = 'email' | 'phone' | 'domain' | 'name';
const MATCH_OF: Record<UniqueKeyKind, MatchKey> = {
  'contact.email': 'email',
  'contact.phone': 'phone',
  'company.domain': 'domain',
};

/** Another live record sharing a unique value with the one written (policy `warn`). */
export interface DuplicateCandidate {
  id: string;
  matched: MatchKey[];
}

export interface DuplicateGuard {
  /** Claims and releases of unique keys, to write in the record's own transaction. */
  items: ItemWrite[];
  /** Under `warn`: the other live records sharing a value; otherwise empty. */
  candidates: DuplicateCandidate[];
  policy: DuplicatePolicy;
}

type UniqueEntry = LookupEntry & { kind: UniqueKeyKind };

/** A record's unique values (from its lookups, which `derive` normalised): none when it is not live. */
export function uniqueValues(kind: RecordKind, stored: Stored | undefined): UniqueEntry[] {
  if (!stored || stored.deletedAt || stored.mergedInto) return [];
  return kind.lookups(stored).filter((l): l is UniqueEntry => UNIQUE_KINDS.has(l.kind));
}

const entryId = (e: LookupEntry) => `${e.kind}\n${e.value}`;

export async function duplicatePolicy(tenantId: string, entity: RecordKind['entity']): Promise<DuplicatePolicy> {
  const settings = await cachedSettings(tenantId);
  return entity === 'contact' ? settings.contactDuplicates : settings.companyDuplicates;
}

/** The claim on a value; one GetItem. */
export async function readClaim(tenantId: string, entry: UniqueEntry) {
  const { data } = await model.entities.uniqueKey.get({ tenantId, kind: entry.kind, value: entry.value }).go();
  return data ?? undefined;
}

/** The live records holding a value, from its lookup items (one Query; a value has few holders). */
async function holdersOf(tenantId: string, entry: UniqueEntry): Promise<string[]> {
  const { data } = await model.entities.lookup.query
    .byValue({ tenantId, kind: entry.kind, value: entry.value })
    .go({ limit: 25 });
  return data.map((l) => l.targetId);
}

/** 409 `<entity>.duplicate`, naming the record that already has the value. */
export function duplicateError(entity: RecordKind['entity'], existingId: string, entry: UniqueEntry): DomainError {
  const match = MATCH_OF[entry.kind];
  return new ConflictError(
    `${entity}.duplicate`,
    `${entity} ${existingId} already has the ${match} ${entry.value}; this tenant's duplicate policy is block. ` +
      `Update or merge ${existingId} instead.`,
    { existingId, matched: { key: match, value: entry.value } },
  );
}

/** A claim taken by a concurrent write between our read and our transaction; explained by `explainTakenKey`. */
export class UniqueKeyTaken extends ConflictError {
  constructor(
    readonly entity: RecordKind['entity'],
    readonly entry: UniqueEntry,
  ) {
    super('request.conflict', 'A concurrent change claimed the same value; retry.');
  }
}

/** Turns a lost claim race into the 409 that names the winner (one GetItem); anything else passes through. */
export async function explainTakenKey(error: unknown, tenantId: string): Promise<unknown> {
  if (!(error instanceof UniqueKeyTaken)) return error;
  const claim = await readClaim(tenantId, error.entry);
  return claim ? duplicateError(error.entity, claim.recordId, error.entry) : error;
}

/**
 * What the tenant's duplicate policy needs of a write of `next` over `previous` (absent: a create). `selfIds` are the
 * records this write speaks for (the record; for a merge also the loser), whose holdings never count as duplicates;
 * the first owns the claims.
 *
 * - allow: nothing (no reads): the write is as it always was.
 * - warn: one Query per added value; the other holders come back as candidates.
 * - block: per added value, the claim is read, then its holders (in that order, so a claim written with its record
 *   after our read shows up among the holders). A live holder → 409 naming it (the claim's owner first). Otherwise
 *   the claim is put in the same transaction: as new when absent, or as a compare-and-swap on the version read when
 *   it is stale (its owner no longer holds the value: claims outlive a switch back to allow, see the README). Of
 *   racing creates exactly one claim write succeeds; the others fail their condition and answer 409 naming it.
 *   Removed values (patch, delete, the loser of a merge) release the claims this record owns.
 */
export async function guardDuplicates(
  kind: RecordKind,
  tenantId: string,
  next: Stored | undefined,
  previous: Stored | undefined,
  selfIds: string[],
  releaseFrom: Stored[] = [],
): Promise<DuplicateGuard> {
  const policy = await duplicatePolicy(tenantId, kind.entity);
  if (policy === 'allow') return { items: [], candidates: [], policy };
  const before = new Set(uniqueValues(kind, previous).map(entryId));
  const after = uniqueValues(kind, next);
  const afterIds = new Set(after.map(entryId));
  const added = after.filter((e) => !before.has(entryId(e)));
  const removed = [previous, ...releaseFrom]
    .flatMap((s) => uniqueValues(kind, s))
    .filter((e, i, all) => !afterIds.has(entryId(e)) && all.findIndex((o) => entryId(o) === entryId(e)) === i);
  const self = new Set(selfIds);
  const owner = selfIds[0]!;
  const now = new Date().toISOString();
  const items: ItemWrite[] = [];

  if (policy === 'warn') {
    const byId = new Map<string, Set<MatchKey>>();
    await Promise.all(
      added.map(async (entry) => {
        for (const id of await holdersOf(tenantId, entry)) {
          if (self.has(id)) continue;
          byId.set(id, (byId.get(id) ?? new Set()).add(MATCH_OF[entry.kind]));
        }
      }),
    );
    const candidates = [...byId].map(([id, matched]) => ({ id, matched: [...matched].sort() }));
    return { items: await releases(tenantId, removed, self), candidates, policy };
  }

  await Promise.all(
    added.map(async (entry) => {
      const claim = await readClaim(tenantId, entry);
      const holders = (await holdersOf(tenantId, entry)).filter((id) => !self.has(id));
      if (holders.length > 0) {
        const existing = claim && holders.includes(claim.recordId) ? claim.recordId : holders[0]!;
        throw duplicateError(kind.entity, existing, entry);
      }
      const item = { tenantId, kind: entry.kind, value: entry.value, recordId: owner, claimedAt: now };
      const taken = () => new UniqueKeyTaken(kind.entity, entry);
      items.push(
        claim
          ? {
              put: 'uniqueKey',
              item: { ...item, version: claim.version + 1 },
              expectedVersion: claim.version,
              onConflict: taken,
            }
          : { put: 'uniqueKey', item: { ...item, version: 1 }, mustBeNew: true, onConflict: taken },
      );
    }),
  );
  items.push(...(await releases(tenantId, removed, self)));
  return { items, candidates: [], policy };
}

/** Deletes of the claims these records own on values they give up (one GetItem each). */
async function releases(tenantId: string, removed: UniqueEntry[], self: Set<string>): Promise<ItemWrite[]> {
  const claims = await Promise.all(removed.map((entry) => readClaim(tenantId, entry)));
  return claims
    .filter((claim) => claim && self.has(claim.recordId))
    .map((claim) => ({
      delete: 'uniqueKey' as const,
      key: { tenantId, kind: claim!.kind, value: claim!.value },
    }));
}
