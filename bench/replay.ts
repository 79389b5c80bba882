/**
 * Raw baselines replayed from the API's own requests: a DynamoDB request the counting proxy saw (its wire JSON, as
 * the function's SDK sent it) with its ids (ULIDs) replaced, so the raw side sends the same items, of the same
 * sizes, with the same conditions, as fresh writes. Pure functions; bench/sales.ts uses them.
 */
import { ulid } from 'ulid';

/** A ULID (Crockford base32, 26 characters), upper or lower case, not inside a longer run of letters and digits. */
const ULID = /(?<![0-9A-Za-z])[0-9A-HJKMNP-TV-Z]{26}(?![0-9A-Za-z])/gi;

/** The distinct ULIDs in a text, upper-cased. */
export function ulidsIn(text: string): Set<string> {
  return new Set([...text.matchAll(ULID)].map((m) => m[0].toUpperCase()));
}

/** Replaces each ULID found in `map` (keys upper-cased) by its value, keeping the case it was written in. */
export function substitute(text: string, map: ReadonlyMap<string, string>): string {
  return text.replace(ULID, (found) => {
    const to = map.get(found.toUpperCase());
    if (!to) return found;
    return found === found.toLowerCase() ? to.toLowerCase() : to.toUpperCase();
  });
}

/**
 * The ids of a replay: each ULID of the template is mapped to `fixed`'s value, kept when in `keep`, else to a fresh
 * ULID (same length, so every item keeps its size).
 */
export function replayIds(
  template: string,
  keep: ReadonlySet<string>,
  fixed: ReadonlyMap<string, string> = new Map(),
): Map<string, string> {
  const map = new Map<string, string>();
  for (const id of ulidsIn(template)) {
    if (keep.has(id)) continue;
    map.set(id, fixed.get(id) ?? ulid());
  }
  return map;
}

/**
 * A captured request body made replayable: parsed, without the idempotency token the SDK generated for it (a replay
 * with the same token would be answered from DynamoDB's idempotency cache instead of writing).
 */
export function replayable(body: unknown): string {
  if (!body || typeof body !== 'object') throw new Error('replay: no request body was captured');
  const { ClientRequestToken: _token, ...rest } = body as Record<string, unknown>;
  return JSON.stringify(rest);
}
