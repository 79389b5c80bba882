import { ulid } from 'ulid';
import type { Principal } from '../auth/principal.ts';
import { itemView } from '../db/item-view.ts';
import { recordIndex, sortableName, teamKeys, userKeys } from '../db/keys.ts';
import { model, type RecordWrite, type ReferenceCheck, writeRecords } from '../db/store.ts';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import { type Page, queryIndex, singleFilter } from '../records/lists.ts';
import {
  type AvailabilityResultView,
  MAX_TEAM_MEMBERS,
  MAX_TEAMS_PER_USER,
  type MemberAddInput,
  type MemberPatchInput,
  type TeamCreateInput,
  type TeamListFilters,
  type TeamMemberView,
  type TeamPatchInput,
  type TeamView,
} from './schema.ts';

/**
 * Teams: one item per team holding its members (availability, capacity), so assignment and routing read a roster
 * with one GetItem (getTeamRoster, ./members.ts). A user's profile lists their teamIds; every membership change
 * writes the team and the user's profile in one transaction, each conditioned on the version read, so the two
 * never disagree.
 */

type StoredTeam = Omit<TeamView, 'id'> & { tenantId: string; teamId: string; sortName: string; deletedBy?: string };
type StoredUser = Record<string, unknown> & {
  tenantId: string;
  userId: string;
  sortName: string;
  status: string;
  version: number;
  updatedAt: string;
  teamIds?: string[];
  deletedAt?: string;
};

const toView = (stored: Record<string, unknown>): TeamView =>
  ({ members: [], ...itemView(stored, 'teamId') }) as unknown as TeamView;

function teamWrite(next: StoredTeam, expectedVersion?: number): RecordWrite {
  return {
    entity: 'team',
    item: { ...next, ...teamKeys(next) },
    ...(expectedVersion === undefined ? {} : { expectedVersion }),
    onVersionConflict: () => new PreconditionFailedError('team', next.teamId),
  };
}

function bumped<T extends { version: number; updatedAt: string; updatedBy?: string }>(
  principal: Principal,
  current: T,
  changes: Partial<T>,
): T {
  return {
    ...current,
    ...changes,
    version: current.version + 1,
    updatedAt: new Date().toISOString(),
    updatedBy: principal.userId,
  };
}

/** The user's profile with a changed list of teams, conditioned on the version read. */
function userTeamsWrite(principal: Principal, user: StoredUser, teamIds: string[]): RecordWrite {
  const next = bumped(principal, user, { teamIds } as Partial<StoredUser>);
  return {
    entity: 'user',
    item: { ...next, ...userKeys(next) },
    expectedVersion: user.version,
    onVersionConflict: () => new PreconditionFailedError('user', user.userId),
  };
}

const liveUserCheck = (tenantId: string, userId: string): ReferenceCheck => ({
  entity: 'user',
  key: { tenantId, userId },
  error: new NotFoundError('user', userId),
});

async function readTeam(principal: Principal, teamId: string, ifMatch?: VersionPrecondition): Promise<StoredTeam> {
  const { data } = await model.entities.team.get({ tenantId: principal.tenantId, teamId }).go();
  if (!data || data.deletedAt) throw new NotFoundError('team', teamId);
  if (ifMatch && !ifMatch.matches(data.version)) throw new PreconditionFailedError('team', teamId);
  return data as unknown as StoredTeam;
}

async function readUser(tenantId: string, userId: string): Promise<StoredUser> {
  const { data } = await model.entities.user.get({ tenantId, userId }).go();
  if (!data || data.deletedAt) throw new NotFoundError('user', userId);
  return data as unknown as StoredUser;
}

export async function createTeam(
  principal: Principal,
  input: TeamCreateInput,
  idempotency?: ApiRequest['idempotency'],
): Promise<TeamView> {
  const now = new Date().toISOString();
  const team: StoredTeam = {
    tenantId: principal.tenantId,
    teamId: ulid(),
    name: input.name,
    ...(input.description ? { description: input.description } : {}),
    ...(input.leadUserId ? { leadUserId: input.leadUserId } : {}),
    members: [],
    sortName: sortableName(input.name),
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: principal.userId,
    updatedBy: principal.userId,
  };
  const view = toView(team);
  await writeRecords([
    {
      ...teamWrite(team),
      ...(input.leadUserId ? { references: [liveUserCheck(principal.tenantId, input.leadUserId)] } : {}),
      ...(idempotency
        ? { idempotency: { tenantId: principal.tenantId, ...idempotency, statusCode: 201, response: view } }
        : {}),
    },
  ]);
  return view;
}

