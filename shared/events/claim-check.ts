import { createHash } from 'node:crypto';
import { ClaimCheck, type CompleteRecordChange, type RecordChangedDetail } from '../../events/catalog.ts';

/**
 * Claim checks: values too large for an event are stored as objects in the claim-check bucket, and the event carries
 * a `{ "$claimCheck": { bucket, key, bytes, sha256 } }` reference instead (schema in events/catalog.ts).
 */

export type ClaimCheckRef = ClaimCheck['$claimCheck'];

/** Where claim-checked values live: the S3 bucket in Lambda, anything with the same contract in tests. */
export interface ClaimCheckStore {
  /** The bucket new claim checks are written to, and the only one references are resolved from. */
  readonly bucket: string;
  put(key: string, body: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array>;
}

const encoder = new TextEncoder();

/** A value as it is stored aside (and as it counts in an event): its UTF-8 JSON. */
export const serialized = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));

/** The UTF-8 size of a value's JSON, as it counts toward an event's size. */
export const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');

export const isClaimCheck = (value: unknown): value is ClaimCheck =>
  typeof value === 'object' && value !== null && '$claimCheck' in value && ClaimCheck.safeParse(value).success;

/** The object key of one claimed value: deterministic, so a retried batch writes the same object again. */
export function claimCheckKey(parts: {
  tenantId: string;
  entity: string;
  entityId: string;
  version: number;
  action: string;
  /** e.g. ['changes', 'notes', 'new'], ['record'] or ['detail']. */
  path: string[];
}): string {
  const segments = [parts.tenantId, parts.entity, parts.entityId, String(parts.version), parts.action, ...parts.path];
  return `events/${segments.map((s) => encodeURIComponent(s)).join('/')}`;
}

/** The reference to `body` stored at `key` (it is not written here). */
export function claimCheckRef(bucket: string, key: string, body: Uint8Array): ClaimCheck {
  return {
    $claimCheck: {
      schemaVersion: 1,
      bucket,
      key,
      bytes: body.byteLength,
      sha256: createHash('sha256').update(body).digest('hex'),
    },
  };
}

/** Stores a value aside and returns its reference. */
export async function claim(store: ClaimCheckStore, key: string, value: unknown): Promise<ClaimCheck> {
  const body = serialized(value);
  await store.put(key, body);
  return claimCheckRef(store.bucket, key, body);
}

export class ClaimCheckError extends Error {
  override readonly name = 'ClaimCheckError';
}

/** An RFC 6901 pointer to a path. */
export const jsonPointer = (path: string[]): string =>
  path.map((segment) => `/${segment.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');

function atPointer(document: unknown, pointer: string): unknown {
  let value = document;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, segment)) {
      throw new ClaimCheckError(`claim check pointer ${pointer} selects nothing`);
    }
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/**
 * Reads a claimed value back. Only references to this store's bucket are followed, and the object must be exactly
 * the one referenced (size and SHA-256), so a forged or stale reference fails loudly instead of resolving wrongly.
 */
export async function resolveClaimCheck(store: ClaimCheckStore, ref: ClaimCheckRef): Promise<unknown> {
  if (ref.bucket !== store.bucket) {
    throw new ClaimCheckError(`claim check in bucket ${ref.bucket} is not in the claim-check bucket ${store.bucket}`);
  }
  const body = await store.get(ref.key);
  const sha256 = createHash('sha256').update(body).digest('hex');
  if (body.byteLength !== ref.bytes || sha256 !== ref.sha256) {
    throw new ClaimCheckError(`claim check ${ref.key} does not match the stored object`);
  }
  const document: unknown = JSON.parse(Buffer.from(body).toString('utf8'));
  return ref.pointer ? atPointer(document, ref.pointer) : document;
}

/** A value, or the value its claim check stands for. */
export async function resolveValue(store: ClaimCheckStore, value: unknown): Promise<unknown> {
  return isClaimCheck(value) ? resolveClaimCheck(store, value.$claimCheck) : value;
}

/**
 * The shared helper for consumers of record-change events: returns the detail as if nothing had been stored aside
 * (the whole detail fetched if it was claimed, every claimed old/new value and the record read back). Pass
 * `{ record: false }` to leave the record snapshot as it came (one read less when only the changes are wanted).
 */
export async function resolveClaimChecks(
  store: ClaimCheckStore,
  detail: RecordChangedDetail,
  options: { record?: boolean } = {},
): Promise<CompleteRecordChange> {
  const complete = await completeDetail(store, detail);
  const changes: CompleteRecordChange['changes'] = {};
  await Promise.all(
    Object.entries(complete.changes).map(async ([field, change]) => {
      const resolved: { old?: unknown; new?: unknown } = {};
      if ('old' in change) resolved.old = await resolveValue(store, change.old);
      if ('new' in change) resolved.new = await resolveValue(store, change.new);
      changes[field] = resolved;
    }),
  );
  const record =
    options.record === false
      ? complete.record
      : ((await resolveValue(store, complete.record)) as Record<string, unknown>);
  return { ...complete, changes, record };
}

/** The detail with `changes` and `record` present: a claimed whole detail is fetched (its values may be claimed). */
export async function completeDetail(
  store: ClaimCheckStore,
  detail: RecordChangedDetail,
): Promise<CompleteRecordChange> {
  if ('changes' in detail) return detail;
  const stored = (await resolveClaimCheck(store, detail.$claimCheck)) as CompleteRecordChange;
  if (typeof stored !== 'object' || stored === null || typeof stored.changes !== 'object') {
    throw new ClaimCheckError(`claimed detail ${detail.$claimCheck.key} has no changes`);
  }
  return stored;
}
