import { beforeAll, describe, expect, it } from 'vitest';
import { makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';
import { availableMembers, putTeam, spread } from '../../test/support/teams.ts';

type Client = ReturnType<typeof apiClient>;
let assignmentAs: (tenantId: string, roles?: string[]) => Client;
let contactsAs: (tenantId: string, roles?: string[]) => Client;
let service: typeof import('../../shared/assignment/service.ts');
let salesAs: (group: 'leads' | 'deals' | 'catalog' | 'forms' | 'formSubmissions', tenantId: string) => Client;

beforeAll(async () => {
  await useFreshTable();
  const assignmentHandler = (await import('./assignment.ts')).handler;
  const contactsHandler = (await import('./contacts.ts')).handler;
  service = await import('../../shared/assignment/service.ts');
  const sales = {
    leads: (await import('./leads.ts')).handler,
    deals: (await import('./deals.ts')).handler,
    catalog: (await import('./catalog.ts')).handler,
    forms: (await import('./forms.ts')).handler,
    formSubmissions: (await import('./form-submissions.ts')).handler,
  };
  salesAs = (group, tenantId) => apiClient(sales[group], { tenantId, roles: ['admin'], userId: 'admin-1' });
  assignmentAs = (tenantId, roles = ['admin']) => apiClient(assignmentHandler, { tenantId, roles, userId: 'admin-1' });
  contactsAs = (tenantId, roles = ['sales']) => apiClient(contactsHandler, { tenantId, roles, userId: 'rep-1' });
});

const fieldsOf = (res: TestResponse) => ((res.body.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);

async function putRules(tenantId: string, rules: unknown[]): Promise<TestResponse> {
  const res = await assignmentAs(tenantId)('PUT', '/v1/assignment-rules', { body: { rules } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res;
}

const roundRobin = (id: string, teamId: string, extra: Record<string, unknown> = {}) => ({
  id,
  entities: ['contact', 'lead', 'deal'],
  teamId,
  method: 'roundRobin',
  ...extra,
});

/** Creates `count` contacts at once without an owner; returns their owners as the responses show them. */
async function createConcurrently(tenantId: string, count: number, body: Record<string, unknown> = {}) {
  const contacts = contactsAs(tenantId);
  const responses = await Promise.all(
    Array.from({ length: count }, () => contacts('POST', '/v1/contacts', { body: makeContact(body) })),
  );
  for (const res of responses) expect(res.status, JSON.stringify(res.body)).toBe(201);
  return responses.map((res) => res.body.ownerId as string | undefined);
}

describe('assignment rules: GET and PUT', () => {
  it('has no rules until some are put, then returns them in order with a version', async () => {
    const t = uniqueTenant('asg');
    const empty = await assignmentAs(t)('GET', '/v1/assignment-rules');
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({ rules: [], version: 0 });
    const put = await putRules(t, [
      roundRobin('london', 'team-uk', { conditions: { postalCodePrefixes: ['SW', 'EC'], countries: ['gb'] } }),
      { id: 'rest', entities: ['lead'], teamId: 'team-all', method: 'leastLoaded', active: false },
    ]);
    expect(put.headers.etag).toBe('"1"');
    const got = await assignmentAs(t)('GET', '/v1/assignment-rules');
    expect(got.body.rules.map((r: { id: string }) => r.id)).toEqual(['london', 'rest']);
    expect(got.body.rules[0].conditions.countries).toEqual(['GB']);
    expect(got.body.rules[1]).toMatchObject({ active: false, conditions: {} });
    expect(got.body.version).toBe(1);
  });

  it('honours If-Match: a stale version gets 412 and changes nothing', async () => {
    const t = uniqueTenant('asg');
    await putRules(t, [roundRobin('a', 'team-1')]);
    const client = assignmentAs(t);
    const stale = await client('PUT', '/v1/assignment-rules', {
      body: { rules: [] },
      headers: { 'if-match': '"0"' },
    });
    expect(stale.status).toBe(412);
    const ok = await client('PUT', '/v1/assignment-rules', { body: { rules: [] }, headers: { 'if-match': '"1"' } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ rules: [], version: 2 });
  });

  it('refuses bad rules with field errors and stores nothing', async () => {
    const t = uniqueTenant('asg');
    const client = assignmentAs(t);
    const cases: Array<[unknown, string]> = [
      [{ rules: [roundRobin('a', 't'), roundRobin('a', 't')] }, 'body.rules'],
      [{ rules: [roundRobin('a', 't', { method: 'random' })] }, 'body.rules.0.method'],
      [{ rules: [roundRobin('a', 't', { conditions: { countries: [] } })] }, 'body.rules.0.conditions.countries'],
      [
        { rules: [roundRobin('a', 't', { conditions: { countries: ['Germany'] } })] },
        'body.rules.0.conditions.countries.0',
      ],
      [{ rules: [roundRobin('A B', 't')] }, 'body.rules.0.id'],
      [{ rules: [roundRobin('a', 't', { entities: ['ticket'] })] }, 'body.rules.0.entities.0'],
      [{ rules: Array.from({ length: 101 }, (_, i) => roundRobin(`r${i}`, 't')) }, 'body.rules'],
    ];
    for (const [body, field] of cases) {
      const res = await client('PUT', '/v1/assignment-rules', { body });
      expect(res.status, JSON.stringify(body).slice(0, 100)).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(fieldsOf(res)).toContain(field);
    }
    expect((await client('GET', '/v1/assignment-rules')).body.version).toBe(0);
  });

  it('lets readers read and only managers change the rules', async () => {
    const t = uniqueTenant('asg');
    expect((await assignmentAs(t, ['sales'])('GET', '/v1/assignment-rules')).status).toBe(200);
    const denied = await assignmentAs(t, ['sales'])('PUT', '/v1/assignment-rules', { body: { rules: [] } });
    expect(denied.status).toBe(403);
    expect((await assignmentAs(t, ['manager'])('PUT', '/v1/assignment-rules', { body: { rules: [] } })).status).toBe(
      200,
    );
  });

  it('previews the rule and eligible members without assigning', async () => {
    const t = uniqueTenant('asg');
    await putTeam(t, 'team-de', [
      { userId: 'b', availability: 'available' },
      { userId: 'a', availability: 'available' },
      { userId: 'c', availability: 'away' },
    ]);
    await putRules(t, [roundRobin('de', 'team-de', { conditions: { countries: ['DE'] } })]);
    const client = assignmentAs(t);
    const hit = await client('GET', '/v1/assignment-rules/preview?entity=contact&country=de');
    expect(hit.body).toEqual({ ruleId: 'de', teamId: 'team-de', eligibleUserIds: ['a', 'b'] });
    const miss = await client('GET', '/v1/assignment-rules/preview?entity=contact&country=FR');
    expect(miss.body).toEqual({ ruleId: null, teamId: null, eligibleUserIds: [] });
    expect((await client('GET', '/v1/assignment-rules/preview?entity=ticket')).status).toBe(400);
    expect(await service.openLoad(t, 'a')).toBe(0);
  });
});

describe('contacts created without an owner', () => {
  it('get one from the first matching rule, in turn by user id, shown in the response and stored', async () => {
    const t = uniqueTenant('asg');
    await putTeam(t, 'team-uk', availableMembers(3));
    await putTeam(t, 'team-de', [{ userId: 'de-1', availability: 'available' }]);
    await putRules(t, [
      roundRobin('de', 'team-de', { conditions: { countries: ['DE'] } }),
      roundRobin('uk', 'team-uk', { conditions: { countries: ['GB'] } }),
    ]);
    const contacts = contactsAs(t);
    const owners: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await contacts('POST', '/v1/contacts', { body: makeContact({ address: { country: 'gb' } }) });
      expect(res.status).toBe(201);
      owners.push(res.body.ownerId);
      const stored = await contacts('GET', `/v1/contacts/${res.body.id}`);
      expect(stored.body.ownerId).toBe(res.body.ownerId);
    }
    expect(owners).toEqual(['m00', 'm01', 'm02', 'm00']);
    const de = await contacts('POST', '/v1/contacts', { body: makeContact({ address: { country: 'DE' } }) });
    expect(de.body.ownerId).toBe('de-1');
    const listed = await contacts('GET', '/v1/contacts?ownerId=de-1');
    expect(listed.body.items.map((c: { id: string }) => c.id)).toEqual([de.body.id]);
  });

  it('keep the owner they were given, and stay unowned when no rule matches', async () => {
    const t = uniqueTenant('asg');
    await putTeam(t, 'team-uk', availableMembers(2));
    await putRules(t, [roundRobin('uk', 'team-uk', { conditions: { countries: ['GB'] } })]);
    const contacts = contactsAs(t);
    const given = await contacts('POST', '/v1/contacts', { body: makeContact({ ownerId: 'someone' }) });
    expect(given.body.ownerId).toBe('someone');
    const elsewhere = await contacts('POST', '/v1/contacts', { body: makeContact({ address: { country: 'FR' } }) });
    expect(elsewhere.status).toBe(201);
    expect(elsewhere.body.ownerId).toBeUndefined();
    expect(await service.openLoad(t, 'm00')).toBe(0);
  });

  it('stay unowned when every member is away, at capacity, or the team is missing', async () => {
    const t = uniqueTenant('asg');
    await putTeam(t, 'team-away', [{ userId: 'x', availability: 'away' }]);
    await putTeam(t, 'team-full', [{ userId: 'y', availability: 'available', capacity: 1 }]);
    await putRules(t, [
      roundRobin('away', 'team-away', { conditions: { countries: ['FR'] } }),
      roundRobin('full', 'team-full', { conditions: { countries: ['GB'] } }),
      roundRobin('ghost', 'no-such-team', { conditions: { countries: ['DE'] } }),
    ]);
    const contacts = contactsAs(t);
    const create = async (country: string) =>
      (await contacts('POST', '/v1/contacts', { body: makeContact({ address: { country } }) })).body.ownerId;
    expect(await create('FR')).toBeUndefined();
    expect(await create('DE')).toBeUndefined();
    expect(await create('GB')).toBe('y');
    expect(await create('GB')).toBeUndefined();
    expect(await service.openLoad(t, 'y')).toBe(1);
  });

  it('skip members who are away and those at capacity, and take back the load of a refused create', async () => {
    const t = uniqueTenant('asg');
    await putTeam(t, 'team', [
      { userId: 'a', availability: 'available', capacity: 2 },
      { userId: 'b', availability: 'away' },
      { userId: 'c', availability: 'available' },
    ]);
    await putRules(t, [roundRobin('all', 'team')]);
    const contacts = contactsAs(t);
    const refused = await contacts('POST', '/v1/contacts', { body: makeContact({ companyId: 'missing-company' }) });
    expect(refused.status).toBe(400);
    expect((await service.openLoad(t, 'a')) + (await service.openLoad(t, 'c'))).toBe(0);
    const owners = await createConcurrently(t, 8);
    expect(owners.filter((o) => o === 'b')).toHaveLength(0);
    expect(owners.filter((o) => o === 'a').length).toBeLessThanOrEqual(2);
    expect(owners.every((o) => o === 'a' || o === 'c')).toBe(true);
    expect(await service.openLoad(t, 'a')).toBeLessThanOrEqual(2);
  });

  it("use only their own tenant's rules, teams and counters", async () => {
    const a = uniqueTenant('asg-a');
    const b = uniqueTenant('asg-b');
    await putTeam(a, 'team', availableMembers(2));
    await putRules(a, [roundRobin('all', 'team')]);
    await putTeam(b, 'team', [{ userId: 'b-only', availability: 'available' }]);
    expect((await createConcurrently(b, 3)).every((o) => o === undefined)).toBe(true);
    await putRules(b, [roundRobin('all', 'team')]);
    expect(await createConcurrently(b, 3)).toEqual(['b-only', 'b-only', 'b-only']);
    expect(spread(await createConcurrently(a, 4), ['m00', 'm01']).fairness).toBe(0);
    expect((await assignmentAs(b)('GET', '/v1/assignment-rules')).body.version).toBe(1);
  });
});

describe('leads and deals created without an owner', () => {
  it('leads by territory and source, web-to-lead leads of a form without an owner, and deals by their own rule', async () => {
    const t = uniqueTenant('asg-sales');
    await putTeam(t, 'team-uk', availableMembers(2));
    await putTeam(t, 'team-web', [{ userId: 'web-1', availability: 'available' }]);
    await putTeam(t, 'team-deals', [{ userId: 'closer-1', availability: 'available' }]);
    await putRules(t, [
      { id: 'web', entities: ['lead'], teamId: 'team-web', method: 'roundRobin', conditions: { sources: ['form'] } },
      { id: 'uk', entities: ['lead'], teamId: 'team-uk', method: 'roundRobin', conditions: { countries: ['GB'] } },
      { id: 'deals', entities: ['deal'], teamId: 'team-deals', method: 'leastLoaded' },
    ]);
    const leads = salesAs('leads', t);
    const uk = { firstName: 'Ada', company: { name: 'Engines', address: { country: 'GB' } } };
    const owners: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await leads('POST', '/v1/leads', { body: uk });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.assignedByRule).toBe('uk');
      owners.push(res.body.ownerId);
    }
    expect(owners).toEqual(['m00', 'm01', 'm00']);
    const given = await leads('POST', '/v1/leads', { body: { ...uk, ownerId: 'rep-9' } });
    expect(given.body).toMatchObject({ ownerId: 'rep-9' });
    expect(given.body.assignedByRule).toBeUndefined();
    const elsewhere = await leads('POST', '/v1/leads', { body: { firstName: 'Jo', company: { name: 'X' } } });
    expect(elsewhere.body.ownerId).toBeUndefined();

    const form = await salesAs('forms', t)('POST', '/v1/forms', {
      body: {
        name: 'Demo',
        fields: [{ name: 'email', type: 'email', mapsTo: 'email', required: true }],
        allowedOrigins: ['https://www.example.com'],
      },
    });
    expect(form.status, JSON.stringify(form.body)).toBe(201);
    const posted = await salesAs('formSubmissions', t)('POST', `/v1/forms/${form.body.publicKey}/submissions`, {
      body: { email: 'web@example.org' },
      headers: { origin: 'https://www.example.com' },
    });
    expect(posted.status, JSON.stringify(posted.body)).toBe(202);
    const [fromForm] = (await leads('GET', '/v1/leads?email=web%40example.org')).body.items;
    expect((await leads('GET', `/v1/leads/${fromForm.id}`)).body).toMatchObject({
      source: 'form',
      ownerId: 'web-1',
      assignedByRule: 'web',
    });

    const stages = [
      { id: 'open', name: 'Open' },
      { id: 'won', name: 'Won', kind: 'won' },
      { id: 'lost', name: 'Lost', kind: 'lost' },
    ];
    expect((await salesAs('catalog', t)('POST', '/v1/pipelines', { body: { name: 'P', stages } })).status).toBe(201);
    const deal = await salesAs('deals', t)('POST', '/v1/deals', { body: { name: 'D', currency: 'EUR', amount: 1 } });
    expect(deal.status, JSON.stringify(deal.body)).toBe(201);
    expect(deal.body).toMatchObject({ ownerId: 'closer-1', assignedByRule: 'deals' });
    expect(await service.openLoad(t, 'closer-1')).toBe(1);
  });

  it('gives a deal to its creator when no rule applies, and takes back the load of a refused deal', async () => {
    const t = uniqueTenant('asg-deals');
    const deals = salesAs('deals', t);
    // No pipeline yet: the create is refused after a rule chose its owner.
    await putTeam(t, 'team-deals', [{ userId: 'closer-1', availability: 'available' }]);
    await putRules(t, [{ id: 'deals', entities: ['deal'], teamId: 'team-deals', method: 'leastLoaded' }]);
    const refused = await deals('POST', '/v1/deals', { body: { name: 'D', currency: 'EUR', amount: 1 } });
    expect(refused.status).toBe(400);
    expect(await service.openLoad(t, 'closer-1')).toBe(0);
    const t2 = uniqueTenant('asg-deals');
    const stages = [
      { id: 'open', name: 'Open' },
      { id: 'won', name: 'Won', kind: 'won' },
      { id: 'lost', name: 'Lost', kind: 'lost' },
    ];
    expect((await salesAs('catalog', t2)('POST', '/v1/pipelines', { body: { name: 'P', stages } })).status).toBe(201);
    const mine = await salesAs('deals', t2)('POST', '/v1/deals', { body: { name: 'D', currency: 'EUR', amount: 1 } });
    expect(mine.body).toMatchObject({ ownerId: 'admin-1' });
    expect(mine.body.assignedByRule).toBeUndefined();
  });
});

describe('fairness under concurrency', () => {
  it('keeps the rotation whole when creates are retried with their Idempotency-Key, even in parallel', async () => {
    const t = uniqueTenant('fair');
    const members = availableMembers(4);
    await putTeam(t, 'team', members);
    await putRules(t, [roundRobin('all', 'team')]);
    // An attempt that took its turn and died before writing (a Lambda timeout): its retry takes the same turn.
    const died = await service.chooseOwner(t, { entity: 'contact' }, 'retried-key');
    const contacts = contactsAs(t);
    const body = makeContact();
    const retried = await contacts('POST', '/v1/contacts', { body, headers: { 'idempotency-key': 'retried-key' } });
    expect(retried.body.ownerId).toBe(died);
    // 19 more creates, each sent twice at once with the same key: one record each, and no turn lost.
    const bodies = Array.from({ length: 19 }, () => makeContact());
    const responses = await Promise.all(
      bodies.flatMap((b, i) =>
        [0, 1].map(() => contacts('POST', '/v1/contacts', { body: b, headers: { 'idempotency-key': `k-${i}` } })),
      ),
    );
    for (const res of responses) expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    const byId = new Map(responses.map((r) => [r.body.id as string, r.body.ownerId as string]));
    byId.set(retried.body.id, retried.body.ownerId);
    expect(byId.size).toBe(20);
    const { fairness, counts } = spread(
      [...byId.values()],
      members.map((m) => m.userId),
    );
    expect(fairness, JSON.stringify(counts)).toBe(0);
  });

  it('takes the turn over when the first attempt claimed it and died before taking a number', async () => {
    const t = uniqueTenant('fair');
    await putTeam(t, 'team', availableMembers(2));
    await putRules(t, [roundRobin('all', 'team')]);
    const { model } = await import('../../shared/db/store.ts');
    const { createHash } = await import('node:crypto');
    const counterId = `turn#all#${createHash('sha256').update('orphan-key').digest('base64url')}`;
    // Claimed a minute ago (its TTL is 25 hours from the claim), never given a number: that attempt is dead.
    const claimed = Math.floor(Date.now() / 1000) - 60 + 25 * 60 * 60;
    await model.entities.assignmentCounter.create({ tenantId: t, counterId, ttl: claimed }).go();
    const res = await contactsAs(t)('POST', '/v1/contacts', {
      body: makeContact(),
      headers: { 'idempotency-key': 'orphan-key' },
    });
    expect(res.status).toBe(201);
    expect(res.body.ownerId).toBe('m00');
    expect((await contactsAs(t)('POST', '/v1/contacts', { body: makeContact() })).body.ownerId).toBe('m01');
  });

  it.each([4, 5, 3, 7])('100 concurrent chooseOwner calls over %i members spread exactly evenly', async (n) => {
    const t = uniqueTenant('fair');
    const members = availableMembers(n);
    await putTeam(t, 'team', members);
    await putRules(t, [roundRobin('all', 'team')]);
    const owners = await Promise.all(Array.from({ length: 100 }, () => service.chooseOwner(t, { entity: 'lead' })));
    const { fairness, counts } = spread(
      owners,
      members.map((m) => m.userId),
    );
    expect(owners.every((o) => o !== undefined)).toBe(true);
    expect(fairness, JSON.stringify(counts)).toBe(100 % n === 0 ? 0 : 1);
  });

  it.each([4, 3])('100 concurrent contact creates over %i members spread exactly evenly', async (n) => {
    const t = uniqueTenant('fair');
    const members = availableMembers(n);
    await putTeam(t, 'team', members);
    await putRules(t, [roundRobin('all', 'team')]);
    const owners = await createConcurrently(t, 100);
    const { fairness, counts } = spread(
      owners,
      members.map((m) => m.userId),
    );
    expect(fairness, JSON.stringify(counts)).toBe(100 % n === 0 ? 0 : 1);
    for (const m of members) expect(await service.openLoad(t, m.userId)).toBe(counts[m.userId]);
  });

  it('least loaded: 100 concurrent choices over 4 members keep loads within 1 and favour the least loaded', async () => {
    const t = uniqueTenant('fair');
    const members = availableMembers(4);
    await putTeam(t, 'team', members);
    await putRules(t, [{ ...roundRobin('all', 'team'), method: 'leastLoaded' }]);
    // m00 already carries 10 open records: it gets nothing until the others catch up.
    for (let i = 0; i < 10; i++) await service.addToCounter(t, service.loadCounter('m00'), 1);
    const owners = await Promise.all(Array.from({ length: 30 }, () => service.chooseOwner(t, { entity: 'deal' })));
    expect(owners.filter((o) => o === 'm00')).toHaveLength(0);
    expect(spread(owners, ['m01', 'm02', 'm03']).fairness).toBe(0);
    const more = await Promise.all(Array.from({ length: 70 }, () => service.chooseOwner(t, { entity: 'deal' })));
    const loads = await Promise.all(members.map((m) => service.openLoad(t, m.userId)));
    expect(loads.reduce((a, b) => a + b)).toBe(110);
    expect(Math.max(...loads) - Math.min(...loads), JSON.stringify(loads)).toBeLessThanOrEqual(1);
    expect(more.every((o) => o !== undefined)).toBe(true);
  });

  it('least loaded over HTTP: 40 concurrent contact creates over 4 members spread exactly evenly', async () => {
    const t = uniqueTenant('fair');
    const members = availableMembers(4);
    await putTeam(t, 'team', members);
    await putRules(t, [{ ...roundRobin('all', 'team'), method: 'leastLoaded' }]);
    const owners = await createConcurrently(t, 40);
    const { fairness, counts } = spread(
      owners,
      members.map((m) => m.userId),
    );
    expect(fairness, JSON.stringify(counts)).toBe(0);
  });
});