export async function getTeam(principal: Principal, teamId: string): Promise<TeamView> {
  return toView(await readTeam(principal, teamId));
}

/** One Query on the name index (all teams by name, or a name prefix). */
export async function listTeams(principal: Principal, filters: TeamListFilters): Promise<Page<TeamView>> {
  const page = { limit: filters.limit, cursor: filters.cursor };
  const partition = recordIndex.name(principal.tenantId, 'team');
  const filter = singleFilter(filters, ['q']);
  const result = await queryIndex<Record<string, unknown>>(
    'team',
    'gsi4',
    partition,
    page,
    filter === 'q' ? { begins: sortableName(filters.q) } : undefined,
  );
  return { items: result.items.map(toView), nextCursor: result.nextCursor };
}

export async function patchTeam(
  principal: Principal,
  teamId: string,
  patch: TeamPatchInput,
  ifMatch?: VersionPrecondition,
): Promise<TeamView> {
  const current = await readTeam(principal, teamId, ifMatch);
  const next: StoredTeam = { ...current };
  if (patch.name !== undefined) {
    next.name = patch.name;
    next.sortName = sortableName(patch.name);
  }
  if (patch.description === null) delete next.description;
  else if (patch.description !== undefined) next.description = patch.description;
  if (patch.leadUserId === null) delete next.leadUserId;
  else if (patch.leadUserId !== undefined) next.leadUserId = patch.leadUserId;
  if (JSON.stringify(next) === JSON.stringify(current)) return toView(current);
  const written = bumped(principal, next, {});
  await writeRecords([
    {
      ...teamWrite(written, current.version),
      ...(patch.leadUserId ? { references: [liveUserCheck(principal.tenantId, patch.leadUserId)] } : {}),
    },
  ]);
  return toView(written);
}

/** Soft delete: the team goes to the trash and leaves each member's profile, in one transaction. */
export async function deleteTeam(principal: Principal, teamId: string, ifMatch?: VersionPrecondition): Promise<void> {
  const current = await readTeam(principal, teamId, ifMatch);
  const users = await Promise.all(current.members.map((m) => readUser(principal.tenantId, m.userId).catch(() => null)));
  const userWrites = users
    .filter((u): u is StoredUser => u !== null)
    .map((u) =>
      userTeamsWrite(
        principal,
        u,
        (u.teamIds ?? []).filter((id) => id !== teamId),
      ),
    );
  const now = new Date().toISOString();
  const deleted = bumped(principal, current, { deletedAt: now, deletedBy: principal.userId, members: [] });
  await writeRecords([teamWrite(deleted, current.version), ...userWrites]);
}

/** Adds a live user: the team's members and the user's teamIds change together. */
export async function addMember(
  principal: Principal,
  teamId: string,
  input: MemberAddInput,
  idempotency?: ApiRequest['idempotency'],
): Promise<TeamView> {
  const [team, user] = await Promise.all([readTeam(principal, teamId), readUser(principal.tenantId, input.userId)]);
  if (team.members.some((m) => m.userId === input.userId)) {
    throw new ConflictError('team.member_exists', `User ${input.userId} is already a member of team ${teamId}.`);
  }
  if (team.members.length >= MAX_TEAM_MEMBERS) {
    throw new ConflictError('team.full', `A team has at most ${MAX_TEAM_MEMBERS} members.`);
  }
  const teamIds = user.teamIds ?? [];
  if (teamIds.length >= MAX_TEAMS_PER_USER) {
    throw new ConflictError('user.too_many_teams', `A user belongs to at most ${MAX_TEAMS_PER_USER} teams.`);
  }
  const member: TeamMemberView = {
    userId: input.userId,
    availability: input.availability,
    ...(input.capacity !== undefined ? { capacity: input.capacity } : {}),
  };
  const next = bumped(principal, team, { members: [...team.members, member] });
  const view = toView(next);
  await writeRecords([
    {
      ...teamWrite(next, team.version),
      ...(idempotency
        ? { idempotency: { tenantId: principal.tenantId, ...idempotency, statusCode: 201, response: view } }
        : {}),
    },
    userTeamsWrite(principal, user, [...teamIds, teamId]),
  ]);
  return view;
}

