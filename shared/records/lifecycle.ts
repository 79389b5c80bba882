import { ulid } from 'ulid';
import type { Principal } from '../auth/principal.ts';
import { validateCustomFields } from '../custom-fields/service.ts';
import { findIdempotentResponse } from '../db/idempotency.ts';
import { largestFields, RecordTooLargeError } from '../db/item-size.ts';
import { isStorageOnly, itemView } from '../db/item-view.ts';
import {
  type LookupEntry,
  model,
  type RecordWrite,
  type ReferenceCheck,
  versionCondition,
  writeRecords,
} from '../db/store.ts';
import { type DuplicateCandidate, explainTakenKey, guardDuplicates } from '../duplicates/guard.ts';
import {
  ConflictError,
  DomainError,
  IdempotentReplay,
  MovedPermanentlyError,
  NotFoundError,
  PreconditionFailedError,
} from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import type { Page } from './lists.ts';
import { changedFields, mergePatch } from './merge-patch.ts';

/**
 * The most a contact or company may take in DynamoDB (64 KiB), counted as DynamoDB counts item size: attribute names
 * and values in UTF-8, keys and bookkeeping included. Creates and patches that would pass it are refused (413
 * `record.too_large`); delete and restore may add their few bytes of trash bookkeeping. It keeps every item far from
 * DynamoDB's 400 KB, and a transaction (record, idempotency record with the response, lookups) far from 4 MB.
 */
export const MAX_RECORD_BYTES = 64 * 1024;

/** How many of the largest fields a too-large error names. */
const LARGEST_FIELDS_SHOWN = 5;

/** What the API shows of any record: its id, its fields and the audit trail. */
export interface RecordView {
  id: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  deletedAt?: string;
  [field: string]: unknown;
}

export type Stored = Record<string, unknown> & {
  tenantId: string;
  version: number;
  createdAt: string;
  updatedAt: string;
};

/**
 * How one record type (contact, company) is stored: its entity, id attribute, derived GSI keys, lookup values,
 * references that must exist, and normalisation of client input. The lifecycle below is the same for all.
 */
export interface RecordKind {
  entity: 'contact' | 'company' | 'lead';
  idField: 'contactId' | 'companyId' | 'leadId';
  /** Attributes computed from the others (e.g. sortName, normalised phones); may throw ValidationError. */
  derive(fields: Record<string, unknown>, previous?: Stored): Record<string, unknown>;
  keys(stored: Stored): Record<string, string | undefined>;
  lookups(stored: Stored): LookupEntry[];
  /**
   * The small projection each lookup item carries, and what lists served by lookups return. Bounded (ids, names,
   * the primary email or domain): never a collection or free text without a limit. It holds no version or timestamp,
   * so a patch of any other field leaves every lookup item as it is.
   */
  summary(stored: Stored): Record<string, unknown>;
  references(stored: Stored, previous: Stored | undefined): ReferenceCheck[];
  /** Empty collections the view always shows, so clients need no null checks. */
  defaults: Record<string, unknown>;
}

