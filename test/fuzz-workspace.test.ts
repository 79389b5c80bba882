/**
 * Property-based fuzzing of the workspace endpoints (users, /v1/me, teams): no malformed input gets a 5xx or changes
 * stored data, in the table or in the user pool. Handlers are called with API Gateway events against DynamoDB Local
 * and the local Cognito (through the SDK, as in AWS). fast-check prints the seed of a failure; replay with `{ seed }`.
 */
import { AdminGetUserCommand, AdminListGroupsForUserCommand } from '@aws-sdk/client-cognito-identity-provider';
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { TEST_USER_POOL, useLocalCognito } from './support/cognito.ts';
import { makeUser, uniqueTenant } from './support/factories.ts';
import { apiClient, type TestResponse } from './support/http-event.ts';
import { useFreshTable } from './support/table.ts';

const SCALE = Number(process.env.FUZZ_RUNS_SCALE ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
vi.setConfig({ testTimeout: 90_000 * Math.max(1, SCALE) });

type Client = ReturnType<typeof apiClient>;
const A = uniqueTenant('wfuzz');
const B = uniqueTenant('wother');
let users: Record<'A' | 'B', Client>;
let teams: Record<'A' | 'B', Client>;
let cognito: Awaited<ReturnType<typeof useLocalCognito>>['client'];
let model: typeof import('../shared/db/store.ts').model;
const seeded = {
  A: { users: [] as string[], teams: [] as string[] },
  B: { users: [] as string[], teams: [] as string[] },
};

const NASTY = ['', ' ', '\u0000', '\n', '\u202e', '\ud800', '😀', '#', '../', '%00', '__proto__', 'İ', 'ﷺ', '~', 'a@b'];
const nasty = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.constantFrom(70, 201, 255, 2001, 70_000).map((n) => 'x'.repeat(n)),
);
const scalar = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), nasty);
const junk: fc.Arbitrary<unknown> = fc.oneof(
  scalar,
  fc.array(scalar, { maxLength: 4 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(nasty, scalar, { maxKeys: 4 }),
);
const roleLike = fc.oneof(fc.constantFrom('admin', 'sales', 'readonly', 'ADMIN', 'root', ''), nasty);
const zone = fc.oneof(fc.constantFrom('UTC', 'Europe/Paris', 'Mars/Base', 'utc', '+01:00', 'Etc/GMT+3'), nasty);
const hours = fc.array(
  fc.record(
    {
      day: fc.oneof(fc.integer({ min: -1, max: 9 }), scalar),
      start: fc.oneof(fc.constantFrom('09:00', '24:00', '9:00'), nasty),
      end: fc.oneof(fc.constantFrom('17:00', '08:00', '23:59'), nasty),
    },
    { requiredKeys: [] },
  ),
  { maxLength: 23 },
);
/** A user body: a valid one with one field replaced by junk or an edge value, or junk in every field. */
const withField = (field: string, value: fc.Arbitrary<unknown>) =>
  value.map((v) => ({ ...makeUser(), [field]: v }) as Record<string, unknown>);
const userBody = fc.oneof(
  withField('email', fc.oneof({ weight: 3, arbitrary: fc.emailAddress() }, nasty, scalar)),
  withField('name', fc.oneof(nasty, scalar)),
  withField('roles', fc.oneof(fc.array(roleLike, { maxLength: 8 }), scalar)),
  withField('timeZone', fc.oneof(zone, scalar)),
  withField('workingHours', fc.oneof(hours, scalar)),
  withField('extra', junk),
  fc
    .record(
      { email: fc.oneof(fc.emailAddress(), nasty), name: nasty, roles: fc.array(roleLike), timeZone: zone, x: junk },
      { requiredKeys: [] },
    )
    .map((r) => r as Record<string, unknown>),
);
const teamBody = fc.record(
  { name: fc.oneof(nasty, scalar), description: fc.oneof(nasty, scalar), leadUserId: fc.oneof(nasty, scalar), x: junk },
  { requiredKeys: [] },
);
const memberBody = fc.record(
  {
    userId: fc.oneof(nasty, scalar),
    availability: fc.oneof(fc.constantFrom('available', 'away', 'AWAY', 'busy'), scalar),
    capacity: fc.oneof(fc.integer({ min: -5, max: 200_000 }), scalar),
  },
  { requiredKeys: [] },
);

/** Never a 5xx; every refusal is problem+json with a code; a 400 names its fields. */
function expectWellFormed(res: TestResponse, context: string): void {
  expect(res.status, `${context} -> ${res.status} ${JSON.stringify(res.body)}`).toBeLessThan(500);
  if (res.status < 400) return;
  expect(res.headers['content-type'], context).toBe('application/problem+json');
  expect(res.body, context).toMatchObject({ status: res.status, code: expect.any(String) });
  if (res.status === 400) expect(res.body.fieldErrors.length, context).toBeGreaterThan(0);
}

const ctx = (what: string, input: unknown) => `${what} ${JSON.stringify(input)?.slice(0, 400)}`;

/** Seeded profiles and teams as stored, and the seeded identities as Cognito keeps them. */
async function snapshot(): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const t of ['A', 'B'] as const) {
    const tenantId = t === 'A' ? A : B;
    for (const userId of seeded[t].users) {
      out[`user ${userId}`] = (await model.entities.user.get({ tenantId, userId }).go()).data;
      const identity = await cognito.send(new AdminGetUserCommand({ UserPoolId: TEST_USER_POOL, Username: userId }));
      const groups = await cognito.send(
        new AdminListGroupsForUserCommand({ UserPoolId: TEST_USER_POOL, Username: userId }),
      );
      out[`identity ${userId}`] = { enabled: identity.Enabled, groups: groups.Groups?.map((g) => g.GroupName) };
    }
    for (const teamId of seeded[t].teams) {
      out[`team ${teamId}`] = (await model.entities.team.get({ tenantId, teamId }).go()).data;
    }
  }
  return out;
}