function memberOf(team: StoredTeam, userId: string): TeamMemberView {
  const member = team.members.find((m) => m.userId === userId);
  if (!member) throw new NotFoundError('team_member', userId);
  return member;
}

export async function patchMember(
  principal: Principal,
  teamId: string,
  userId: string,
  patch: MemberPatchInput,
  ifMatch?: VersionPrecondition,
): Promise<TeamView> {
  const team = await readTeam(principal, teamId, ifMatch);
  const current = memberOf(team, userId);
  const changed: TeamMemberView = { ...current, ...(patch.availability ? { availability: patch.availability } : {}) };
  if (patch.capacity === null) delete changed.capacity;
  else if (patch.capacity !== undefined) changed.capacity = patch.capacity;
  if (JSON.stringify(changed) === JSON.stringify(current)) return toView(team);
  const next = bumped(principal, team, { members: team.members.map((m) => (m.userId === userId ? changed : m)) });
  await writeRecords([teamWrite(next, team.version)]);
  return toView(next);
}

export async function removeMember(
  principal: Principal,
  teamId: string,
  userId: string,
  ifMatch?: VersionPrecondition,
): Promise<void> {
  const team = await readTeam(principal, teamId, ifMatch);
  memberOf(team, userId);
  const next = bumped(principal, team, { members: team.members.filter((m) => m.userId !== userId) });
  const { data: user } = await model.entities.user.get({ tenantId: principal.tenantId, userId }).go();
  const profile = user as unknown as StoredUser | null;
  await writeRecords([
    teamWrite(next, team.version),
    ...(profile && !profile.deletedAt
      ? [
          userTeamsWrite(
            principal,
            profile,
            (profile.teamIds ?? []).filter((id) => id !== teamId),
          ),
        ]
      : []),
  ]);
}

/**
 * The team writes that take a user out of these teams (and off their lead), for the user's removal to send in its
 * own transaction with the profile. Teams already gone are skipped.
 */
export async function memberRemovalWrites(
  principal: Principal,
  teamIds: readonly string[],
  userId: string,
): Promise<RecordWrite[]> {
  const teams = await Promise.all(teamIds.map((id) => readTeam(principal, id).catch(() => null)));
  return teams
    .filter((t): t is StoredTeam => t !== null)
    .map((team) => {
      const next = bumped(principal, team, { members: team.members.filter((m) => m.userId !== userId) });
      if (next.leadUserId === userId) delete next.leadUserId;
      return teamWrite(next, team.version);
    });
}

/** The team writes that set a user's availability in these teams (only those where it changes). */
export async function availabilityWrites(
  principal: Principal,
  teamIds: readonly string[],
  userId: string,
  availability: TeamMemberView['availability'],
): Promise<{ teams: StoredTeam[]; writes: RecordWrite[] }> {
  const teams = (await Promise.all(teamIds.map((id) => readTeam(principal, id).catch(() => null)))).filter(
    (t): t is StoredTeam => t !== null,
  );
  const writes = teams
    .filter((team) => team.members.some((m) => m.userId === userId && m.availability !== availability))
    .map((team) =>
      teamWrite(
        bumped(principal, team, {
          members: team.members.map((m) => (m.userId === userId ? { ...m, availability } : m)),
        }),
        team.version,
      ),
    );
  return { teams, writes };
}

/** Sets the caller's availability in every team they belong to, in one transaction. */
export async function setMyAvailability(
  principal: Principal,
  availability: TeamMemberView['availability'],
): Promise<AvailabilityResultView> {
  const user = await readUser(principal.tenantId, principal.userId);
  const { teams, writes } = await availabilityWrites(principal, user.teamIds ?? [], principal.userId, availability);
  if (writes.length > 0) await writeRecords(writes);
  return { availability, teams: teams.map((t) => ({ id: t.teamId, name: t.name })) };
}