/** A summary without its unset fields: what lookup items store and compare (an absent field is not a change). */
export function definedOnly(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

export function toView(kind: Pick<RecordKind, 'idField' | 'defaults'>, stored: Stored): RecordView {
  return { ...kind.defaults, ...itemView(stored, kind.idField) } as RecordView;
}

/** A page of stored records as their views. */
export function toViewPage<T>(
  kind: Pick<RecordKind, 'idField' | 'defaults'>,
  page: Page<Record<string, unknown>>,
): Page<T> {
  return { items: page.items.map((s) => toView(kind, s as Stored) as unknown as T), nextCursor: page.nextCursor };
}

function notFound(kind: RecordKind, id: string): DomainError {
  return new NotFoundError(kind.entity, id);
}

/** One GetItem. */
export async function readStored(kind: RecordKind, tenantId: string, id: string): Promise<Stored | undefined> {
  const entity = model.entities[kind.entity] as unknown as {
    get: (key: Record<string, string>) => { go: () => Promise<{ data: Stored | null }> };
  };
  const { data } = await entity.get({ tenantId, [kind.idField]: id }).go();
  return data ?? undefined;
}

/** The path of a record, where a merged record redirects to. */
export const recordPath = (kind: Pick<RecordKind, 'entity'>, id: string) =>
  `/v1/${kind.entity === 'contact' ? 'contacts' : 'companies'}/${id}`;

export async function getRecord(kind: RecordKind, principal: Principal, id: string): Promise<RecordView> {
  const stored = await readStored(kind, principal.tenantId, id);
  if (!stored || stored.deletedAt) throw notFound(kind, id);
  if (stored.mergedInto) throw mergedRedirect(kind, id, String(stored.mergedInto));
  return toView(kind, stored);
}

/** A GET of a merged record: 301 to the record it was merged into (shared/merge). */
function mergedRedirect(kind: RecordKind, id: string, into: string): DomainError {
  return new MovedPermanentlyError(
    `${kind.entity}.merged`,
    `${kind.entity} ${id} was merged into ${into}.`,
    recordPath(kind, into),
    { mergedInto: into },
  );
}

/** A write to a merged record is refused: it is only a redirect now. */
function mergedConflict(kind: RecordKind, id: string, into: string): DomainError {
  return new ConflictError(
    `${kind.entity}.merged`,
    `${kind.entity} ${id} was merged into ${into}; change ${into} instead.`,
    { mergedInto: into },
  );
}

/** Live: not in the trash and not merged into another record (a merged record is off every list and lookup). */
const isLive = (stored: Stored | undefined): stored is Stored =>
  stored !== undefined && !stored.deletedAt && !stored.mergedInto;

/** A merged record keeps only its delta-sync key, so sync clients see it change and every list forgets it. */
function indexKeys(kind: RecordKind, stored: Stored): Record<string, string | undefined> {
  const keys = kind.keys(stored);
  if (!stored.mergedInto) return keys;
  return Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, k.startsWith('gsi5') ? v : undefined]));
}

/** Fields a client sets (not keys, bookkeeping or the audit trail): what a too-large error may name. */
const AUDIT_FIELDS = new Set(['version', 'createdAt', 'updatedAt', 'createdBy', 'updatedBy', 'deletedAt']);

/** The error for a record that would take more than MAX_RECORD_BYTES as stored, naming its largest fields. */
function recordTooLarge(kind: RecordKind) {
  return (stored: Record<string, unknown>, size: number): RecordTooLargeError => {
    const editable = (name: string) => name !== kind.idField && !isStorageOnly(name) && !AUDIT_FIELDS.has(name);
    const largest = largestFields(stored, editable, ['customFields']).slice(0, LARGEST_FIELDS_SHOWN);
    return new RecordTooLargeError(
      kind.entity,
      size,
      MAX_RECORD_BYTES,
      largest.map(({ path, bytes }) => ({
        field: `body.${path}`,
        message: `Takes ${bytes} bytes; the whole ${kind.entity} would take ${size} of at most ${MAX_RECORD_BYTES} bytes.`,
        code: 'too_large',
      })),
    );
  };
}

/** Empty collections are the view's defaults, not data: never stored, so a no-op never shows up as a change. */
function withoutEmpty(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(fields).filter(
      ([, v]) => !(Array.isArray(v) && v.length === 0) && !(isObject(v) && Object.keys(v).length === 0),
    ),
  );
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A record write, planned but not sent: what writeRecords takes, and the view the caller answers with. */
export interface PlannedRecordWrite {
  write: RecordWrite;
  view: RecordView;
}

