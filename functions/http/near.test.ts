import { beforeAll, describe, expect, it } from 'vitest';
import { makeCompany, makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
let contactsAs: (tenantId: string) => Client;
let companiesAs: (tenantId: string) => Client;

beforeAll(async () => {
  await useFreshTable();
  const contactsHandler = (await import('./contacts.ts')).handler;
  const companiesHandler = (await import('./companies.ts')).handler;
  contactsAs = (tenantId) => apiClient(contactsHandler, { tenantId, roles: ['sales'], userId: 'rep-1' });
  companiesAs = (tenantId) => apiClient(companiesHandler, { tenantId, roles: ['sales'], userId: 'rep-1' });
});

const fieldsOf = (res: TestResponse) => ((res.body.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);

const PLACES = {
  trafalgar: { lat: 51.508, lon: -0.1281 },
  westminster: { lat: 51.4995, lon: -0.1248 },
  greenwich: { lat: 51.4826, lon: -0.0077 },
  oxford: { lat: 51.752, lon: -1.2577 },
  paris: { lat: 48.8566, lon: 2.3522 },
  suva: { lat: -18.1248, lon: 178.4501 },
  taveuniEast: { lat: -16.8, lon: -179.95 },
  taveuniWest: { lat: -16.8, lon: 179.95 },
  northPoleA: { lat: 89.95, lon: 0 },
  northPoleB: { lat: 89.95, lon: 180 },
};
type Place = keyof typeof PLACES;

/** Every item of a near-list, following cursors (pages may be short); fails on a repeated id. */
async function allNear(client: Client, path: string, query: string, limit = 2): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 200; pages++) {
    const res: TestResponse = await client(
      'GET',
      `${path}?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.items.length).toBeLessThanOrEqual(limit);
    seen.push(...res.body.items.map((i: { id: string }) => i.id));
    cursor = res.body.nextCursor;
    if (!cursor) break;
  }
  expect(cursor).toBeNull();
  expect(new Set(seen).size).toBe(seen.length);
  return seen;
}

describe('contacts near a point', () => {
  const t = uniqueTenant('near');
  const ids = {} as Record<Place | 'nowhere', string>;

  beforeAll(async () => {
    const contacts = contactsAs(t);
    for (const [name, location] of Object.entries(PLACES)) {
      const res = await contacts('POST', '/v1/contacts', { body: makeContact({ firstName: name, location }) });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.location).toEqual(location);
      ids[name as Place] = res.body.id;
    }
    ids.nowhere = (await contacts('POST', '/v1/contacts', { body: makeContact() })).body.id;
  });

  const near = (point: { lat: number; lon: number }, radiusKm: number) =>
    `near=${point.lat},${point.lon}&radiusKm=${radiusKm}`;
  const expectNear = async (query: string, places: Place[], limit = 2) =>
    expect((await allNear(contactsAs(t), '/v1/contacts', query, limit)).sort()).toEqual(
      places.map((p) => ids[p]).sort(),
    );

  it('returns exactly the contacts within the radius (haversine), over every page', async () => {
    await expectNear(near(PLACES.trafalgar, 2), ['trafalgar', 'westminster']);
    await expectNear(near(PLACES.trafalgar, 10), ['trafalgar', 'westminster', 'greenwich']);
    await expectNear(near(PLACES.trafalgar, 85), ['trafalgar', 'westminster', 'greenwich', 'oxford'], 1);
    await expectNear(near(PLACES.trafalgar, 350), ['trafalgar', 'westminster', 'greenwich', 'oxford', 'paris'], 3);
    await expectNear(near(PLACES.trafalgar, 0.01), ['trafalgar']);
    // Oxford is 82.55 km from Trafalgar Square: the distance is exact, not the cells'.
    await expectNear(near(PLACES.trafalgar, 82.5), ['trafalgar', 'westminster', 'greenwich']);
    await expectNear(near({ lat: 0, lon: 0 }, 500), []);
  });

  it('finds records across the antimeridian and around a pole', async () => {
    await expectNear(near({ lat: -16.8, lon: 179.99 }, 20), ['taveuniEast', 'taveuniWest']);
    await expectNear(near({ lat: -16.8, lon: 179.99 }, 219), ['taveuniEast', 'taveuniWest']);
    await expectNear(near({ lat: -16.8, lon: 179.99 }, 221), ['taveuniEast', 'taveuniWest', 'suva']);
    await expectNear(near({ lat: 90, lon: 0 }, 10), ['northPoleA', 'northPoleB']);
  });

  it('follows a moved location, forgets a removed one, and leaves deleted contacts out', async () => {
    const contacts = contactsAs(t);
    const res = await contacts('POST', '/v1/contacts', { body: makeContact({ location: PLACES.paris }) });
    const id = res.body.id as string;
    const moved = await contacts('PATCH', `/v1/contacts/${id}`, { body: { location: PLACES.greenwich } });
    expect(moved.body.location).toEqual(PLACES.greenwich);
    expect(await allNear(contacts, '/v1/contacts', near(PLACES.greenwich, 1))).toEqual(
      expect.arrayContaining([id, ids.greenwich]),
    );
    expect(await allNear(contacts, '/v1/contacts', near(PLACES.paris, 1))).toEqual([ids.paris]);
    await contacts('PATCH', `/v1/contacts/${id}`, { body: { location: null } });
    expect(await allNear(contacts, '/v1/contacts', near(PLACES.greenwich, 1))).toEqual([ids.greenwich]);
    await contacts('PATCH', `/v1/contacts/${id}`, { body: { location: PLACES.greenwich } });
    const admin = apiClient((await import('./contacts.ts')).handler, { tenantId: t, roles: ['admin'] });
    expect(await admin('DELETE', `/v1/contacts/${id}`)).toMatchObject({ status: 204 });
    expect(await allNear(contacts, '/v1/contacts', near(PLACES.greenwich, 1))).toEqual([ids.greenwich]);
  });

  it("never shows another tenant's records", async () => {
    await expect(
      allNear(contactsAs(uniqueTenant('near-other')), '/v1/contacts', near(PLACES.trafalgar, 500)),
    ).resolves.toEqual([]);
  });

  it('refuses bad coordinates, radii and combinations with field errors', async () => {
    const contacts = contactsAs(t);
    const cases: Array<[string, string]> = [
      ['near=51.5,-0.12', 'query.radiusKm'],
      ['radiusKm=5', 'query.near'],
      ['near=51.5,-0.12&radiusKm=501', 'query.radiusKm'],
      ['near=51.5,-0.12&radiusKm=0', 'query.radiusKm'],
      ['near=51.5,-0.12&radiusKm=-3', 'query.radiusKm'],
      ['near=51.5,-0.12&radiusKm=abc', 'query.radiusKm'],
      ['near=91,0&radiusKm=5', 'query.near.lat'],
      ['near=0,180.5&radiusKm=5', 'query.near.lon'],
      ['near=london&radiusKm=5', 'query.near'],
      ['near=1e3,5&radiusKm=5', 'query.near'],
      ['near=51.5,-0.12&radiusKm=5&ownerId=x', 'query.near'],
    ];
    for (const [query, field] of cases) {
      const res = await contacts('GET', `/v1/contacts?${query}`);
      expect(res.status, query).toBe(400);
      expect(fieldsOf(res), query).toContain(field);
    }
    for (const [location, field] of [
      [{ lat: 90.1, lon: 0 }, 'body.location.lat'],
      [{ lat: 0, lon: -181 }, 'body.location.lon'],
      [{ lat: 0 }, 'body.location.lon'],
      [{ lat: '1', lon: 2 }, 'body.location.lat'],
      [{ lat: 1, lon: 2, alt: 3 }, 'body.location.alt'],
    ] as const) {
      const res = await contacts('POST', '/v1/contacts', { body: makeContact({ location }) });
      expect(res.status, JSON.stringify(location)).toBe(400);
      expect(fieldsOf(res)).toContain(field);
    }
  });

  it('refuses a cursor of another search, a forged one and one of another list', async () => {
    const contacts = contactsAs(t);
    const first = await contacts('GET', `/v1/contacts?${near(PLACES.trafalgar, 80)}&limit=1`);
    const cursor = first.body.nextCursor as string;
    expect(cursor).toBeTruthy();
    const other = await contacts('GET', `/v1/contacts?${near(PLACES.suva, 80)}&limit=1&cursor=${cursor}`);
    expect(other.status).toBe(400);
    expect(fieldsOf(other)).toContain('query.cursor');
    const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString());
    const forgedKey = decoded.key
      ? Buffer.from(
          JSON.stringify({
            ...JSON.parse(Buffer.from(decoded.key, 'base64url').toString()),
            gsi7pk: 'other#contact#geo#gcp',
          }),
        ).toString('base64url')
      : 'x';
    for (const bad of [
      Buffer.from(JSON.stringify({ ...decoded, key: forgedKey })).toString('base64url'),
      Buffer.from(JSON.stringify({ cell: 'zzz', key: null })).toString('base64url'),
      Buffer.from('[1,2]').toString('base64url'),
      'not-base64-json',
    ]) {
      const res = await contacts('GET', `/v1/contacts?${near(PLACES.trafalgar, 80)}&limit=1&cursor=${bad}`);
      expect(res.status, bad).toBe(400);
    }
    const byName = await contacts('GET', '/v1/contacts?limit=1');
    const mixed = await contacts('GET', `/v1/contacts?${near(PLACES.trafalgar, 80)}&cursor=${byName.body.nextCursor}`);
    expect(mixed.status).toBe(400);
  });
});

describe('companies near a point', () => {
  it('returns exactly the companies within the radius', async () => {
    const t = uniqueTenant('near-co');
    const companies = companiesAs(t);
    const london = await companies('POST', '/v1/companies', { body: makeCompany({ location: PLACES.trafalgar }) });
    await companies('POST', '/v1/companies', { body: makeCompany({ location: PLACES.paris }) });
    await companies('POST', '/v1/companies', { body: makeCompany() });
    expect(london.body.location).toEqual(PLACES.trafalgar);
    expect(await allNear(companies, '/v1/companies', 'near=51.5,-0.12&radiusKm=25')).toEqual([london.body.id]);
    const far = await companies('GET', '/v1/companies?near=51.5,-0.12&radiusKm=1000');
    expect(far.status).toBe(400);
    expect(fieldsOf(far)).toContain('query.radiusKm');
  });
});