let before: unknown;

beforeAll(async () => {
  await useFreshTable();
  cognito = (await useLocalCognito()).client;
  const usersHandler = (await import('../functions/http/users.ts')).handler;
  const teamsHandler = (await import('../functions/http/teams.ts')).handler;
  ({ model } = await import('../shared/db/store.ts'));
  users = {
    A: apiClient(usersHandler, { tenantId: A, roles: ['admin'], userId: 'admin-a' }),
    B: apiClient(usersHandler, { tenantId: B, roles: ['admin'], userId: 'admin-b' }),
  };
  teams = {
    A: apiClient(teamsHandler, { tenantId: A, roles: ['admin'], userId: 'admin-a' }),
    B: apiClient(teamsHandler, { tenantId: B, roles: ['admin'], userId: 'admin-b' }),
  };
  for (const t of ['A', 'B'] as const) {
    for (let i = 0; i < 2; i++) {
      const res = await users[t]('POST', '/v1/users', { body: makeUser() });
      expect(res.status).toBe(201);
      seeded[t].users.push(res.body.id);
    }
    const team = await teams[t]('POST', '/v1/teams', { body: { name: `Seed ${t}` } });
    seeded[t].teams.push(team.body.id);
    await teams[t]('POST', `/v1/teams/${team.body.id}/members`, { body: { userId: seeded[t].users[0] } });
  }
  before = await snapshot();
});

