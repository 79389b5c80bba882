import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeProtectedHeader } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalIssuer, readLocalCloudInfo, writeLocalCloudInfo } from './issuer.ts';

// tsx keeps a folder in the temp dir: give each run one of the test's own temp dirs, removed after.
const run = (file: string, args: string[]) =>
  promisify(execFile)(file, args, { env: { ...process.env, TMPDIR: tempDir() } });
const root = join(import.meta.dirname, '..', '..');
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'issuer-test-'));
  dirs.push(dir);
  return dir;
};
const ISSUER = 'http://127.0.0.1:3000';

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('LocalIssuer', () => {
  it('mints a Cognito-ID-token-shaped JWT that verifies', async () => {
    const issuer = await LocalIssuer.create({ dataDir: tempDir(), issuerUrl: `${ISSUER}/` });
    expect(issuer.issuerUrl).toBe(ISSUER);
    const token = await issuer.mint({
      tenantId: 't1',
      userId: 'u1',
      email: 'u1@example.com',
      roles: ['admin', 'sales'],
      audience: 'client-1',
    });
    const header = decodeProtectedHeader(token);
    expect(header).toMatchObject({ alg: 'RS256', kid: issuer.keyId });
    const claims = await issuer.verify(token, 'client-1');
    expect(claims).toMatchObject({
      iss: ISSUER,
      aud: 'client-1',
      sub: 'u1',
      token_use: 'id',
      'custom:tenantId': 't1',
      'cognito:groups': ['admin', 'sales'],
      email: 'u1@example.com',
    });
    expect(typeof claims.iat).toBe('number');
    // Default lifetime: one hour, as Cognito ID tokens.
    expect((claims.exp as number) - (claims.iat as number)).toBe(3600);
    expect(await issuer.verify(token, ['other', 'client-1'])).toMatchObject({ sub: 'u1' });
  });

  it('defaults sub to a stable UUID and honours numeric and span lifetimes', async () => {
    const issuer = await LocalIssuer.create({ dataDir: tempDir(), issuerUrl: ISSUER });
    const a = await issuer.verify(await issuer.mint({ tenantId: 't', roles: [], audience: 'c', expiresIn: 60 }), 'c');
    const b = await issuer.verify(await issuer.mint({ tenantId: 't', roles: [], audience: 'c', expiresIn: '8h' }), 'c');
    expect(a.sub).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(b.sub).toBe(a.sub);
    expect((a.exp as number) - (a.iat as number)).toBe(60);
    expect((b.exp as number) - (b.iat as number)).toBe(8 * 3600);
  });

  it('rejects a wrong audience, an expired token and a foreign key', async () => {
    const issuer = await LocalIssuer.create({ dataDir: tempDir(), issuerUrl: ISSUER });
    const other = await LocalIssuer.create({ dataDir: tempDir(), issuerUrl: ISSUER });
    const token = await issuer.mint({ tenantId: 't', roles: ['admin'], audience: 'client-1' });
    await expect(issuer.verify(token, 'client-2')).rejects.toThrow(/audience/);
    const expired = await issuer.mint({ tenantId: 't', roles: [], audience: 'client-1', expiresIn: -60 });
    await expect(issuer.verify(expired, 'client-1')).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
    await expect(other.verify(token, 'client-1')).rejects.toThrow();
    const elsewhere = await LocalIssuer.create({ dataDir: tempDir(), issuerUrl: 'http://elsewhere' });
    await expect(
      issuer.verify(await elsewhere.mint({ tenantId: 't', roles: [], audience: 'client-1' }), 'client-1'),
    ).rejects.toThrow();
  });

  it('keeps its key under <dataDir>/issuer so tokens survive a restart', async () => {
    const dataDir = tempDir();
    const first = await LocalIssuer.create({ dataDir, issuerUrl: ISSUER });
    const token = await first.mint({ tenantId: 't', roles: ['admin'], audience: 'c' });
    const second = await LocalIssuer.create({ dataDir, issuerUrl: ISSUER });
    expect(second.keyId).toBe(first.keyId);
    expect(second.jwks()).toEqual(first.jwks());
    await expect(second.verify(token, 'c')).resolves.toMatchObject({ 'custom:tenantId': 't' });
    const [key] = second.jwks().keys;
    expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: first.keyId });
    expect(key).not.toHaveProperty('d');
  });

  it('publishes an OpenID discovery document', async () => {
    const issuer = await LocalIssuer.create({ dataDir: tempDir(), issuerUrl: ISSUER });
    expect(issuer.openidConfiguration()).toMatchObject({
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      id_token_signing_alg_values_supported: ['RS256'],
    });
  });
});

describe('LocalCloudInfo', () => {
  it('round-trips through <dataDir>/local-cloud.json', async () => {
    const dataDir = tempDir();
    expect(await readLocalCloudInfo(dataDir)).toBeUndefined();
    const info = {
      apiUrl: 'http://127.0.0.1:3000',
      docsUrl: 'http://127.0.0.1:3000/docs',
      issuerUrl: ISSUER,
      audience: 'c',
    };
    await writeLocalCloudInfo(dataDir, info);
    expect(await readLocalCloudInfo(dataDir)).toEqual(info);
  });
});

describe('token CLI', () => {
  const tsx = join(root, 'node_modules', '.bin', 'tsx');
  const cli = join(root, 'infra', 'local', 'token-cli.ts');

  it('prints a token minted with the local cloud key and audience', async () => {
    const dataDir = tempDir();
    await writeLocalCloudInfo(dataDir, {
      apiUrl: ISSUER,
      docsUrl: `${ISSUER}/docs`,
      issuerUrl: ISSUER,
      audience: 'app',
    });
    const { stdout } = await run(tsx, [
      cli,
      '--data-dir',
      dataDir,
      '--tenant',
      'T1',
      '--roles',
      'admin,sales',
      '--user',
      'U1',
      '--ttl',
      '2h',
    ]);
    const issuer = await LocalIssuer.create({ dataDir, issuerUrl: ISSUER });
    const claims = await issuer.verify(stdout.trim(), 'app');
    expect(claims).toMatchObject({ sub: 'U1', 'custom:tenantId': 'T1', 'cognito:groups': ['admin', 'sales'] });
    expect((claims.exp as number) - (claims.iat as number)).toBe(7200);
  });

  it('says to start the local cloud when it has not written its info', async () => {
    const dataDir = tempDir();
    const failure = await run(tsx, [cli, '--data-dir', dataDir, '--tenant', 'T1', '--roles', 'admin']).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toContain('start the local cloud first (npm start)');
  });
});
