import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Principal } from '../auth/principal.ts';
import { documentClient, tableName } from '../db/client.ts';
import { findIdempotentResponse } from '../db/idempotency.ts';
import { itemView } from '../db/item-view.ts';
import { recordIndex, sortableName, userIndex, userKeys } from '../db/keys.ts';
import { checkCursor, model, type RecordWrite, writeRecords } from '../db/store.ts';
import { IdempotentReplay, NotFoundError, PreconditionFailedError, ValidationError } from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import { type Page, type PageRequest, queryIndex, queryLookup, singleFilter } from '../records/lists.ts';
import { availabilityWrites, memberRemovalWrites } from '../teams/service.ts';
import {
  createIdentity,
  emailTaken,
  findIdentity,
  type Identity,
  identityOf,
  setGroups,
  setSignIn,
} from './identity.ts';
import {
  type MeView,
  type OpenRecordView,
  OWNED_RECORD_KINDS,
  type OwnedRecordKind,
  type UserInviteInput,
  type UserListFilters,
  type UserPatchInput,
  type UserSummaryView,
  type UserView,
} from './schema.ts';

/**
 * Users: the Cognito identity (sign-in, tenant, groups = roles) and the CRM's profile item beside it, under the
 * identity's `sub`. Cognito is the source of truth for who may sign in and with which roles; the profile mirrors the
 * roles for the directory and holds what Cognito does not (name, time zone, working hours, teams).
 *
 * Keeping the two in step without a shared transaction: every change goes to Cognito first, then to the profile
 * (one conditional write). Cognito's admin actions are idempotent here (groups are set to a wanted list, enable and
 * disable are states), so when the profile write fails (a lost race: 412; a crash) the same request can simply be
 * repeated. An invite whose profile write was lost is completed by repeating it: the email is then already in the
 * pool for this tenant, without a profile, and the invite adopts that identity. An email held by a profile, or by
 * another tenant's identity, is 409 `user.email_taken`.
 */

type StoredUser = Omit<UserView, 'id'> & {
  tenantId: string;
  userId: string;
  sortName: string;
  deletedBy?: string;
};

const toView = (stored: Record<string, unknown>): UserView =>
  ({ teamIds: [], ...itemView(stored, 'userId') }) as unknown as UserView;

const summaryOf = (u: StoredUser): UserSummaryView => ({
  id: u.userId,
  name: u.name,
  email: u.email,
  roles: u.roles,
  status: u.status,
});
const roleLookups = (u: StoredUser | undefined) =>
  u && !u.deletedAt ? u.roles.map((value) => ({ kind: 'user.role' as const, value })) : [];

/** The profile, and its role lookups kept in step (only those that change are written). */
function userWrite(next: StoredUser, expectedVersion?: number, previous?: StoredUser): RecordWrite {
  return {
    entity: 'user',
    item: { ...next, ...userKeys(next) },
    lookups: {
      tenantId: next.tenantId,
      targetId: next.userId,
      next: roleLookups(next),
      previous: roleLookups(previous),
      summary: summaryOf(next),
      ...(previous ? { previousSummary: summaryOf(previous) } : {}),
    },
    ...(expectedVersion === undefined ? {} : { expectedVersion }),
    onVersionConflict:
      expectedVersion === undefined
        ? () => emailTaken(next.email)
        : () => new PreconditionFailedError('user', next.userId),
  };
}

/** The stored profile, live or removed; undefined when there is none in this tenant. */
async function readStored(tenantId: string, userId: string): Promise<StoredUser | undefined> {
  const { data } = await model.entities.user.get({ tenantId, userId }).go();
  return (data as unknown as StoredUser | null) ?? undefined;
}

async function readLive(principal: Principal, userId: string, ifMatch?: VersionPrecondition): Promise<StoredUser> {
  const stored = await readStored(principal.tenantId, userId);
  if (!stored || stored.deletedAt) throw new NotFoundError('user', userId);
  if (ifMatch && !ifMatch.matches(stored.version)) throw new PreconditionFailedError('user', userId);
  return stored;
}

