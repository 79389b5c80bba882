import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../infra/constructs/crm-function.ts';
import { type LocalCloud, localCloudEnvPath, startLocalCloud } from '../infra/local/cloud.ts';
import { CLOUD_START_TIMEOUT_MS, prebuiltAssembly } from './support/assembly.ts';
import { makeUser } from './support/factories.ts';
import { api, eventually } from './support/local-cloud.ts';

/**
 * The workspace across the local cloud: an admin invites a user over HTTP (the users function calls the local
 * Cognito through AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER), `npm run token -- --user` mints a token for that user
 * from the pool, and the user calls /v1/me, joins a team and sets their availability with it.
 */
const TSX = join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx');
let cloud: LocalCloud;
let dataDir: string;
let admin: ReturnType<typeof api>;

/** `npm run token -- <args>` against this cloud's data dir: exit code, stdout, stderr. */
async function tokenCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      TSX,
      ['infra/local/token-cli.ts', ...args, '--data-dir', dataDir],
      // tsx keeps a cache in TMPDIR: inside the data dir, removed with it.
      { cwd: PROJECT_ROOT, env: { ...process.env, TMPDIR: join(dataDir, 'tmp') } },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'crm-workspace-'));
  cloud = await startLocalCloud({ dataDir, persist: false, waitTimeScale: 0, prebuilt: await prebuiltAssembly() });
  await mkdir(join(dataDir, 'tmp'));
  // The first admin of a new organisation has no user yet: the --roles form bootstraps them.
  admin = api(cloud, await cloud.token({ tenantId: 'acme', roles: ['admin'], userId: 'founder' }));
}, CLOUD_START_TIMEOUT_MS);

afterAll(async () => {
  await cloud?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('invite → token → me → team → availability, over HTTP', () => {
  it('lists the local Cognito among the endpoints functions and the AWS CLI get', async () => {
    expect(cloud.aws.endpoints.AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER).toBe(cloud.cognito.endpoint);
    const env = await readFile(localCloudEnvPath(dataDir), 'utf8');
    expect(env).toContain(`AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER=${cloud.cognito.endpoint}`);
    expect(cloud.cognito.poolIds()).toEqual([cloud.info.userPoolId]);
  });

  it('invites a user, mints a token for them with their roles, and answers /v1/me from their profile', async () => {
    const bootstrap = await admin('GET', '/v1/me');
    expect(bootstrap.body).toMatchObject({ id: 'founder', source: 'token', profile: null });

    const invited = await admin('POST', '/v1/users', makeUser({ email: 'Ada@Acme.example', roles: ['sales'] }));
    expect(invited.status, JSON.stringify(invited.body)).toBe(201);
    const userId = invited.body.id;
    expect(userId).toMatch(/^[0-9a-f-]{36}$/);

    const minted = await tokenCli('--tenant', 'acme', '--user', 'ada@acme.example');
    expect(minted.code, minted.stderr).toBe(0);
    const ada = api(cloud, minted.stdout.trim());
    const me = await ada('GET', '/v1/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      id: userId,
      tenantId: 'acme',
      email: 'ada@acme.example',
      roles: ['sales'],
      source: 'profile',
      // Her first call proves she signed in: invited → active.
      profile: { id: userId, status: 'active', roles: ['sales'] },
    });
    // Her roles are her groups: sales cannot invite.
    expect((await ada('POST', '/v1/users', makeUser())).status).toBe(403);

    const team = await admin('POST', '/v1/teams', { name: 'Inside sales' });
    expect(team.status).toBe(201);
    expect((await admin('POST', `/v1/teams/${team.body.id}/members`, { userId, capacity: 20 })).status).toBe(201);
    const away = await ada('PUT', '/v1/me/availability', { availability: 'away' });
    expect(away.body).toEqual({ availability: 'away', teams: [{ id: team.body.id, name: 'Inside sales' }] });
    expect((await admin('GET', `/v1/teams/${team.body.id}`)).body.members).toEqual([
      { userId, availability: 'away', capacity: 20 },
    ]);

    // A role change takes effect with the next token.
    await admin('PATCH', `/v1/users/${userId}`, { roles: ['manager'] });
    const again = await tokenCli('--tenant', 'acme', '--user', userId);
    expect((await api(cloud, again.stdout.trim())('GET', '/v1/me')).body.roles).toEqual(['manager']);

    // Who changed her access, from the stream through the bus to the audit trail.
    const history = await eventually(async () => {
      const res = await admin('GET', `/v1/users/${userId}/history`);
      const roleChange = res.body.items.find((e: { changes: Record<string, unknown> }) => e.changes.roles);
      return roleChange && res.body.items.some((e: { action: string }) => e.action === 'created') ? res : undefined;
    }, 30_000);
    expect(history.body.items[0]).toMatchObject({
      action: 'updated',
      actorId: 'founder',
      changes: { roles: { old: ['sales'], new: ['manager'] } },
    });
  });

  it('refuses a token for a disabled, unknown or other tenant’s user, with a clear message', async () => {
    const invited = await admin('POST', '/v1/users', makeUser({ email: 'grace@acme.example' }));
    expect((await admin('POST', `/v1/users/${invited.body.id}/disable`)).status).toBe(200);
    const disabled = await tokenCli('--tenant', 'acme', '--user', 'grace@acme.example');
    expect(disabled.code).toBe(1);
    expect(disabled.stdout).toBe('');
    expect(disabled.stderr).toMatch(/disabled/);
    const unknown = await tokenCli('--tenant', 'acme', '--user', 'nobody@acme.example');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no user nobody@acme.example/);
    const elsewhere = await tokenCli('--tenant', 'globex', '--user', 'ada@acme.example');
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/does not belong to tenant globex/);
  });
});
