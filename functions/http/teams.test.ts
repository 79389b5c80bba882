import { beforeAll, describe, expect, it } from 'vitest';
import { useLocalCognito } from '../../test/support/cognito.ts';
import { makeUser, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
let usersAs: (tenantId: string, roles?: string[], userId?: string) => Client;
let teamsAs: (tenantId: string, roles?: string[], userId?: string) => Client;
let getTeamRoster: typeof import('../../shared/teams/members.ts').getTeamRoster;
let findUser: typeof import('../../shared/users/directory.ts').findUser;

beforeAll(async () => {
  await useFreshTable();
  await useLocalCognito();
  const users = (await import('./users.ts')).handler;
  const teams = (await import('./teams.ts')).handler;
  ({ getTeamRoster } = await import('../../shared/teams/members.ts'));
  ({ findUser } = await import('../../shared/users/directory.ts'));
  usersAs = (tenantId, roles = ['admin'], userId = 'admin-1') => apiClient(users, { tenantId, roles, userId });
  teamsAs = (tenantId, roles = ['manager'], userId = 'manager-1') => apiClient(teams, { tenantId, roles, userId });
});

const fieldsOf = (res: TestResponse) => ((res.body.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);

async function invite(tenantId: string): Promise<string> {
  const res = await usersAs(tenantId)('POST', '/v1/users', { body: makeUser() });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function newTeam(tenantId: string, body: Record<string, unknown> = { name: 'Inside sales' }): Promise<string> {
  const res = await teamsAs(tenantId)('POST', '/v1/teams', { body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

describe('teams', () => {
  it('creates (idempotently), reads, lists by name, patches and deletes a team', async () => {
    const t = uniqueTenant('teams');
    const lead = await invite(t);
    const as = teamsAs(t);
    const headers = { 'idempotency-key': 'team-1' };
    const body = { name: 'Field Sales', description: 'On the road', leadUserId: lead };
    const created = await as('POST', '/v1/teams', { body, headers });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Field Sales', leadUserId: lead, members: [], version: 1 });
    expect(created.headers.location).toBe(`/v1/teams/${created.body.id}`);
    const replay = await as('POST', '/v1/teams', { body, headers });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.id).toBe(created.body.id);
    const id = created.body.id;

    await newTeam(t, { name: 'Accounts' });
    await newTeam(t, { name: 'Zulu' });
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const res: TestResponse = await teamsAs(t, ['readonly'])(
        'GET',
        `/v1/teams?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      names.push(...res.body.items.map((x: { name: string }) => x.name));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(names).toEqual(['Accounts', 'Field Sales', 'Zulu']);
    expect((await as('GET', '/v1/teams?q=fie')).body.items.map((x: { id: string }) => x.id)).toEqual([id]);

    const stale = await as('PATCH', `/v1/teams/${id}`, { body: { name: 'X' }, headers: { 'if-match': '"9"' } });
    expect(stale.status).toBe(412);
    const patched = await as('PATCH', `/v1/teams/${id}`, {
      body: { name: 'Field Sales EMEA', description: null, leadUserId: null },
      headers: { 'if-match': '"1"' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'Field Sales EMEA', version: 2 });
    expect(patched.body).not.toHaveProperty('description');
    expect(patched.body).not.toHaveProperty('leadUserId');

    expect((await as('DELETE', `/v1/teams/${id}`)).status).toBe(204);
    expect((await as('GET', `/v1/teams/${id}`)).status).toBe(404);
    expect(await getTeamRoster(t, id)).toBeUndefined();
  });

  it('refuses a lead who is not a live user, and bad input field by field', async () => {
    const t = uniqueTenant('teams');
    const as = teamsAs(t);
    const missing = await as('POST', '/v1/teams', { body: { name: 'Nobody leads', leadUserId: 'no-such-user' } });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('user.not_found');
    const bad = await as('POST', '/v1/teams', { body: { name: '', extra: 1 } });
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad)).toEqual(['body.name', 'body.extra']);
    expect((await as('GET', '/v1/teams')).body.items).toEqual([]);
  });

  it('adds, changes and removes members, keeping the team and the user profile in step', async () => {
    const t = uniqueTenant('members');
    const [ada, bob] = [await invite(t), await invite(t)];
    const teamId = await newTeam(t);
    const as = teamsAs(t);
    const added = await as('POST', `/v1/teams/${teamId}/members`, { body: { userId: ada, capacity: 10 } });
    expect(added.status).toBe(201);
    expect(added.body.members).toEqual([{ userId: ada, availability: 'available', capacity: 10 }]);
    await as('POST', `/v1/teams/${teamId}/members`, { body: { userId: bob, availability: 'away' } });
    expect((await findUser(t, ada))?.teamIds).toEqual([teamId]);

    const again = await as('POST', `/v1/teams/${teamId}/members`, { body: { userId: ada } });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('team.member_exists');
    const stranger = await as('POST', `/v1/teams/${teamId}/members`, { body: { userId: 'not-a-user' } });
    expect(stranger.status).toBe(404);
    const badCapacity = await as('POST', `/v1/teams/${teamId}/members`, { body: { userId: bob, capacity: -1 } });
    expect(fieldsOf(badCapacity)).toEqual(['body.capacity']);

    const patched = await as('PATCH', `/v1/teams/${teamId}/members/${ada}`, {
      body: { availability: 'away', capacity: null },
      headers: { 'if-match': '"3"' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.members[0]).toEqual({ userId: ada, availability: 'away' });
    expect((await as('PATCH', `/v1/teams/${teamId}/members/nobody`, { body: { capacity: 1 } })).status).toBe(404);

    const roster = await getTeamRoster(t, teamId);
    expect(roster?.members).toEqual([
      { userId: ada, availability: 'away' },
      { userId: bob, availability: 'away' },
    ]);

    expect((await as('DELETE', `/v1/teams/${teamId}/members/${bob}`)).status).toBe(204);
    expect((await findUser(t, bob))?.teamIds).toEqual([]);
    expect((await getTeamRoster(t, teamId))?.members.map((m) => m.userId)).toEqual([ada]);

    // Deleting the team takes it off the remaining member's profile in the same transaction.
    expect((await as('DELETE', `/v1/teams/${teamId}`)).status).toBe(204);
    expect((await findUser(t, ada))?.teamIds).toEqual([]);
  });

  it('PUT /v1/me/availability sets the caller in all their teams, for any role', async () => {
    const t = uniqueTenant('avail');
    const me = await invite(t);
    const other = await invite(t);
    const [one, two] = [await newTeam(t, { name: 'One' }), await newTeam(t, { name: 'Two' })];
    for (const teamId of [one, two]) {
      await teamsAs(t)('POST', `/v1/teams/${teamId}/members`, { body: { userId: me } });
      await teamsAs(t)('POST', `/v1/teams/${teamId}/members`, { body: { userId: other } });
    }
    const res = await teamsAs(t, ['readonly'], me)('PUT', '/v1/me/availability', { body: { availability: 'away' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      availability: 'away',
      teams: expect.arrayContaining([
        { id: one, name: 'One' },
        { id: two, name: 'Two' },
      ]),
    });
    for (const teamId of [one, two]) {
      const members = (await getTeamRoster(t, teamId))!.members;
      expect(members.find((m) => m.userId === me)?.availability).toBe('away');
      expect(members.find((m) => m.userId === other)?.availability).toBe('available');
    }
    const bad = await teamsAs(t, ['sales'], me)('PUT', '/v1/me/availability', { body: { availability: 'busy' } });
    expect(fieldsOf(bad)).toEqual(['body.availability']);
    // Disabling a user marks them away in every team (assignment skips them); the others are untouched.
    await teamsAs(t, ['sales'], me)('PUT', '/v1/me/availability', { body: { availability: 'available' } });
    expect((await usersAs(t)('POST', `/v1/users/${me}/disable`)).status).toBe(200);
    for (const teamId of [one, two]) {
      const members = (await getTeamRoster(t, teamId))!.members;
      expect(members.find((m) => m.userId === me)?.availability).toBe('away');
      expect(members.find((m) => m.userId === other)?.availability).toBe('available');
    }
    const noProfile = await teamsAs(t, ['admin'], 'bootstrap')('PUT', '/v1/me/availability', {
      body: { availability: 'away' },
    });
    expect(noProfile.status).toBe(404);
  });

  it('lets only teams:manage change teams; every role reads', async () => {
    const t = uniqueTenant('troles');
    const teamId = await newTeam(t);
    for (const role of ['sales', 'support', 'marketing', 'readonly']) {
      const as = teamsAs(t, [role]);
      expect((await as('POST', '/v1/teams', { body: { name: 'X' } })).status, role).toBe(403);
      expect((await as('PATCH', `/v1/teams/${teamId}`, { body: { name: 'X' } })).status, role).toBe(403);
      expect((await as('POST', `/v1/teams/${teamId}/members`, { body: { userId: 'u' } })).status, role).toBe(403);
      expect((await as('DELETE', `/v1/teams/${teamId}`)).status, role).toBe(403);
      expect((await as('GET', `/v1/teams/${teamId}`)).status, role).toBe(200);
    }
  });

  it("keeps tenants apart: another tenant's team and users are not found", async () => {
    const a = uniqueTenant('ta');
    const b = uniqueTenant('tb');
    const teamId = await newTeam(a);
    const userB = await invite(b);
    const userA = await invite(a);
    const thief = teamsAs(b);
    expect((await thief('GET', `/v1/teams/${teamId}`)).status).toBe(404);
    expect((await thief('PATCH', `/v1/teams/${teamId}`, { body: { name: 'Mine' } })).status).toBe(404);
    expect((await thief('POST', `/v1/teams/${teamId}/members`, { body: { userId: userB } })).status).toBe(404);
    expect((await thief('DELETE', `/v1/teams/${teamId}`)).status).toBe(404);
    expect((await thief('GET', '/v1/teams')).body.items).toEqual([]);
    // A's team cannot take B's user, nor B's team A's user.
    expect((await teamsAs(a)('POST', `/v1/teams/${teamId}/members`, { body: { userId: userB } })).status).toBe(404);
    const teamB = await newTeam(b);
    expect((await thief('POST', `/v1/teams/${teamB}/members`, { body: { userId: userA } })).status).toBe(404);
  });
});