/**
 * Invites a user: the Cognito identity (with the tenant, and Cognito's invitation email), its groups, then the
 * profile with the Idempotency-Key record in one write. See the module comment for how a half-done invite is
 * completed by repeating it.
 */
export async function inviteUser(
  principal: Principal,
  input: UserInviteInput,
  idempotency?: ApiRequest['idempotency'],
): Promise<UserView> {
  const { tenantId } = principal;
  // A repeated Idempotency-Key is answered before Cognito is touched: reused with another body (another email), it
  // must not create an identity on its way to the 422.
  if (idempotency && (await findIdempotentResponse(principal, idempotency.key))) {
    throw new IdempotentReplay(idempotency.key);
  }
  let identity: Identity;
  try {
    identity = await createIdentity(tenantId, input.email);
  } catch (error) {
    const existing = (error as { code?: string }).code === 'user.email_taken' && (await findIdentity(input.email));
    if (!existing || existing.tenantId !== tenantId) throw error;
    identity = existing;
  }
  const adopted = await readStored(tenantId, identity.sub);
  // A profile exists: only the profile write below can tell a replay of this very request from a taken email, and
  // the identity's groups must not change before it does.
  if (!adopted) await setGroups(identity, input.roles);

  const now = new Date().toISOString();
  const user: StoredUser = {
    tenantId,
    userId: identity.sub,
    email: input.email,
    name: input.name,
    roles: input.roles,
    timeZone: input.timeZone,
    ...(input.workingHours ? { workingHours: input.workingHours } : {}),
    status: 'invited',
    teamIds: [],
    sortName: sortableName(input.name),
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: principal.userId,
    updatedBy: principal.userId,
  };
  const view = toView(user);
  await writeRecords([
    {
      ...userWrite(user),
      ...(idempotency ? { idempotency: { tenantId, ...idempotency, statusCode: 201, response: view } } : {}),
    },
  ]);
  return view;
}

export async function getUser(principal: Principal, userId: string): Promise<UserView> {
  return toView(await readLive(principal, userId));
}

/** One Query: by name (default, or a name prefix), by status, by role (lookup items), or the removed users. */
export async function listUsers(
  principal: Principal,
  filters: UserListFilters,
): Promise<Page<UserView | UserSummaryView>> {
  const t = principal.tenantId;
  const page = { limit: filters.limit, cursor: filters.cursor };
  const filter = singleFilter(filters, ['status', 'role', 'q', 'inTrash']);
  if (filter === 'role') return queryLookup<UserSummaryView>(t, 'user.role', filters.role!, page);
  const result =
    filter === 'status'
      ? await queryUsers('gsi2', userIndex.status(t, filters.status!), page)
      : filter === 'inTrash'
        ? await queryUsers('gsi4', recordIndex.trash(t, 'user'), page, { order: 'desc' })
        : filter === 'q'
          ? await queryUsers('gsi4', recordIndex.name(t, 'user'), page, { begins: sortableName(filters.q) })
          : await queryUsers('gsi4', recordIndex.name(t, 'user'), page);
  return { items: result.items.map(toView), nextCursor: result.nextCursor };
}

function queryUsers(
  index: 'gsi2' | 'gsi4',
  partition: string,
  page: PageRequest,
  range?: { begins?: string; order?: 'asc' | 'desc' },
): Promise<Page<Record<string, unknown>>> {
  return queryIndex<Record<string, unknown>>('user', index, partition, page, range);
}