describe('fuzz: workspace writes', () => {
  it('POST /v1/users with arbitrary bodies: never 5xx; a 201 is a real user; a refusal creates nothing', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(userBody, async (body) => {
        const res = await users.A('POST', '/v1/users', { body });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expectWellFormed(res, ctx('invite', body));
        if (res.status === 201) {
          const got = await users.A('GET', `/v1/users/${res.body.id}`);
          expect(got.body).toStrictEqual(res.body);
        } else if (typeof body.email === 'string' && /^[^@\s]+@[^@\s]+$/.test(body.email)) {
          const found = await cognito
            .send(new AdminGetUserCommand({ UserPoolId: TEST_USER_POOL, Username: body.email.toLowerCase() }))
            .catch(() => undefined);
          // An identity for a refused invite exists only if the email was already taken.
          if (found) expect(res.status, ctx('refused invite', body)).toBe(409);
        }
      }),
      { numRuns: runs(60) },
    );
    // A fuzzer that never reaches the write path proves little.
    console.log(`invite statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(statuses.get(201) ?? 0).toBeGreaterThan(0);
  });

  it('PATCH /v1/users/{id} with arbitrary bodies and If-Match: never 5xx; a refusal changes nothing', async () => {
    const target = (await users.A('POST', '/v1/users', { body: makeUser() })).body.id as string;
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            name: fc.oneof(nasty, scalar),
            roles: fc.oneof(fc.array(roleLike, { maxLength: 3 }), scalar),
            timeZone: zone,
            workingHours: fc.oneof(hours, scalar),
            other: junk,
          },
          { requiredKeys: [] },
        ),
        fc.option(fc.oneof(fc.constantFrom('*', '"1"', 'W/"1"', '"x"', ''), nasty), { nil: undefined }),
        async (body, ifMatch) => {
          const stored = (await model.entities.user.get({ tenantId: A, userId: target }).go()).data;
          const res = await users.A('PATCH', `/v1/users/${target}`, {
            body,
            ...(ifMatch === undefined ? {} : { headers: { 'if-match': ifMatch } }),
          });
          expectWellFormed(res, ctx('patch', { body, ifMatch }));
          if (res.status >= 400) {
            expect((await model.entities.user.get({ tenantId: A, userId: target }).go()).data).toStrictEqual(stored);
          }
        },
      ),
      { numRuns: runs(60) },
    );
  });

  it('teams and members with arbitrary bodies: never 5xx', async () => {
    const [teamId] = seeded.A.teams;
    await fc.assert(
      fc.asyncProperty(
        teamBody,
        memberBody,
        fc.oneof(memberBody, junk),
        fc.oneof(fc.record({ availability: fc.oneof(fc.constantFrom('away', 'available'), scalar) }), junk),
        async (team, member, memberPatch, availability) => {
          expectWellFormed(await teams.A('POST', '/v1/teams', { body: team }), ctx('team', team));
          expectWellFormed(await teams.A('PATCH', `/v1/teams/${teamId}`, { body: team }), ctx('patch team', team));
          expectWellFormed(
            await teams.A('POST', `/v1/teams/${teamId}/members`, { body: member }),
            ctx('member', member),
          );
          expectWellFormed(
            await teams.A('PATCH', `/v1/teams/${teamId}/members/${seeded.A.users[0]}`, { body: memberPatch }),
            ctx('patch member', memberPatch),
          );
          expectWellFormed(
            await teams.A('PUT', '/v1/me/availability', { body: availability }),
            ctx('availability', availability),
          );
        },
      ),
      { numRuns: runs(40) },
    );
  });
});

describe('fuzz: workspace reads and ids', () => {
  it('lists with arbitrary query strings: never 5xx, never another tenant’s users or teams', async () => {
    const key = fc.constantFrom('limit', 'cursor', 'status', 'role', 'q', 'inTrash', 'x', '');
    const value = fc.oneof(nasty, fc.constantFrom('0', '1', '101', '-1', 'invited', 'sales', 'true', 'eyJwayI6IngifQ'));
    const others = new Set([...seeded.B.users, ...seeded.B.teams]);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(key, value), { maxLength: 4 }),
        fc.constantFrom('/v1/users', '/v1/teams', `/v1/users/${seeded.A.users[0]}/open-records`),
        async (pairs, path) => {
          const query = new URLSearchParams(pairs).toString();
          const res = await (path.startsWith('/v1/teams') ? teams.A : users.A)('GET', `${path}?${query}`);
          expectWellFormed(res, ctx('list', { path, query }));
          if (res.status === 200) {
            for (const item of res.body.items) expect(others.has(item.id), ctx('leak', item)).toBe(false);
          }
        },
      ),
      { numRuns: runs(80) },
    );
  });

  it('every user and team route with arbitrary ids (and the other tenant’s): never 5xx', async () => {
    const id = fc.oneof(nasty, fc.constantFrom(...seeded.B.users, ...seeded.B.teams), fc.uuid());
    const operation = fc.constantFrom(
      ['users', 'GET', '/v1/users/{id}'],
      ['users', 'PATCH', '/v1/users/{id}'],
      ['users', 'POST', '/v1/users/{id}/disable'],
      ['users', 'POST', '/v1/users/{id}/enable'],
      ['users', 'DELETE', '/v1/users/{id}'],
      ['users', 'GET', '/v1/users/{id}/open-records'],
      ['teams', 'GET', '/v1/teams/{id}'],
      ['teams', 'PATCH', '/v1/teams/{id}'],
      ['teams', 'DELETE', '/v1/teams/{id}'],
      ['teams', 'POST', '/v1/teams/{id}/members'],
      ['teams', 'DELETE', `/v1/teams/${seeded.A.teams[0]}/members/{id}`],
    );
    await fc.assert(
      fc.asyncProperty(operation, id, async ([group, method, template], raw) => {
        // A lone surrogate cannot be percent-encoded, so no client can send it.
        if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(raw)) return;
        const path = template!.replace('{id}', encodeURIComponent(raw));
        if (path.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) return;
        const client = group === 'users' ? users.A : teams.A;
        const body =
          method === 'PATCH'
            ? { name: 'Fuzzed' }
            : method === 'POST' && group === 'teams'
              ? { userId: seeded.A.users[1] }
              : undefined;
        let res: TestResponse;
        try {
          res = await client(method!, path, body === undefined ? {} : { body });
        } catch (error) {
          if (/no route for/.test((error as Error).message)) return; // API Gateway would answer 404 itself
          throw error;
        }
        expectWellFormed(res, ctx('id', { method, path }));
      }),
      { numRuns: runs(80) },
    );
  });
});

describe('fuzz: aftermath', () => {
  it('left every seeded profile, team and identity of both tenants as it was (bar the member fuzzed above)', async () => {
    const after = (await snapshot()) as Record<string, unknown>;
    const expected = { ...(before as Record<string, unknown>) };
    // The seeded team of A was the target of PATCH/member fuzzing, and its member's availability of PUT /me
    // (as admin-a, who has no profile: refused). Tenant B and every identity must be untouched.
    delete expected[`team ${seeded.A.teams[0]}`];
    delete after[`team ${seeded.A.teams[0]}`];
    delete expected[`user ${seeded.A.users[1]}`];
    delete after[`user ${seeded.A.users[1]}`];
    expect(after).toStrictEqual(expected);
  });
});
