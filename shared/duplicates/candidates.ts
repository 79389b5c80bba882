import { can } from '../auth/permissions.ts';
import type { Principal } from '../auth/principal.ts';
import { duplicateIndex, sortableName } from '../db/keys.ts';
import { checkCursor, type ItemWrite, model, writeRecords } from '../db/store.ts';
import { ForbiddenError, NotFoundError } from '../errors.ts';
import type { Page, PageRequest } from '../records/lists.ts';
import type { MatchKey } from './guard.ts';

export type DuplicateEntity = 'contact' | 'company';

/** Legal forms dropped from a company's name fingerprint, so "Acme Inc." meets "ACME". */
const LEGAL_FORMS =
  /\b(inc|incorporated|corp|corporation|co|company|ltd|limited|llc|llp|plc|gmbh|ag|sa|sas|sarl|srl|spa|bv|nv|oy|ab|as|kk|pty|pte)\b\.?/g;

/**
 * A name folded for matching: accents, case, punctuation and spacing removed. Contacts need both first and last name
 * (a first name alone would pair every "Ada"); companies drop legal forms. Undefined when nothing distinctive is left.
 */
export function nameFingerprint(entity: DuplicateEntity, record: Record<string, unknown>): string | undefined {
  if (entity === 'contact') {
    const first = record.firstName as string | undefined;
    const last = record.lastName as string | undefined;
    if (!first || !last) return undefined;
    return (
      sortableName(first, last)
        .replace(/[^\p{L}\p{N} ]/gu, '')
        .replace(/\s+/g, ' ')
        .trim() || undefined
    );
  }
  const folded = sortableName(record.name as string | undefined)
    .replace(/[^\p{L}\p{N} ]/gu, ' ')
    .replace(LEGAL_FORMS, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return folded && folded !== '~' ? folded : undefined;
}

/** A record's match keys (`<kind>:<value>`), from its stored (normalised) values; none when it is not live. */
export function matchKeysOf(entity: DuplicateEntity, record: Record<string, unknown> | undefined): string[] {
  if (!record || record.deletedAt || record.mergedInto) return [];
  const list = (field: string) => (record[field] as string[] | undefined) ?? [];
  const keys =
    entity === 'contact'
      ? [...list('emails').map((v) => `email:${v}`), ...list('phones').map((v) => `phone:${v}`)]
      : list('domains').map((v) => `domain:${v}`);
  const name = nameFingerprint(entity, record);
  if (name) keys.push(`name:${name}`);
  return [...new Set(keys)];
}

const kindOf = (key: string) => key.slice(0, key.indexOf(':')) as MatchKey;

/** `<entity>.<lower id>.<higher id>`: the same for both orders, and safe in a URL path. */
export const pairIdOf = (entity: DuplicateEntity, a: string, b: string) =>
  a < b ? `${entity}.${a}.${b}` : `${entity}.${b}.${a}`;

/** At most this many holders of one key are paired (a shared address like info@ would pair everyone). */
const MAX_HOLDERS = 50;

/**
 * Brings a record's match keys and candidate pairs up to date with its current state (read from the table, so
 * events may arrive late, twice or out of order): its match-key items, then a pair (both sides) with every other
 * holder of any key, saying which keys matched; pairs that no longer match are deleted; a dismissed pair stays
 * dismissed while it still matches. Run by the duplicate-candidates consumer after every contact/company change.
 */
export async function refreshCandidates(tenantId: string, entity: DuplicateEntity, recordId: string): Promise<number> {
  const idField = entity === 'contact' ? 'contactId' : 'companyId';
  const record =
    (
      await (
        model.entities[entity] as unknown as {
          get: (k: Record<string, string>) => { go: () => Promise<{ data: Record<string, unknown> | null }> };
        }
      )
        .get({ tenantId, [idField]: recordId })
        .go()
    ).data ?? undefined;
  const now = new Date().toISOString();
  const keys = matchKeysOf(entity, record);
  const { data: state } = await model.entities.matchKeySet.get({ tenantId, entity, recordId }).go();
  const previous = state?.keys ?? [];

  await Promise.all([
    ...previous
      .filter((k) => !keys.includes(k))
      .map((key) => model.entities.matchKey.delete({ tenantId, entity, key, recordId }).go()),
    ...keys.map((key) => model.entities.matchKey.put({ tenantId, entity, key, recordId }).go()),
  ]);
  await model.entities.matchKeySet.put({ tenantId, entity, recordId, keys, updatedAt: now }).go();

  const matches = new Map<string, Set<MatchKey>>();
  await Promise.all(
    keys.map(async (key) => {
      const { data } = await model.entities.matchKey.query.byKey({ tenantId, entity, key }).go({ limit: MAX_HOLDERS });
      for (const holder of data) {
        if (holder.recordId === recordId) continue;
        matches.set(holder.recordId, (matches.get(holder.recordId) ?? new Set()).add(kindOf(key)));
      }
    }),
  );

  const existing = new Map<string, { detectedAt: string; dismissedAt?: string; dismissedBy?: string }>();
  let cursor: string | null = null;
  do {
    const page: { data: Array<Record<string, unknown>>; cursor: string | null } =
      await model.entities.duplicatePair.query.byRecord({ tenantId, entity, recordId }).go({ limit: 100, cursor });
    for (const p of page.data) existing.set(String(p.otherId), p as never);
    cursor = page.cursor;
  } while (cursor);

  const writes: Array<Promise<unknown>> = [];
  for (const [otherId, matched] of matches) {
    const before = existing.get(otherId);
    const common = {
      tenantId,
      entity,
      pairId: pairIdOf(entity, recordId, otherId),
      matched: [...matched].sort(),
      detectedAt: before?.detectedAt ?? now,
      updatedAt: now,
      ...(before?.dismissedAt ? { dismissedAt: before.dismissedAt, dismissedBy: before.dismissedBy } : {}),
    };
    for (const [side, other] of [
      [recordId, otherId],
      [otherId, recordId],
    ] as const) {
      const listed = side < other && !common.dismissedAt;
      writes.push(
        model.entities.duplicatePair
          .put({
            ...common,
            recordId: side,
            otherId: other,
            ...(listed ? { gsi7pk: duplicateIndex.pairs(tenantId, entity), gsi7sk: common.pairId } : {}),
          })
          .go(),
      );
    }
  }
  for (const otherId of existing.keys()) {
    if (matches.has(otherId)) continue;
    writes.push(model.entities.duplicatePair.delete({ tenantId, entity, recordId, otherId }).go());
    writes.push(model.entities.duplicatePair.delete({ tenantId, entity, recordId: otherId, otherId: recordId }).go());
  }
  await Promise.all(writes);
  return matches.size;
}

export interface DuplicatePairView {
  id: string;
  entity: DuplicateEntity;
  recordIds: [string, string];
  matched: MatchKey[];
  detectedAt: string;
  updatedAt: string;
}

function pairView(item: Record<string, unknown>): DuplicatePairView {
  return {
    id: String(item.pairId),
    entity: item.entity as DuplicateEntity,
    recordIds: [String(item.recordId), String(item.otherId)],
    matched: item.matched as MatchKey[],
    detectedAt: String(item.detectedAt),
    updatedAt: String(item.updatedAt),
  };
}

/** Open candidate pairs of a record kind, by pair id: one Query on gsi7. */
export async function listPairs(
  principal: Principal,
  entity: DuplicateEntity,
  page: PageRequest,
): Promise<Page<DuplicatePairView>> {
  const partition = duplicateIndex.pairs(principal.tenantId, entity);
  checkCursor(page.cursor, 'gsi7pk', partition);
  const result = await model.entities.duplicatePair.query
    .gsi7({ gsi7pk: partition })
    .go({ limit: page.limit, cursor: page.cursor ?? null });
  return { items: result.data.map((i) => pairView(i as Record<string, unknown>)), nextCursor: result.cursor ?? null };
}

/**
 * Dismisses a pair ("not the same"): both sides keep `dismissedAt` and it leaves the list; it stays dismissed while
 * the two still match. Repeating it changes nothing. Two items in one transaction.
 */
export async function dismissPair(principal: Principal, pairId: string): Promise<DuplicatePairView> {
  const [entity, a, b] = pairId.split('.') as [DuplicateEntity, string, string];
  if (entity === 'company' && !can(principal.roles, 'companies:merge')) throw new ForbiddenError();
  const { tenantId } = principal;
  const { data } = await model.entities.duplicatePair.get({ tenantId, entity, recordId: a, otherId: b }).go();
  if (!data) throw new NotFoundError('duplicate', pairId);
  if (data.dismissedAt) return pairView(data);
  const now = new Date().toISOString();
  const { gsi7pk: _pk, gsi7sk: _sk, ...rest } = data as Record<string, unknown>;
  const dismissed = { ...rest, dismissedAt: now, dismissedBy: principal.userId, updatedAt: now };
  const items: ItemWrite[] = [
    { put: 'duplicatePair', item: dismissed },
    { put: 'duplicatePair', item: { ...dismissed, recordId: b, otherId: a } },
  ];
  await writeRecords([], items);
  return pairView(dismissed);
}