/** Profile fields, and roles (Cognito groups first). */
export async function patchUser(
  principal: Principal,
  userId: string,
  patch: UserPatchInput,
  ifMatch?: VersionPrecondition,
): Promise<UserView> {
  const current = await readLive(principal, userId, ifMatch);
  const next: StoredUser = { ...current };
  if (patch.name !== undefined) {
    next.name = patch.name;
    next.sortName = sortableName(patch.name);
  }
  if (patch.timeZone !== undefined) next.timeZone = patch.timeZone;
  if (patch.workingHours === null) delete next.workingHours;
  else if (patch.workingHours !== undefined) next.workingHours = patch.workingHours;
  if (patch.roles !== undefined) {
    // Cognito first: the token's groups are what authorises; the profile mirrors them.
    await setGroups(await identityOf(principal.tenantId, userId), patch.roles);
    next.roles = patch.roles;
  }
  return rewrite(principal, current, next);
}

async function rewrite(
  principal: Principal,
  current: StoredUser,
  next: StoredUser,
  extra: RecordWrite[] = [],
): Promise<UserView> {
  const unchanged = JSON.stringify({ ...current }) === JSON.stringify({ ...next });
  if (unchanged && extra.length === 0) return toView(current);
  const written: StoredUser = {
    ...next,
    version: current.version + 1,
    updatedAt: new Date().toISOString(),
    updatedBy: principal.userId,
  };
  await writeRecords([userWrite(written, current.version, current), ...extra]);
  return toView(written);
}

/**
 * Stops sign-in (Cognito), then marks the profile disabled and the user away in all their teams (one transaction), so
 * assignment and routing skip them. Enabling does not make them available again: they (or a manager) do. Repeating
 * it is harmless.
 */
export async function disableUser(principal: Principal, userId: string, ifMatch?: VersionPrecondition) {
  const current = await readLive(principal, userId, ifMatch);
  await setSignIn(await identityOf(principal.tenantId, userId), false);
  const { writes } = await availabilityWrites(principal, current.teamIds ?? [], userId, 'away');
  return rewrite(principal, current, { ...current, status: 'disabled' }, writes);
}

/** Allows sign-in again: `active` if the user has ever signed in (used the API, or Cognito CONFIRMED), else `invited`. */
export async function enableUser(principal: Principal, userId: string, ifMatch?: VersionPrecondition) {
  const current = await readLive(principal, userId, ifMatch);
  const identity = await identityOf(principal.tenantId, userId);
  await setSignIn(identity, true);
  const signedIn = current.activatedAt !== undefined || identity.status === 'CONFIRMED';
  return rewrite(principal, current, { ...current, status: signedIn ? 'active' : 'invited' });
}

/**
 * Removes a user: sign-in is disabled in Cognito (the identity is kept, so their name stays on history), the profile
 * goes to the trash and leaves every team, in one transaction. Nothing they own is reassigned: the answer lists
 * their open records (the first page; GET .../open-records for the rest).
 */
export async function removeUser(principal: Principal, userId: string, ifMatch?: VersionPrecondition) {
  const current = await readLive(principal, userId, ifMatch);
  await setSignIn(await identityOf(principal.tenantId, userId), false);
  const now = new Date().toISOString();
  const teamWrites = await memberRemovalWrites(principal, current.teamIds ?? [], userId);
  const user = await rewrite(
    principal,
    current,
    { ...current, status: 'disabled', teamIds: [], deletedAt: now, deletedBy: principal.userId },
    teamWrites,
  );
  return { user, openRecords: await openRecords(principal, userId, { limit: 25 }) };
}

/**
 * What a user still owns, for reassignment: the live records on each owned kind's owner partition (gsi1), kind by
 * kind, at most one Query per kind per page. The cursor names the kind and the key to go on from.
 */
