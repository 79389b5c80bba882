/**
 * The per-tenant quota against DynamoDB Local: several TenantQuota instances on one table play warm Lambda containers
 * sharing a tenant's count. Clocks are injected, so no test depends on when it runs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { uniqueTenant } from '../../test/support/factories.ts';
import { useFreshTable } from '../../test/support/table.ts';
import { quotaConfigSchema } from './config.ts';

type QuotaModule = typeof import('./quota.ts');
let quota: QuotaModule;

beforeAll(async () => {
  await useFreshTable();
  quota = await import('./quota.ts');
});

/** Counts the UpdateItems a container makes, to show the cost is amortized. */
function countingStore(store: QuotaModule['dynamoLeaseStore']) {
  const counter = {
    calls: 0,
    lease: (...args: Parameters<typeof store.lease>) => {
      counter.calls += 1;
      return store.lease(...args);
    },
  };
  return counter;
}

const WINDOW_START = Date.UTC(2026, 10, 30, 12, 0, 0);

async function spend(q: InstanceType<QuotaModule['TenantQuota']>, tenantId: string, n: number) {
  const results = await Promise.all(Array.from({ length: n }, () => q.admit(tenantId)));
  return {
    admitted: results.filter((r) => r.admitted).length,
    refused: results.filter((r) => !r.admitted) as Array<{ admitted: false; retryAfterSeconds: number }>,
  };
}