/**
 * Adds what the tenant's duplicate policy needs to a planned write (shared/duplicates/guard.ts): unique-key claims
 * and releases join its transaction; under `warn` the view (and the stored idempotent response) lists the other
 * records sharing an email, phone or domain in `duplicates`. Throws 409 `<entity>.duplicate` under `block`.
 */
export async function guardPlanned(
  kind: RecordKind,
  tenantId: string,
  planned: PlannedRecordWrite,
  previous: Stored | undefined,
  selfIds: string[] = [String(planned.write.item[kind.idField])],
  releaseFrom: Stored[] = [],
): Promise<PlannedRecordWrite & { duplicates?: DuplicateCandidate[] }> {
  const next = planned.write.item as Stored;
  const guard = await guardDuplicates(kind, tenantId, next, previous, selfIds, releaseFrom).catch(async (error) => {
    // A retried request whose first attempt created the record finds its own value taken: it is a replay.
    const key = planned.write.idempotency?.key;
    if (key && error instanceof DomainError && (await findIdempotentResponse({ tenantId } as Principal, key))) {
      throw new IdempotentReplay(key);
    }
    throw error;
  });
  const write: RecordWrite = { ...planned.write, items: [...(planned.write.items ?? []), ...guard.items] };
  if (guard.policy !== 'warn' || guard.candidates.length === 0) return { write, view: planned.view };
  const view = { ...planned.view, duplicates: guard.candidates };
  if (write.idempotency) write.idempotency = { ...write.idempotency, response: view };
  return { write, view, duplicates: guard.candidates };
}

/** Sends a guarded write; a lost race for a unique key becomes the 409 naming the record that won it. */
export async function sendGuarded(tenantId: string, writes: RecordWrite[]): Promise<void> {
  try {
    await writeRecords(writes);
  } catch (error) {
    throw await explainTakenKey(error, tenantId);
  }
}

/** Plans the write of `next` over `previous` (absent: a create) with its lookups, references and size cap. */
export function planWrite(
  kind: RecordKind,
  principal: Principal,
  next: Stored,
  previous: Stored | undefined,
  idempotency?: ApiRequest['idempotency'],
  statusCode = 200,
  capped = false,
): PlannedRecordWrite {
  const id = String(next[kind.idField]);
  const item = { ...next, ...indexKeys(kind, next) };
  const view = toView(kind, next);
  const write: RecordWrite = {
    entity: kind.entity,
    item,
    ...versionCondition(kind.entity, id, previous),
    lookups: {
      tenantId: principal.tenantId,
      targetId: id,
      next: isLive(next) ? kind.lookups(next) : [],
      previous: isLive(previous) ? kind.lookups(previous) : [],
      summary: isLive(next) ? kind.summary(next) : undefined,
      previousSummary: isLive(previous) ? kind.summary(previous) : undefined,
    },
    references: kind.references(next, previous),
    ...(capped ? { sizeLimit: { bytes: MAX_RECORD_BYTES, tooLarge: recordTooLarge(kind) } } : {}),
    ...(idempotency
      ? { idempotency: { tenantId: principal.tenantId, ...idempotency, statusCode, response: view } }
      : {}),
  };
  return { write, view };
}

async function persist(...args: Parameters<typeof planWrite>): Promise<RecordView> {
  const [kind, principal, , previous] = args;
  const { write, view } = await guardPlanned(kind, principal.tenantId, planWrite(...args), previous);
  await sendGuarded(principal.tenantId, [write]);
  return view;
}

export async function createRecord(
  kind: RecordKind,
  principal: Principal,
  fields: Record<string, unknown>,
  idempotency?: ApiRequest['idempotency'],
): Promise<RecordView> {
  const { write, view } = await planCreate(kind, principal, fields, idempotency);
  await sendGuarded(principal.tenantId, [write]);
  return view;
}

/**
 * A create, planned but not sent (custom fields validated, id and audit fields set), so it can join other writes in
 * one transaction (a lead conversion creates its contact, company and deal together).
 */
