import { describe, expect, it } from 'vitest';
import { companyIndex, companyKeys, contactIndex, contactKeys, sortableName, timelineIndex } from './keys.ts';

describe('sortableName', () => {
  it.each<[Array<string | undefined>, string]>([
    [['Ada', 'Lovelace'], 'ada lovelace'],
    [['ÉDSGER', 'Dijkstra'], 'edsger dijkstra'],
    [['Zoë', 'Ångström'], 'zoe angstrom'],
    [['François'], 'francois'],
    [['Ａｄａ'], 'ada'],
    [['A#B', 'C##D'], 'a b c d'],
    [['  many   spaces  ', ' here '], 'many spaces here'],
    [[undefined, 'Hopper'], 'hopper'],
    [['Grace', undefined], 'grace'],
    [['ada@example.com'], 'ada@example.com'],
    [["O'Brien-Smith"], "o'brien-smith"],
    [['Müller & Söhne GmbH'], 'muller sohne gmbh'],
    [['株式会社'], '株式会社'],
  ])('%j → %j', (parts, expected) => {
    expect(sortableName(...parts)).toBe(expected);
  });

  it('never contains the key separator', () => {
    for (const name of ['#', 'a#', '#a#', 'a # b', '##\u0000##']) expect(sortableName(name)).not.toContain('#');
  });

  it('folds to "~" (sorting last) when nothing is left', () => {
    expect(sortableName()).toBe('~');
    expect(sortableName(undefined, undefined)).toBe('~');
    expect(sortableName('')).toBe('~');
    expect(sortableName('###')).toBe('~');
    expect(sortableName('   ')).toBe('~');
  });

  it('matches names that differ only in case or accents', () => {
    expect(sortableName('élodie', 'DURAND')).toBe(sortableName('Elodie', 'durand'));
  });
});

const tenant = 'tenant-A';
const PK = /^gsi\dpk$/;

function partitionKeys(keys: Record<string, string | undefined>): string[] {
  return Object.entries(keys)
    .filter(([name, value]) => PK.test(name) && value !== undefined)
    .map(([, value]) => value!);
}

