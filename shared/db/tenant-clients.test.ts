import { describe, expect, it } from 'vitest';
import { companyIndex, contactIndex, timelineIndex } from './keys.ts';
import {
  type CredentialsProvider,
  TenantClientCache,
  type TenantCredentials,
  tenantSessionName,
} from './tenant-clients.ts';
import { currentTenant, runAsTenant } from './tenant-context.ts';
import { tenantKeyPatterns, tenantKeyPolicyPatterns } from './tenant-keys.ts';

/** A fake STS: counts AssumeRole calls per tenant and issues credentials valid for `validMs`. */
function fakeSts(clock: { now: number }, validMs = 3_600_000) {
  const calls: string[] = [];
  let fail = false;
  const assume = async (tenantId: string): Promise<TenantCredentials> => {
    calls.push(tenantId);
    if (fail) throw new Error('sts down');
    return {
      accessKeyId: `key-${tenantId}-${calls.length}`,
      secretAccessKey: 's',
      sessionToken: 't',
      expiration: new Date(clock.now + validMs),
    };
  };
  const setFailing = (value: boolean) => {
    fail = value;
  };
  return { calls, assume, setFailing };
}

const cacheWith = (clock: { now: number }, sts: ReturnType<typeof fakeSts>, maxTenants = 100) =>
  new TenantClientCache<{ tenantId: string; credentials: CredentialsProvider }>({
    assume: sts.assume,
    createClient: (credentials, tenantId) => ({ tenantId, credentials }),
    maxTenants,
    now: () => clock.now,
  });

describe('TenantClientCache', () => {
  it('creates one client per tenant and assumes its role once while the credentials are fresh', async () => {
    const clock = { now: 0 };
    const sts = fakeSts(clock);
    const cache = cacheWith(clock, sts);
    const acme = cache.clientFor('acme');
    expect(cache.clientFor('acme')).toBe(acme);
    const [a, b] = await Promise.all([acme.credentials(), acme.credentials()]);
    expect(a.accessKeyId).toBe('key-acme-1');
    expect(b).toBe(a);
    clock.now = 50 * 60_000;
    expect((await acme.credentials()).accessKeyId).toBe('key-acme-1');
    expect(sts.calls).toEqual(['acme']);
    expect((await cache.clientFor('beta').credentials()).accessKeyId).toBe('key-beta-2');
  });

  it('renews credentials five minutes before they expire', async () => {
    const clock = { now: 0 };
    const sts = fakeSts(clock);
    const acme = cacheWith(clock, sts).clientFor('acme');
    await acme.credentials();
    clock.now = 55 * 60_000 - 1;
    expect((await acme.credentials()).accessKeyId).toBe('key-acme-1');
    clock.now = 55 * 60_000;
    expect((await acme.credentials()).accessKeyId).toBe('key-acme-2');
    expect(sts.calls).toEqual(['acme', 'acme']);
  });

  it('does not keep a failed AssumeRole: the next call tries again', async () => {
    const clock = { now: 0 };
    const sts = fakeSts(clock);
    const acme = cacheWith(clock, sts).clientFor('acme');
    sts.setFailing(true);
    await expect(acme.credentials()).rejects.toThrow('sts down');
    sts.setFailing(false);
    expect((await acme.credentials()).accessKeyId).toBe('key-acme-2');
  });

  it('keeps at most maxTenants clients, evicting the least recently used', () => {
    const clock = { now: 0 };
    const cache = cacheWith(clock, fakeSts(clock), 3);
    const a = cache.clientFor('a');
    cache.clientFor('b');
    cache.clientFor('c');
    cache.clientFor('a');
    cache.clientFor('d');
    expect(cache.tenants()).toEqual(['c', 'a', 'd']);
    expect(cache.clientFor('a')).toBe(a);
    expect(cache.clientFor('b').tenantId).toBe('b');
    expect(cache.tenants()).toEqual(['d', 'a', 'b']);
  });

  it('holds 100 tenants by default', () => {
    const clock = { now: 0 };
    const cache = new TenantClientCache({ assume: fakeSts(clock).assume, createClient: () => ({}) });
    for (let i = 0; i < 150; i++) cache.clientFor(`t${i}`);
    expect(cache.tenants()).toHaveLength(100);
    expect(cache.tenants()[0]).toBe('t50');
  });

  it('names sessions after the tenant within the 64 characters STS allows', () => {
    expect(tenantSessionName('acme')).toBe('tenant-acme');
    expect(tenantSessionName('a'.repeat(64))).toHaveLength(64);
  });
});

describe('runAsTenant', () => {
  it('carries the tenant across awaits, and only inside', async () => {
    expect(currentTenant()).toBeUndefined();
    const seen = await runAsTenant('acme', async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      const inner = await Promise.all([
        runAsTenant('beta', async () => currentTenant()),
        Promise.resolve(currentTenant()),
      ]);
      return [...inner, currentTenant()];
    });
    expect(seen).toEqual(['beta', 'acme', 'acme']);
    expect(currentTenant()).toBeUndefined();
  });

  it('runs without a tenant for public routes, and refuses an id outside the tenant alphabet', async () => {
    expect(await runAsTenant('', async () => currentTenant())).toBeUndefined();
    expect(() => runAsTenant('acme*', async () => 1)).toThrow(/not a valid tenant id/);
    expect(() => runAsTenant('a#b', async () => 1)).toThrow(/not a valid tenant id/);
  });
});

describe('tenant key patterns', () => {
  it('cover every table key and GSI key of the tenant, and end at the separator', () => {
    expect(tenantKeyPatterns('acme')).toEqual({ table: '$crm#tenantId_acme#*', index: 'acme#*' });
    for (const key of [
      contactIndex.owner('acme', 'u1'),
      contactIndex.sync('acme'),
      companyIndex.trash('acme'),
      timelineIndex.pk('acme', 'contact', 'c1'),
    ]) {
      expect(key.startsWith('acme#')).toBe(true);
    }
  });

  it('are written for IAM with the session tag and a literal $', () => {
    expect(tenantKeyPolicyPatterns()).toEqual({
      table: `\${$}crm#tenantId_\${aws:PrincipalTag/tenantId}#*`,
      index: `\${aws:PrincipalTag/tenantId}#*`,
    });
  });
});