describe('TenantQuota', () => {
  it('refuses a tenant over its quota with Retry-After until the window ends, while another tenant is served', async () => {
    let now = WINDOW_START + 2_500;
    const q = new quota.TenantQuota({ ratePerSecond: 2, windowSeconds: 10 }, quota.dynamoLeaseStore, () => now);
    expect(q.limit).toBe(20);
    const a = uniqueTenant('qa');
    const b = uniqueTenant('qb');

    const overA = await spend(q, a, 30);
    expect(overA.admitted).toBe(20);
    expect(overA.refused).toHaveLength(10);
    // 7.5 s of the window left: Retry-After rounds up to whole seconds.
    for (const refusal of overA.refused) expect(refusal.retryAfterSeconds).toBe(8);

    const forB = await spend(q, b, 20);
    expect(forB.admitted).toBe(20);

    now = WINDOW_START + 9_200;
    expect(await q.admit(a)).toEqual({ admitted: false, retryAfterSeconds: 1 });
    // The next window starts afresh.
    now = WINDOW_START + 10_000;
    expect((await spend(q, a, 20)).admitted).toBe(20);
    expect(await q.admit(a)).toMatchObject({ admitted: false });
  });

  it('two containers together never admit more than the quota, and lease in blocks (one UpdateItem per block)', async () => {
    const now = () => WINDOW_START + 1_000;
    const settings = { ratePerSecond: 10.3, windowSeconds: 10, leaseSize: 10 };
    const storeA = countingStore(quota.dynamoLeaseStore);
    const storeB = countingStore(quota.dynamoLeaseStore);
    const containerA = new quota.TenantQuota(settings, storeA, now);
    const containerB = new quota.TenantQuota(settings, storeB, now);
    expect(containerA.limit).toBe(103);
    const tenant = uniqueTenant('q2');

    // Interleaved bursts from both containers, three times the quota in all.
    let admitted = 0;
    for (let round = 0; round < 30; round++) {
      const [fromA, fromB] = await Promise.all([spend(containerA, tenant, 7), spend(containerB, tenant, 4)]);
      admitted += fromA.admitted + fromB.admitted;
    }
    // Every leased request was used (both drained their blocks), and the leases never passed the quota: the last
    // block was cut to what was left (103 = 10 × 10 + 3).
    expect(admitted).toBe(103);
    expect(storeA.calls + storeB.calls).toBeLessThanOrEqual(Math.ceil(103 / 10) + 2 * 3);
    // Once the window is spent each container knows it and stops calling DynamoDB.
    const callsBefore = storeA.calls + storeB.calls;
    await spend(containerA, tenant, 50);
    await spend(containerB, tenant, 50);
    expect(storeA.calls + storeB.calls).toBe(callsBefore);
  });

  it('a block held by one container is not available to another: at most leaseSize − 1 refused early per container', async () => {
    const now = () => WINDOW_START + 3_000;
    const settings = { ratePerSecond: 3, windowSeconds: 10, leaseSize: 10 };
    const containerA = new quota.TenantQuota(settings, quota.dynamoLeaseStore, now);
    const containerB = new quota.TenantQuota(settings, quota.dynamoLeaseStore, now);
    const tenant = uniqueTenant('q3');
    // A takes one request and so leases a block of 10; B then gets the other 20 and no more.
    expect((await spend(containerA, tenant, 1)).admitted).toBe(1);
    const fromB = await spend(containerB, tenant, 30);
    expect(fromB.admitted).toBe(20);
    // A still holds 9 of its block: the tenant's total is exactly the quota once A uses them.
    expect((await spend(containerA, tenant, 15)).admitted).toBe(9);
  });

  it('many containers racing for the last requests still stop exactly at the quota', async () => {
    const now = () => WINDOW_START + 4_000;
    const settings = { ratePerSecond: 5, windowSeconds: 10, leaseSize: 7 };
    const containers = Array.from({ length: 6 }, () => new quota.TenantQuota(settings, quota.dynamoLeaseStore, now));
    const tenant = uniqueTenant('q6');
    const results = await Promise.all(containers.map((c) => spend(c, tenant, 20)));
    const admitted = results.reduce((sum, r) => sum + r.admitted, 0);
    expect(admitted).toBeLessThanOrEqual(50);
    // At most leaseSize − 1 unused per container can be stranded in blocks.
    expect(admitted).toBeGreaterThanOrEqual(50 - containers.length * (settings.leaseSize - 1));
    const drained = await Promise.all(containers.map((c) => spend(c, tenant, 20)));
    expect(admitted + drained.reduce((sum, r) => sum + r.admitted, 0)).toBe(50);
  });

  it('lets requests through when the count cannot be reached (fail open)', async () => {
    const broken = {
      lease: async () => {
        throw new Error('ProvisionedThroughputExceededException');
      },
    };
    const q = new quota.TenantQuota({ ratePerSecond: 1, windowSeconds: 1 }, broken, () => WINDOW_START);
    expect(await q.admit(uniqueTenant('qf'))).toEqual({ admitted: true });
  });

  it('reads its configuration lazily from the environment, with defaults of 50 requests/s and a 10 s window', () => {
    expect(quotaConfigSchema.parse({})).toEqual({ TENANT_RATE_LIMIT: 50, TENANT_QUOTA_WINDOW_SECONDS: 10 });
    expect(quotaConfigSchema.parse({ TENANT_RATE_LIMIT: '2.5' }).TENANT_RATE_LIMIT).toBe(2.5);
    expect(quotaConfigSchema.safeParse({ TENANT_RATE_LIMIT: '0' }).success).toBe(false);
    expect(quotaConfigSchema.safeParse({ TENANT_RATE_LIMIT: 'lots' }).success).toBe(false);
    const q = new quota.TenantQuota({ ratePerSecond: 50, windowSeconds: 10 });
    expect(q.limit).toBe(500);
    expect(q.leaseSize).toBe(10);
  });
});

describe('tenant-first keys', () => {
  it('the quota window and settings items live under `$crm#tenantId_<t>#`, as tenant-scoped credentials require', async () => {
    const { QuotaWindowEntity } = await import('../db/entities/quota-window.ts');
    const { TenantSettingsEntity } = await import('../db/entities/settings.ts');
    const quotaKey = QuotaWindowEntity.get({ tenantId: 'acme', windowStart: 1_796_040_000 }).params({ table: 't' });
    const settingsKey = TenantSettingsEntity.get({ tenantId: 'acme' }).params({ table: 't' });
    for (const { Key } of [quotaKey, settingsKey]) expect(Key.pk.startsWith('$crm#tenantId_acme#')).toBe(true);
    // Tenant `acme` never reaches tenant `acme2`'s items by prefix.
    expect(
      TenantSettingsEntity.get({ tenantId: 'acme2' }).params({ table: 't' }).Key.pk.startsWith('$crm#tenantId_acme#'),
    ).toBe(false);
  });
});