export async function planCreate(
  kind: RecordKind,
  principal: Principal,
  fields: Record<string, unknown>,
  idempotency?: ApiRequest['idempotency'],
): Promise<PlannedRecordWrite> {
  await validateCustomFields(principal.tenantId, kind.entity, fields.customFields as Record<string, unknown>);
  const now = new Date().toISOString();
  const cleaned = mergePatch({}, fields);
  const stored: Stored = {
    ...kind.derive(withoutEmpty(cleaned)),
    tenantId: principal.tenantId,
    [kind.idField]: ulid(),
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: principal.userId,
    updatedBy: principal.userId,
  };
  return guardPlanned(
    kind,
    principal.tenantId,
    planWrite(kind, principal, stored, undefined, idempotency, 201, true),
    undefined,
  );
}

/**
 * Reads, checks If-Match, applies the merge patch and writes conditioned on the version read. A patch that would make
 * the record larger than MAX_RECORD_BYTES is refused and changes nothing.
 */
export async function patchRecord(
  kind: RecordKind,
  principal: Principal,
  id: string,
  patch: Record<string, unknown>,
  ifMatch: VersionPrecondition | undefined,
): Promise<RecordView> {
  const previous = await readStored(kind, principal.tenantId, id);
  if (!previous || previous.deletedAt) throw notFound(kind, id);
  if (previous.mergedInto) throw mergedConflict(kind, id, String(previous.mergedInto));
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError(kind.entity, id);
  await validateCustomFields(principal.tenantId, kind.entity, patch.customFields as Record<string, unknown>);
  const current = toView(kind, previous);
  const { id: _id, version, createdAt, updatedAt, createdBy, updatedBy, ...editable } = current;
  const merged = mergePatch(editable, patch);
  if (changedFields(editable, merged).length === 0) return current;
  const next: Stored = {
    ...kind.derive(withoutEmpty(merged), previous),
    tenantId: principal.tenantId,
    [kind.idField]: id,
    version: previous.version + 1,
    createdAt: previous.createdAt,
    createdBy: previous.createdBy,
    updatedAt: new Date().toISOString(),
    updatedBy: principal.userId,
  };
  return persist(kind, principal, next, previous, undefined, 200, true);
}

/** Soft delete: the record leaves every list and lookup but the trash and the sync feed, and can be restored. */
export async function deleteRecord(
  kind: RecordKind,
  principal: Principal,
  id: string,
  ifMatch: VersionPrecondition | undefined,
): Promise<void> {
  const previous = await readStored(kind, principal.tenantId, id);
  if (!previous || previous.deletedAt) throw notFound(kind, id);
  if (previous.mergedInto) throw mergedConflict(kind, id, String(previous.mergedInto));
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError(kind.entity, id);
  const now = new Date().toISOString();
  await persist(
    kind,
    principal,
    {
      ...previous,
      version: previous.version + 1,
      updatedAt: now,
      updatedBy: principal.userId,
      deletedAt: now,
      deletedBy: principal.userId,
    },
    previous,
  );
}

export async function restoreRecord(
  kind: RecordKind,
  principal: Principal,
  id: string,
  ifMatch: VersionPrecondition | undefined,
): Promise<RecordView> {
  const previous = await readStored(kind, principal.tenantId, id);
  if (!previous) throw notFound(kind, id);
  if (previous.mergedInto) throw mergedConflict(kind, id, String(previous.mergedInto));
  if (!previous.deletedAt)
    throw new DomainError(409, `${kind.entity}.not_deleted`, `${kind.entity} ${id} is not in the trash.`);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError(kind.entity, id);
  const { deletedAt: _d, deletedBy: _b, ...rest } = previous;
  return persist(
    kind,
    principal,
    {
      ...rest,
      version: previous.version + 1,
      updatedAt: new Date().toISOString(),
      updatedBy: principal.userId,
    } as Stored,
    previous,
  );
}
