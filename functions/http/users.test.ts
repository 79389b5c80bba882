import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminListGroupsForUserCommand,
  type CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_USER_POOL, useLocalCognito } from '../../test/support/cognito.ts';
import { makeCompany, makeContact, makeUser, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
let usersAs: (tenantId: string, roles?: string[], userId?: string) => Client;
let teamsAs: (tenantId: string, roles?: string[], userId?: string) => Client;
let contactsAs: (tenantId: string) => Client;
let companiesAs: (tenantId: string) => Client;
let cognito: CognitoIdentityProviderClient;
const tenant = uniqueTenant('users');

beforeAll(async () => {
  await useFreshTable();
  cognito = (await useLocalCognito()).client;
  const users = (await import('./users.ts')).handler;
  const teams = (await import('./teams.ts')).handler;
  const contacts = (await import('./contacts.ts')).handler;
  const companies = (await import('./companies.ts')).handler;
  usersAs = (tenantId, roles = ['admin'], userId = 'admin-1') => apiClient(users, { tenantId, roles, userId });
  teamsAs = (tenantId, roles = ['admin'], userId = 'admin-1') => apiClient(teams, { tenantId, roles, userId });
  contactsAs = (tenantId) => apiClient(contacts, { tenantId, roles: ['admin'], userId: 'admin-1' });
  companiesAs = (tenantId) => apiClient(companies, { tenantId, roles: ['admin'], userId: 'admin-1' });
});

const fieldsOf = (res: TestResponse) => ((res.body.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);
const idsOf = (res: TestResponse) => (res.body.items as Array<{ id: string }>).map((u) => u.id);

async function identity(username: string) {
  return cognito.send(new AdminGetUserCommand({ UserPoolId: TEST_USER_POOL, Username: username }));
}
async function groupsOf(username: string): Promise<string[]> {
  const { Groups } = await cognito.send(
    new AdminListGroupsForUserCommand({ UserPoolId: TEST_USER_POOL, Username: username }),
  );
  return (Groups ?? []).map((g) => g.GroupName!).sort();
}

async function invite(tenantId = tenant, overrides: Record<string, unknown> = {}) {
  const res = await usersAs(tenantId)('POST', '/v1/users', { body: makeUser(overrides) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; email: string; name: string; version: number };
}

describe('users: invite', () => {
  it('creates the Cognito identity with the tenant and a group per role, and the profile under its sub', async () => {
    const body = makeUser({ email: 'Grace.Invite@Example.com', roles: ['sales', 'support', 'sales'] });
    const res = await usersAs(tenant)('POST', '/v1/users', { body });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      email: 'grace.invite@example.com',
      name: body.name,
      roles: ['sales', 'support'],
      timeZone: 'Europe/Paris',
      workingHours: [{ day: 1, start: '09:00', end: '17:30' }],
      status: 'invited',
      teamIds: [],
      version: 1,
      createdBy: 'admin-1',
    });
    expect(res.headers.location).toBe(`/v1/users/${res.body.id}`);
    expect(res.headers.etag).toBe('"1"');
    for (const hidden of ['tenantId', 'userId', 'sortName', 'gsi2pk', 'gsi4pk', 'pk']) {
      expect(res.body).not.toHaveProperty(hidden);
    }
    const cognitoUser = await identity('grace.invite@example.com');
    expect(cognitoUser.Username).toBe(res.body.id);
    expect(cognitoUser.UserAttributes).toContainEqual({ Name: 'custom:tenantId', Value: tenant });
    expect(cognitoUser.UserAttributes).toContainEqual({ Name: 'sub', Value: res.body.id });
    expect(await groupsOf(res.body.id)).toEqual(['sales', 'support']);
    expect((await usersAs(tenant, ['readonly'])('GET', `/v1/users/${res.body.id}`)).body).toEqual(res.body);
  });

  it('refuses bad input field by field, creating nothing', async () => {
    const email = 'bad.input@example.com';
    const res = await usersAs(tenant)('POST', '/v1/users', {
      body: {
        email,
        name: '',
        roles: ['root'],
        timeZone: 'Mars/Olympus',
        workingHours: [{ day: 8, start: '18:00', end: '09:00' }],
      },
    });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(fieldsOf(res)).toEqual(
      expect.arrayContaining([
        'body.name',
        'body.roles.0',
        'body.timeZone',
        'body.workingHours.0.day',
        'body.workingHours.0.end',
      ]),
    );
    const none = await usersAs(tenant)('POST', '/v1/users', { body: makeUser({ roles: [] }) });
    expect(fieldsOf(none)).toEqual(['body.roles']);
    await expect(identity(email)).rejects.toMatchObject({ name: 'UserNotFoundException' });
  });

  it('refuses an email already registered, in this tenant or another, with 409', async () => {
    const user = await invite();
    const again = await usersAs(tenant)('POST', '/v1/users', { body: makeUser({ email: user.email.toUpperCase() }) });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('user.email_taken');
    const elsewhere = await usersAs(uniqueTenant('other'))('POST', '/v1/users', {
      body: makeUser({ email: user.email }),
    });
    expect(elsewhere.status).toBe(409);
    expect(elsewhere.body.code).toBe('user.email_taken');
    // The existing identity's groups were not touched by the refused invites.
    expect(await groupsOf(user.id)).toEqual(['sales']);
  });

  it('replays a repeated Idempotency-Key, and completes an invite whose profile was never written', async () => {
    const body = makeUser();
    const headers = { 'idempotency-key': `invite-${body.email}` };
    const first = await usersAs(tenant)('POST', '/v1/users', { body, headers });
    const second = await usersAs(tenant)('POST', '/v1/users', { body, headers });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body).toEqual(first.body);
    // The same key with another email is refused (422) without creating that identity.
    const other = makeUser();
    const reused = await usersAs(tenant)('POST', '/v1/users', { body: other, headers });
    expect(reused.status).toBe(422);
    await expect(identity(other.email as string)).rejects.toMatchObject({ name: 'UserNotFoundException' });

    // The identity exists (Cognito answered, then the function died before the profile): repeating completes it.
    const orphan = makeUser({ roles: ['manager'] });
    const created = await cognito.send(
      new AdminCreateUserCommand({
        UserPoolId: TEST_USER_POOL,
        Username: orphan.email as string,
        UserAttributes: [{ Name: 'custom:tenantId', Value: tenant }],
      }),
    );
    const completed = await usersAs(tenant)('POST', '/v1/users', { body: orphan });
    expect(completed.status).toBe(201);
    expect(completed.body.id).toBe(created.User?.Username);
    expect(await groupsOf(completed.body.id)).toEqual(['manager']);
  });

  it('lets only users:manage invite or change users; every role reads', async () => {
    const user = await invite();
    for (const role of ['manager', 'sales', 'support', 'marketing', 'readonly']) {
      const as = usersAs(tenant, [role]);
      expect((await as('POST', '/v1/users', { body: makeUser() })).status, role).toBe(403);
      expect((await as('PATCH', `/v1/users/${user.id}`, { body: { name: 'X' } })).status, role).toBe(403);
      expect((await as('POST', `/v1/users/${user.id}/disable`)).status, role).toBe(403);
      expect((await as('DELETE', `/v1/users/${user.id}`)).status, role).toBe(403);
      expect((await as('GET', `/v1/users/${user.id}`)).status, role).toBe(200);
      expect((await as('GET', '/v1/users')).status, role).toBe(200);
    }
  });
});