describe('contactKeys', () => {
  const live = {
    tenantId: tenant,
    contactId: '01CONTACT',
    sortName: 'ada lovelace',
    updatedAt: '2026-01-02T03:04:05.000Z',
    ownerId: 'u1',
    lifecycleStage: 'lead',
    companyId: '01COMPANY',
  };

  it('puts a live contact on every index, sorted by name then id', () => {
    expect(contactKeys(live)).toEqual({
      gsi1pk: `${tenant}#contact#owner#u1`,
      gsi1sk: 'ada lovelace#01CONTACT',
      gsi2pk: `${tenant}#contact#stage#lead`,
      gsi2sk: 'ada lovelace#01CONTACT',
      gsi3pk: `${tenant}#contact#company#01COMPANY`,
      gsi3sk: 'ada lovelace#01CONTACT',
      gsi4pk: `${tenant}#contact#name`,
      gsi4sk: 'ada lovelace#01CONTACT',
      gsi5pk: `${tenant}#contact#sync`,
      gsi5sk: '2026-01-02T03:04:05.000Z#01CONTACT',
    });
  });

  it('every partition key starts with the tenant id', () => {
    const keys = partitionKeys(contactKeys(live));
    expect(keys).toHaveLength(5);
    for (const key of keys) expect(key.startsWith(`${tenant}#`)).toBe(true);
    for (const key of partitionKeys(contactKeys({ ...live, deletedAt: '2026-02-01T00:00:00.000Z' }))) {
      expect(key.startsWith(`${tenant}#`)).toBe(true);
    }
    for (const make of Object.values(contactIndex)) expect(make(tenant, 'x').startsWith(`${tenant}#`)).toBe(true);
  });

  it('leaves a contact off the owner, stage and company indexes when those are missing (sparse)', () => {
    const keys = contactKeys({ tenantId: tenant, contactId: '01C', sortName: 'x', updatedAt: live.updatedAt });
    for (const name of ['gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'gsi3pk', 'gsi3sk']) expect(keys[name]).toBeUndefined();
    expect(keys.gsi4pk).toBe(`${tenant}#contact#name`);
    expect(keys.gsi5pk).toBe(`${tenant}#contact#sync`);
  });

  it('moves a deleted contact to the trash, newest deletion first, and keeps it in the sync feed only', () => {
    const deletedAt = '2026-02-01T00:00:00.000Z';
    const keys = contactKeys({ ...live, deletedAt });
    for (const name of ['gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'gsi3pk', 'gsi3sk']) expect(keys[name]).toBeUndefined();
    expect(keys.gsi4pk).toBe(`${tenant}#contact#trash`);
    expect(keys.gsi4sk).toBe(`${deletedAt}#01CONTACT`);
    expect(keys.gsi5pk).toBe(`${tenant}#contact#sync`);
    expect(keys.gsi5sk).toBe(`${live.updatedAt}#01CONTACT`);
  });

  it('keeps tenants apart even when one tenant id prefixes another', () => {
    const a = contactKeys({ ...live, tenantId: 'acme' });
    const b = contactKeys({ ...live, tenantId: 'acme-eu' });
    for (const name of ['gsi1pk', 'gsi2pk', 'gsi3pk', 'gsi4pk', 'gsi5pk']) expect(a[name]).not.toBe(b[name]);
    expect(a.gsi4pk!.startsWith('acme#')).toBe(true);
    expect(b.gsi4pk!.startsWith('acme#')).toBe(false);
  });
});

describe('companyKeys', () => {
  const live = {
    tenantId: tenant,
    companyId: '01COMPANY',
    sortName: 'analytical engines',
    updatedAt: '2026-01-02T03:04:05.000Z',
    ownerId: 'u2',
  };

  it('puts a live company on the owner, name and sync indexes', () => {
    expect(companyKeys(live)).toEqual({
      gsi1pk: `${tenant}#company#owner#u2`,
      gsi1sk: 'analytical engines#01COMPANY',
      gsi4pk: `${tenant}#company#name`,
      gsi4sk: 'analytical engines#01COMPANY',
      gsi5pk: `${tenant}#company#sync`,
      gsi5sk: '2026-01-02T03:04:05.000Z#01COMPANY',
    });
    for (const key of partitionKeys(companyKeys(live))) expect(key.startsWith(`${tenant}#`)).toBe(true);
    for (const make of Object.values(companyIndex)) expect(make(tenant, 'x').startsWith(`${tenant}#`)).toBe(true);
  });

  it('is sparse without an owner and when deleted', () => {
    const { ownerId: _o, ...unowned } = live;
    const keys = companyKeys(unowned);
    expect(keys.gsi1pk).toBeUndefined();
    expect(keys.gsi1sk).toBeUndefined();
    const deleted = companyKeys({ ...live, deletedAt: '2026-03-01T00:00:00.000Z' });
    expect(deleted.gsi1pk).toBeUndefined();
    expect(deleted.gsi1sk).toBeUndefined();
    expect(deleted.gsi4pk).toBe(`${tenant}#company#trash`);
    expect(deleted.gsi4sk).toBe('2026-03-01T00:00:00.000Z#01COMPANY');
    expect(deleted.gsi5pk).toBe(`${tenant}#company#sync`);
  });

  it('never shares a partition with contacts', () => {
    expect(companyIndex.name(tenant)).not.toBe(contactIndex.name(tenant));
    expect(companyIndex.owner(tenant, 'u')).not.toBe(contactIndex.owner(tenant, 'u'));
  });
});

describe('timelineIndex', () => {
  it('partitions by tenant and subject, and sorts by time then entity then id', () => {
    expect(timelineIndex.pk(tenant, 'contact', '01C')).toBe(`${tenant}#contact#01C#timeline`);
    expect(timelineIndex.pk(tenant, 'contact', '01C').startsWith(`${tenant}#`)).toBe(true);
    expect(timelineIndex.pk(tenant, 'contact', '01C')).not.toBe(timelineIndex.pk(tenant, 'company', '01C'));
    const earlier = timelineIndex.sk('2026-01-01T00:00:00.000Z', 'note', '01Z');
    const later = timelineIndex.sk('2026-01-02T00:00:00.000Z', 'note', '01A');
    expect(earlier < later).toBe(true);
  });
});