export async function openRecords(
  principal: Principal,
  userId: string,
  page: PageRequest,
): Promise<Page<OpenRecordView>> {
  const t = principal.tenantId;
  if (!(await readStored(t, userId))) throw new NotFoundError('user', userId);
  let position = decodeOpenCursor(t, userId, page.cursor);
  const items: OpenRecordView[] = [];
  while (position && items.length < page.limit) {
    const { kind, key } = position;
    const result = await documentClient.send(
      new QueryCommand({
        TableName: tableName(),
        IndexName: 'gsi1',
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'gsi1pk' },
        ExpressionAttributeValues: { ':pk': recordIndex.owner(t, kind, userId) },
        Limit: page.limit - items.length,
        ...(key ? { ExclusiveStartKey: key } : {}),
      }),
    );
    for (const item of result.Items ?? []) items.push(openRecordOf(kind, item));
    const next = OWNED_RECORD_KINDS[OWNED_RECORD_KINDS.indexOf(kind) + 1];
    position = result.LastEvaluatedKey
      ? { kind, key: result.LastEvaluatedKey as Record<string, string> }
      : next
        ? { kind: next }
        : undefined;
  }
  return { items, nextCursor: position ? encodeOpenCursor(position) : null };
}

interface OpenPosition {
  kind: OwnedRecordKind;
  key?: Record<string, string>;
}

function openRecordOf(kind: OwnedRecordKind, item: Record<string, unknown>): OpenRecordView {
  const text = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const person = [text(item.firstName), text(item.lastName)].filter(Boolean).join(' ');
  const name = text(item.name) ?? (person || undefined) ?? text(item.title) ?? text(item.subject);
  return {
    entity: kind,
    id: String(item[`${kind}Id`] ?? ''),
    ...(name ? { name } : {}),
    ...(text(item.updatedAt) ? { updatedAt: text(item.updatedAt)! } : {}),
  };
}

const encodeOpenCursor = (position: OpenPosition) =>
  Buffer.from(
    JSON.stringify({
      kind: position.kind,
      ...(position.key ? { key: Buffer.from(JSON.stringify(position.key)).toString('base64url') } : {}),
    }),
  ).toString('base64url');

function decodeOpenCursor(tenantId: string, userId: string, cursor: string | undefined): OpenPosition | undefined {
  if (cursor === undefined) return { kind: OWNED_RECORD_KINDS[0] };
  let decoded: { kind?: unknown; key?: unknown } | undefined;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const kind = decoded?.kind as OwnedRecordKind;
  if (!decoded || typeof decoded !== 'object' || !OWNED_RECORD_KINDS.includes(kind)) {
    throw new ValidationError('The cursor does not belong to this list.', [
      { field: 'query.cursor', message: 'Pass the nextCursor returned by this list.' },
    ]);
  }
  if (decoded.key === undefined) return { kind };
  if (typeof decoded.key !== 'string') {
    throw new ValidationError('The cursor does not belong to this list.', [
      { field: 'query.cursor', message: 'Pass the nextCursor returned by this list.' },
    ]);
  }
  // The key must lie on this user's owner partition of that kind: a forged cursor reaches nothing else.
  return { kind, key: checkCursor(decoded.key, 'gsi1pk', recordIndex.owner(tenantId, kind, userId))! };
}

/**
 * The caller: their profile when they have one, else what their token says (the bootstrap admin has none). A token
 * of an invited user proves they signed in, so their first call here marks them active (once; a lost race is fine).
 */
export async function me(principal: Principal): Promise<MeView> {
  const stored = await readStored(principal.tenantId, principal.userId);
  let profile = stored && !stored.deletedAt ? toView(stored) : null;
  if (stored && profile?.status === 'invited') {
    const activated = { ...stored, status: 'active' as const, activatedAt: new Date().toISOString() };
    profile = await rewrite(principal, stored, activated).catch((error: unknown) => {
      if (error instanceof PreconditionFailedError) return profile;
      throw error;
    });
  }
  const email = profile?.email ?? principal.email;
  return {
    id: principal.userId,
    tenantId: principal.tenantId,
    ...(email ? { email } : {}),
    roles: principal.roles,
    source: profile ? 'profile' : 'token',
    profile,
  };
}