describe('users: lists', () => {
  it('lists by name with cursors, by status and by name prefix; refuses two filters and a forged cursor', async () => {
    const t = uniqueTenant('ulist');
    const names = ['Charlie Zed', 'alice Zed', 'Bob Zed', 'Émile Zed'];
    const made: Record<string, string> = {};
    for (const name of names) made[name] = (await invite(t, { name })).id;
    const as = usersAs(t, ['readonly']);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: TestResponse = await as('GET', `/v1/users?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((u: { name: string }) => u.name));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['alice Zed', 'Bob Zed', 'Charlie Zed', 'Émile Zed']);
    expect(idsOf(await as('GET', '/v1/users?q=emi'))).toEqual([made['Émile Zed']]);

    await usersAs(t)('POST', `/v1/users/${made['Bob Zed']}/disable`);
    expect(idsOf(await as('GET', '/v1/users?status=disabled'))).toEqual([made['Bob Zed']]);
    expect(idsOf(await as('GET', '/v1/users?status=invited'))).toHaveLength(3);

    // By role: summaries from the role lookups, kept in step with role changes and removals.
    await usersAs(t)('PATCH', `/v1/users/${made['alice Zed']}`, { body: { roles: ['manager', 'sales'] } });
    await usersAs(t)('PATCH', `/v1/users/${made['Charlie Zed']}`, { body: { roles: ['manager'] } });
    const managers = await as('GET', '/v1/users?role=manager');
    expect(managers.body.items).toEqual(
      [
        {
          id: made['alice Zed'],
          name: 'alice Zed',
          email: expect.any(String),
          roles: ['manager', 'sales'],
          status: 'invited',
        },
        {
          id: made['Charlie Zed'],
          name: 'Charlie Zed',
          email: expect.any(String),
          roles: ['manager'],
          status: 'invited',
        },
      ].sort((a, b) => (String(a.id) < String(b.id) ? -1 : 1)),
    );
    expect(idsOf(await as('GET', '/v1/users?role=sales')).sort()).toEqual(
      [made['alice Zed'], made['Bob Zed'], made['Émile Zed']].sort(),
    );
    await usersAs(t)('DELETE', `/v1/users/${made['Charlie Zed']}`);
    expect(idsOf(await as('GET', '/v1/users?role=manager'))).toEqual([made['alice Zed']]);
    expect((await as('GET', '/v1/users?role=root')).status).toBe(400);

    const both = await as('GET', '/v1/users?status=invited&q=a');
    expect(both.status).toBe(400);
    const page = await as('GET', '/v1/users?limit=1');
    const forged = await usersAs(uniqueTenant('thief'), ['readonly'])(
      'GET',
      `/v1/users?cursor=${page.body.nextCursor}`,
    );
    expect(forged.status).toBe(400);
    expect(fieldsOf(forged)).toEqual(['query.cursor']);
    expect((await as('GET', '/v1/users?status=gone')).status).toBe(400);
  });
});

describe('users: changes', () => {
  it('changes roles in Cognito and the profile, honours If-Match and clears working hours', async () => {
    const user = await invite();
    const admin = usersAs(tenant);
    const stale = await admin('PATCH', `/v1/users/${user.id}`, {
      body: { roles: ['manager'] },
      headers: { 'if-match': '"7"' },
    });
    expect(stale.status).toBe(412);
    expect(await groupsOf(user.id)).toEqual(['sales']);

    const res = await admin('PATCH', `/v1/users/${user.id}`, {
      body: {
        roles: ['manager', 'marketing'],
        name: 'Renamed Person',
        timeZone: 'America/New_York',
        workingHours: null,
      },
      headers: { 'if-match': '"1"' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ roles: ['manager', 'marketing'], name: 'Renamed Person', version: 2 });
    expect(res.body).not.toHaveProperty('workingHours');
    expect(res.headers.etag).toBe('"2"');
    expect(await groupsOf(user.id)).toEqual(['manager', 'marketing']);
    const bad = await admin('PATCH', `/v1/users/${user.id}`, { body: { timeZone: 'Nowhere/Land', email: 'x@y.z' } });
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad)).toEqual(['body.timeZone', 'body.email']);
  });

  it('disables and enables sign-in in Cognito, with the profile status following', async () => {
    const user = await invite();
    const admin = usersAs(tenant);
    const disabled = await admin('POST', `/v1/users/${user.id}/disable`);
    expect(disabled.status).toBe(200);
    expect(disabled.body.status).toBe('disabled');
    expect((await identity(user.id)).Enabled).toBe(false);
    expect((await admin('POST', `/v1/users/${user.id}/disable`)).body.status).toBe('disabled');
    const enabled = await admin('POST', `/v1/users/${user.id}/enable`, { headers: { 'if-match': '"2"' } });
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ status: 'invited', version: 3 });
    expect((await identity(user.id)).Enabled).toBe(true);
  });
});

describe('users: tenant isolation', () => {
  it("gives another tenant's admin nothing: 404 on every route, and the identity is untouched", async () => {
    const user = await invite();
    const thief = usersAs(uniqueTenant('thief'));
    expect((await thief('GET', `/v1/users/${user.id}`)).status).toBe(404);
    expect((await thief('PATCH', `/v1/users/${user.id}`, { body: { roles: ['admin'] } })).status).toBe(404);
    expect((await thief('POST', `/v1/users/${user.id}/disable`)).status).toBe(404);
    expect((await thief('POST', `/v1/users/${user.id}/enable`)).status).toBe(404);
    expect((await thief('DELETE', `/v1/users/${user.id}`)).status).toBe(404);
    expect((await thief('GET', `/v1/users/${user.id}/open-records`)).status).toBe(404);
    expect(idsOf(await thief('GET', '/v1/users'))).not.toContain(user.id);
    expect((await identity(user.id)).Enabled).toBe(true);
    expect(await groupsOf(user.id)).toEqual(['sales']);
  });

  it("checks the identity's custom:tenantId before changing it, even when a profile claims the id", async () => {
    const victim = await invite();
    // A profile in tenant B under A's user id (as a bug or a forged import might leave): B's admin still cannot
    // reach A's Cognito identity, because its tenant attribute is checked before every change.
    const b = uniqueTenant('forger');
    const { model } = await import('../../shared/db/store.ts');
    const { userKeys } = await import('../../shared/db/keys.ts');
    const now = new Date().toISOString();
    const forged = {
      tenantId: b,
      userId: victim.id,
      email: victim.email,
      name: 'Forged',
      roles: ['sales'],
      timeZone: 'UTC',
      status: 'invited' as const,
      teamIds: [],
      sortName: 'forged',
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    await model.entities.user.create({ ...forged, ...userKeys(forged) }).go();
    const thief = usersAs(b);
    expect((await thief('POST', `/v1/users/${victim.id}/disable`)).status).toBe(404);
    expect((await thief('PATCH', `/v1/users/${victim.id}`, { body: { roles: ['admin'] } })).status).toBe(404);
    expect((await thief('DELETE', `/v1/users/${victim.id}`)).status).toBe(404);
    expect((await identity(victim.id)).Enabled).toBe(true);
    expect(await groupsOf(victim.id)).toEqual(['sales']);
  });
});

describe('users: removal and open records', () => {
  it('disables sign-in, trashes the profile, leaves every team and lists what they own (nothing reassigned)', async () => {
    const t = uniqueTenant('remove');
    const user = await invite(t);
    const team = await teamsAs(t)('POST', '/v1/teams', { body: { name: 'Inside', leadUserId: user.id } });
    await teamsAs(t)('POST', `/v1/teams/${team.body.id}/members`, { body: { userId: user.id } });
    const contact = await contactsAs(t)('POST', '/v1/contacts', { body: makeContact({ ownerId: user.id }) });
    const company = await companiesAs(t)('POST', '/v1/companies', { body: makeCompany({ ownerId: user.id }) });

    const removed = await usersAs(t)('DELETE', `/v1/users/${user.id}`, { headers: { 'if-match': '"2"' } });
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(removed.body.user).toMatchObject({ id: user.id, status: 'disabled', teamIds: [] });
    expect(removed.body.user.deletedAt).toBeDefined();
    expect(removed.body.openRecords.items).toEqual([
      expect.objectContaining({ entity: 'contact', id: contact.body.id }),
      expect.objectContaining({ entity: 'company', id: company.body.id, name: company.body.name }),
    ]);
    expect((await identity(user.id)).Enabled).toBe(false);
    expect((await usersAs(t)('GET', `/v1/users/${user.id}`)).status).toBe(404);
    expect(idsOf(await usersAs(t)('GET', '/v1/users?inTrash=true'))).toEqual([user.id]);
    const after = await teamsAs(t)('GET', `/v1/teams/${team.body.id}`);
    expect(after.body.members).toEqual([]);
    expect(after.body).not.toHaveProperty('leadUserId');
    // Their records still name them: reassignment is the caller's decision.
    expect((await contactsAs(t)('GET', `/v1/contacts/${contact.body.id}`)).body.ownerId).toBe(user.id);
    expect((await usersAs(t)('DELETE', `/v1/users/${user.id}`)).status).toBe(404);
  });

  it('pages open records across kinds with a cursor naming the kind and key, and refuses forged cursors', async () => {
    const t = uniqueTenant('open');
    const user = await invite(t);
    const contacts: string[] = [];
    for (const lastName of ['A', 'B', 'C']) {
      contacts.push(
        (await contactsAs(t)('POST', '/v1/contacts', { body: makeContact({ ownerId: user.id, lastName }) })).body.id,
      );
    }
    const companies: string[] = [];
    for (const name of ['Alpha Co', 'Beta Co']) {
      companies.push(
        (await companiesAs(t)('POST', '/v1/companies', { body: makeCompany({ ownerId: user.id, name }) })).body.id,
      );
    }
    const reader = usersAs(t, ['readonly']);
    const seen: string[] = [];
    const cursors: string[] = [];
    let cursor: string | null = null;
    do {
      const res: TestResponse = await reader(
        'GET',
        `/v1/users/${user.id}/open-records?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((r: { entity: string; id: string }) => `${r.entity}:${r.id}`));
      cursor = res.body.nextCursor;
      if (cursor) cursors.push(cursor);
    } while (cursor);
    expect(seen).toEqual([...contacts.map((id) => `contact:${id}`), ...companies.map((id) => `company:${id}`)]);

    const other = await invite(t);
    const withKey = cursors.find((c) => JSON.parse(Buffer.from(c, 'base64url').toString()).key);
    const stolen = await reader('GET', `/v1/users/${other.id}/open-records?cursor=${withKey}`);
    expect(stolen.status).toBe(400);
    expect(fieldsOf(stolen)).toEqual(['query.cursor']);
    for (const bad of [
      'x',
      Buffer.from('{"kind":"invoice"}').toString('base64url'),
      Buffer.from('{"kind":"deal","key":5}').toString('base64url'),
    ]) {
      expect((await reader('GET', `/v1/users/${user.id}/open-records?cursor=${bad}`)).status, bad).toBe(400);
    }
  });
});

describe('GET /v1/me', () => {
  it('answers from the token when the caller has no profile, else with the profile', async () => {
    const bootstrap = await usersAs(tenant, ['admin'], 'bootstrap-admin')('GET', '/v1/me');
    expect(bootstrap.status).toBe(200);
    expect(bootstrap.body).toEqual({
      id: 'bootstrap-admin',
      tenantId: tenant,
      roles: ['admin'],
      source: 'token',
      profile: null,
    });
    const user = await invite();
    const me = await usersAs(tenant, ['sales'], user.id)('GET', '/v1/me');
    expect(me.body.profile).toMatchObject({ status: 'active', version: 2 });
    expect((await usersAs(tenant, ['sales'], user.id)('GET', '/v1/me')).body.profile.version).toBe(2);
    expect(me.body.profile.activatedAt).toBeDefined();
    // Re-enabled after a disable, a user who has signed in is active again (not invited).
    await usersAs(tenant)('POST', `/v1/users/${user.id}/disable`);
    expect((await usersAs(tenant)('POST', `/v1/users/${user.id}/enable`)).body.status).toBe('active');
    expect(me.body).toMatchObject({
      id: user.id,
      email: user.email,
      source: 'profile',
      profile: { id: user.id, name: user.name },
    });
  });
});
