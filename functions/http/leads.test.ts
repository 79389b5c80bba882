import { beforeAll, describe, expect, it } from 'vitest';
import { uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
let leadsAs: (tenantId: string, roles?: string[], userId?: string) => Client;
let contactsAs: (tenantId: string, roles?: string[]) => Client;
let companiesAs: (tenantId: string, roles?: string[]) => Client;
let customFieldsAs: (tenantId: string) => Client;
let dealsAs: (tenantId: string) => Client;
let catalogAs: (tenantId: string) => Client;
const tenant = uniqueTenant('leads');

beforeAll(async () => {
  await useFreshTable();
  const leads = (await import('./leads.ts')).handler;
  const contacts = (await import('./contacts.ts')).handler;
  const companies = (await import('./companies.ts')).handler;
  const customFields = (await import('./custom-fields.ts')).handler;
  const deals = (await import('./deals.ts')).handler;
  const catalog = (await import('./catalog.ts')).handler;
  catalogAs = (tenantId) => apiClient(catalog, { tenantId, roles: ['admin'], userId: 'admin-1' });
  dealsAs = (tenantId) => apiClient(deals, { tenantId, roles: ['admin'], userId: 'admin-1' });
  customFieldsAs = (tenantId) => apiClient(customFields, { tenantId, roles: ['admin'], userId: 'admin-1' });
  leadsAs = (tenantId, roles = ['sales'], userId = 'rep-1') => apiClient(leads, { tenantId, roles, userId });
  contactsAs = (tenantId, roles = ['admin']) => apiClient(contacts, { tenantId, roles, userId: 'admin-1' });
  companiesAs = (tenantId, roles = ['admin']) => apiClient(companies, { tenantId, roles, userId: 'admin-1' });
});

let n = 0;
function makeLead(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  n += 1;
  return {
    firstName: 'Grace',
    lastName: `Hopper${n}`,
    emails: [`grace.${n}.${Date.now()}@navy.example`],
    phones: ['+1 202 555 0143'],
    title: 'Rear Admiral',
    company: {
      name: `Navy Labs ${n}`,
      domain: `navy-${n}.example`,
      size: '51-200',
      industry: 'Software',
      address: { country: 'us', region: 'VA', postalCode: '22202' },
    },
    utm: { source: 'newsletter', medium: 'email', campaign: 'spring' },
    tags: ['Event'],
    ...overrides,
  };
}

async function newLead(overrides: Record<string, unknown> = {}, tenantId = tenant) {
  const res = await leadsAs(tenantId)('POST', '/v1/leads', { body: makeLead(overrides) });
  expect(res.status).toBe(201);
  return res.body;
}

const idsOf = (res: TestResponse) => (res.body.items as Array<{ id: string }>).map((l) => l.id);
const fieldsOf = (res: TestResponse) => ((res.body.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);
const MISSING_ID = '01ARZ3NDEKTSV4RRFFQ69G5FAV';

describe('leads: create, get, patch', () => {
  it('creates a lead with defaults, normalised phone and tags, a Location and an ETag', async () => {
    const res = await leadsAs(tenant)('POST', '/v1/leads', { body: makeLead() });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/v1/leads/${res.body.id}`);
    expect(res.headers.etag).toBe('"1"');
    expect(res.body).toMatchObject({
      source: 'api',
      status: 'new',
      phones: ['+12025550143'],
      tags: ['event'],
      company: { address: { country: 'US' } },
      utm: { source: 'newsletter' },
      createdBy: 'rep-1',
    });
    expect(res.body.engagements).toBeUndefined();
    const got = await leadsAs(tenant)('GET', `/v1/leads/${res.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);
  });

  it('refuses a lead without any name, email or company, and bad fields, with field errors', async () => {
    const empty = await leadsAs(tenant)('POST', '/v1/leads', { body: { title: 'CTO' } });
    expect(empty.status).toBe(400);
    expect(fieldsOf(empty)).toContain('body.firstName');
    const bad = await leadsAs(tenant)('POST', '/v1/leads', {
      body: { firstName: 'X', emails: ['nope'], source: 'fax', company: { size: 'huge' }, status: 'converted' },
    });
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad)).toEqual(
      expect.arrayContaining(['body.emails.0', 'body.source', 'body.company.size', 'body.status']),
    );
    const phone = await leadsAs(tenant)('POST', '/v1/leads', { body: { firstName: 'X', phones: ['12'] } });
    expect(phone.status).toBe(400);
  });

  it('needs a reason to disqualify, on create and on patch', async () => {
    const create = await leadsAs(tenant)('POST', '/v1/leads', { body: makeLead({ status: 'disqualified' }) });
    expect(create.status).toBe(400);
    expect(fieldsOf(create)).toContain('body.disqualifiedReason');
    const lead = await newLead();
    const patch = await leadsAs(tenant)('PATCH', `/v1/leads/${lead.id}`, { body: { status: 'disqualified' } });
    expect(patch.status).toBe(400);
    expect(fieldsOf(patch)).toContain('body.disqualifiedReason');
    const ok = await leadsAs(tenant)('PATCH', `/v1/leads/${lead.id}`, {
      body: { status: 'disqualified', disqualifiedReason: 'Student project' },
      headers: { 'if-match': '"1"' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: 'disqualified', disqualifiedReason: 'Student project', version: 2 });
  });

  it('patches with If-Match (412 on a stale version) and never sets converted by patch', async () => {
    const lead = await newLead();
    const stale = await leadsAs(tenant)('PATCH', `/v1/leads/${lead.id}`, {
      body: { status: 'working' },
      headers: { 'if-match': '"7"' },
    });
    expect(stale.status).toBe(412);
    const converted = await leadsAs(tenant)('PATCH', `/v1/leads/${lead.id}`, { body: { status: 'converted' } });
    expect(converted.status).toBe(400);
    const cleared = await leadsAs(tenant)('PATCH', `/v1/leads/${lead.id}`, {
      body: { company: { industry: null }, utm: null, ownerId: 'rep-9' },
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body.company.industry).toBeUndefined();
    expect(cleared.body.utm).toBeUndefined();
    expect(cleared.body.ownerId).toBe('rep-9');
  });

  it("checks custom fields against the tenant's lead definitions and keeps a lead within 64 KiB (413)", async () => {
    const t = uniqueTenant('leadfields');
    const fields = Array.from({ length: 60 }, (_, i) => ({ key: `f${i}`, label: `F${i}`, type: 'text' }));
    const defined = await customFieldsAs(t)('PUT', '/v1/custom-fields/lead', { body: { fields } });
    expect(defined.status).toBe(200);
    const unknown = await leadsAs(t)('POST', '/v1/leads', { body: makeLead({ customFields: { nope: 'x' } }) });
    expect(unknown.status).toBe(400);
    expect(fieldsOf(unknown)).toEqual(['body.customFields.nope']);
    const lead = await newLead({ customFields: { f0: 'fine' } }, t);
    expect(lead.customFields).toEqual({ f0: 'fine' });
    const half = (from: number) =>
      Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${from + i}`, 'x'.repeat(2000)]));
    expect((await leadsAs(t)('PATCH', `/v1/leads/${lead.id}`, { body: { customFields: half(0) } })).status).toBe(200);
    const over = await leadsAs(t)('PATCH', `/v1/leads/${lead.id}`, { body: { customFields: half(30) } });
    expect(over.status).toBe(413);
    expect(over.body.code).toBe('record.too_large');
    expect((await leadsAs(t)('GET', `/v1/leads/${lead.id}`)).body.version).toBe(2);
  });

  it('is 404 for an unknown lead and 403 for a role without leads:write', async () => {
    expect((await leadsAs(tenant)('GET', `/v1/leads/${MISSING_ID}`)).status).toBe(404);
    const readonly = await leadsAs(tenant, ['readonly'])('POST', '/v1/leads', { body: makeLead() });
    expect(readonly.status).toBe(403);
    const support = await leadsAs(tenant, ['support'])('GET', '/v1/leads');
    expect(support.status).toBe(200);
  });

  it('replays a create with the same Idempotency-Key', async () => {
    const body = makeLead();
    const first = await leadsAs(tenant)('POST', '/v1/leads', { body, headers: { 'idempotency-key': `k-${n}` } });
    const again = await leadsAs(tenant)('POST', '/v1/leads', { body, headers: { 'idempotency-key': `k-${n}` } });
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.id).toBe(first.body.id);
  });
});

describe('leads: lists', () => {
  const t = uniqueTenant('leadlists');
  let a: { id: string };
  let b: { id: string };
  let c: { id: string };
  beforeAll(async () => {
    a = await newLead({ firstName: 'Alan', lastName: 'Turing', ownerId: 'owner-1', tags: ['hot'] }, t);
    b = await newLead({ firstName: 'Barbara', lastName: 'Liskov', source: 'import', status: 'working' }, t);
    c = await newLead({ firstName: 'Claude', lastName: 'Shannon', ownerId: 'owner-1', source: 'email' }, t);
  });

  it('lists by name by default, cursor-paginated', async () => {
    const first = await leadsAs(t)('GET', '/v1/leads?limit=2');
    expect(idsOf(first)).toEqual([a.id, b.id]);
    const next = await leadsAs(t)('GET', `/v1/leads?limit=2&cursor=${first.body.nextCursor}`);
    expect(idsOf(next)).toEqual([c.id]);
    expect(next.body.nextCursor).toBeNull();
  });

  it('lists by owner, status, source, tag, email and name prefix', async () => {
    const get = async (q: string) => idsOf(await leadsAs(t)('GET', `/v1/leads?${q}`));
    expect(await get('ownerId=owner-1')).toEqual([a.id, c.id]);
    expect(await get('status=working')).toEqual([b.id]);
    expect(await get('status=new')).toEqual([a.id, c.id]);
    expect(await get('source=import')).toEqual([b.id]);
    expect(await get('source=email')).toEqual([c.id]);
    expect(await get('tag=HOT')).toEqual([a.id]);
    const lead = (await leadsAs(t)('GET', `/v1/leads/${a.id}`)).body;
    const byEmail = await leadsAs(t)('GET', `/v1/leads?email=${encodeURIComponent(lead.emails[0].toUpperCase())}`);
    expect(byEmail.body.items).toEqual([
      expect.objectContaining({ id: a.id, firstName: 'Alan', status: 'new', email: lead.emails[0] }),
    ]);
    expect(await get('q=barb')).toEqual([b.id]);
  });

  it('refuses two filters at once and a cursor of another list', async () => {
    const two = await leadsAs(t)('GET', '/v1/leads?status=new&source=api');
    expect(two.status).toBe(400);
    const page = await leadsAs(t)('GET', '/v1/leads?limit=1');
    const foreign = await leadsAs(t)('GET', `/v1/leads?status=new&cursor=${page.body.nextCursor}`);
    expect(foreign.status).toBe(400);
    expect(fieldsOf(foreign)).toEqual(['query.cursor']);
  });

  it('moves a deleted lead to the trash (out of every list and lookup) and back', async () => {
    const lead = await newLead({ firstName: 'Zed', ownerId: 'owner-2' }, t);
    const since = new Date(Date.now() - 1000).toISOString();
    expect((await leadsAs(t)('DELETE', `/v1/leads/${lead.id}`)).status).toBe(403);
    const del = await leadsAs(t, ['manager'])('DELETE', `/v1/leads/${lead.id}`, { headers: { 'if-match': '"1"' } });
    expect(del.status).toBe(204);
    expect((await leadsAs(t)('GET', `/v1/leads/${lead.id}`)).status).toBe(404);
    expect(idsOf(await leadsAs(t)('GET', '/v1/leads?ownerId=owner-2'))).toEqual([]);
    expect(idsOf(await leadsAs(t)('GET', `/v1/leads?email=${lead.emails[0]}`))).toEqual([]);
    expect(idsOf(await leadsAs(t)('GET', '/v1/leads?inTrash=true'))).toEqual([lead.id]);
    expect(idsOf(await leadsAs(t)('GET', `/v1/leads?updatedSince=${since}`))).toContain(lead.id);
    const restored = await leadsAs(t, ['manager'])('POST', `/v1/leads/${lead.id}/restore`);
    expect(restored.status).toBe(200);
    expect(idsOf(await leadsAs(t)('GET', '/v1/leads?ownerId=owner-2'))).toEqual([lead.id]);
  });

  it('keeps tenants apart: another tenant sees none of these leads', async () => {
    const other = uniqueTenant('other');
    expect((await leadsAs(other)('GET', `/v1/leads/${a.id}`)).status).toBe(404);
    expect(idsOf(await leadsAs(other)('GET', '/v1/leads'))).toEqual([]);
    expect(idsOf(await leadsAs(other)('GET', '/v1/leads?ownerId=owner-1'))).toEqual([]);
    expect((await leadsAs(other)('PATCH', `/v1/leads/${a.id}`, { body: { title: 'x' } })).status).toBe(404);
    expect((await leadsAs(other)('POST', `/v1/leads/${a.id}/convert`, { body: {} })).status).toBe(404);
  });

  it('shows an empty timeline for a new lead and 404 for an unknown one', async () => {
    const res = await leadsAs(t)('GET', `/v1/leads/${a.id}/timeline`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [], nextCursor: null });
    expect((await leadsAs(t)('GET', `/v1/leads/${MISSING_ID}/timeline`)).status).toBe(404);
  });
});

describe('leads: convert', () => {
  it('creates the contact and the company from the lead in one go; the lead points to them', async () => {
    const lead = await newLead({ ownerId: 'rep-1' });
    const res = await leadsAs(tenant)('POST', `/v1/leads/${lead.id}/convert`, { body: {} });
    expect(res.status).toBe(200);
    const { contactId, companyId } = res.body;
    expect(res.body.lead).toMatchObject({
      status: 'converted',
      convertedContactId: contactId,
      convertedCompanyId: companyId,
      convertedBy: 'rep-1',
      version: 2,
    });
    const contact = (await contactsAs(tenant)('GET', `/v1/contacts/${contactId}`)).body;
    expect(contact).toMatchObject({
      firstName: 'Grace',
      lastName: lead.lastName,
      emails: lead.emails,
      phones: ['+12025550143'],
      jobTitle: 'Rear Admiral',
      companyId,
      ownerId: 'rep-1',
    });
    const company = (await companiesAs(tenant)('GET', `/v1/companies/${companyId}`)).body;
    expect(company).toMatchObject({ name: lead.company.name, domains: [lead.company.domain], industry: 'Software' });
    const stored = (await leadsAs(tenant)('GET', `/v1/leads/${lead.id}`)).body;
    expect(stored.status).toBe('converted');
    expect(stored.convertedAt).toBeDefined();
    // A converted lead keeps its status.
    const back = await leadsAs(tenant)('PATCH', `/v1/leads/${lead.id}`, { body: { status: 'working' } });
    expect(back.status).toBe(409);
    expect(back.body.code).toBe('lead.converted');
  });

  it('links an existing contact and company, or no company', async () => {
    const contact = await contactsAs(tenant)('POST', '/v1/contacts', { body: { firstName: 'Existing' } });
    const company = await companiesAs(tenant)('POST', '/v1/companies', { body: { name: 'Existing Co' } });
    const lead = await newLead();
    const res = await leadsAs(tenant)('POST', `/v1/leads/${lead.id}/convert`, {
      body: { contact: { id: contact.body.id }, company: { id: company.body.id } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ contactId: contact.body.id, companyId: company.body.id });
    const none = await newLead();
    const alone = await leadsAs(tenant)('POST', `/v1/leads/${none.id}/convert`, { body: { company: 'none' } });
    expect(alone.status).toBe(200);
    expect(alone.body.companyId).toBeUndefined();
    const contactNow = (await contactsAs(tenant)('GET', `/v1/contacts/${alone.body.contactId}`)).body;
    expect(contactNow.companyId).toBeUndefined();
  });

  it('refuses a missing contact or company and writes nothing', async () => {
    const lead = await newLead();
    const missing = await leadsAs(tenant)('POST', `/v1/leads/${lead.id}/convert`, {
      body: { contact: { id: MISSING_ID } },
    });
    expect(missing.status).toBe(400);
    expect(fieldsOf(missing)).toEqual(['body.contact.id']);
    const noCompany = await leadsAs(tenant)('POST', `/v1/leads/${lead.id}/convert`, {
      body: { company: { id: MISSING_ID } },
    });
    expect(noCompany.status).toBe(400);
    const still = (await leadsAs(tenant)('GET', `/v1/leads/${lead.id}`)).body;
    expect(still).toMatchObject({ status: 'new', version: 1 });
    expect(idsOf(await contactsAs(tenant)('GET', `/v1/contacts?email=${lead.emails[0]}`))).toEqual([]);
  });

  it('cannot create a company from a lead without a company name', async () => {
    const lead = await newLead({ company: { industry: 'Software' } });
    const res = await leadsAs(tenant)('POST', `/v1/leads/${lead.id}/convert`, { body: { company: { create: true } } });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['body.company']);
  });

  it('refuses a second conversion with 409 lead.already_converted', async () => {
    const lead = await newLead();
    expect((await leadsAs(tenant)('POST', `/v1/leads/${lead.id}/convert`, { body: {} })).status).toBe(200);
    const again = await leadsAs(tenant)('POST', `/v1/leads/${lead.id}/convert`, { body: {} });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('lead.already_converted');
  });

  it('lets exactly one of concurrent conversions win; the others are 409 and create nothing', async () => {
    const lead = await newLead();
    const results = await Promise.all(
      Array.from({ length: 6 }, () => leadsAs(tenant)('POST', `/v1/leads/${lead.id}/convert`, { body: {} })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 409, 409, 409, 409, 409]);
    for (const r of results.filter((x) => x.status === 409)) expect(r.body.code).toBe('lead.already_converted');
    const contacts = await contactsAs(tenant)('GET', `/v1/contacts?email=${lead.emails[0]}`);
    expect(contacts.body.items).toHaveLength(1);
  });

  it('replays a conversion with the same Idempotency-Key, even after it converted', async () => {
    const lead = await newLead();
    const headers = { 'idempotency-key': `convert-${lead.id}` };
    const first = await leadsAs(tenant)('POST', `/v1/leads/${lead.id}/convert`, { body: {}, headers });
    const again = await leadsAs(tenant)('POST', `/v1/leads/${lead.id}/convert`, { body: {}, headers });
    expect(again.status).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    const other = await leadsAs(tenant)('POST', `/v1/leads/${lead.id}/convert`, {
      body: {},
      headers: { 'idempotency-key': 'another' },
    });
    expect(other.status).toBe(409);
  });

  it('creates a deal for the contact and company in the same transaction, owned by the lead owner', async () => {
    const lead = await newLead({ company: { name: 'Deal Co' }, ownerId: 'rep-9' });
    const noPipeline = await leadsAs(tenant)('POST', `/v1/leads/${lead.id}/convert`, {
      body: { deal: { name: 'Pilot', amount: 150000, currency: 'EUR' } },
    });
    expect(noPipeline.status).toBe(400);
    expect(fieldsOf(noPipeline)).toEqual(['body.deal.pipelineId']);
    expect((await leadsAs(tenant)('GET', `/v1/leads/${lead.id}`)).body.status).toBe('new');
    const stages = [
      { id: 'new', name: 'New' },
      { id: 'won', name: 'Won', kind: 'won' },
      { id: 'lost', name: 'Lost', kind: 'lost' },
    ];
    expect((await catalogAs(tenant)('POST', '/v1/pipelines', { body: { name: 'Sales', stages } })).status).toBe(201);
    const res = await leadsAs(tenant)('POST', `/v1/leads/${lead.id}/convert`, {
      body: { deal: { name: 'Pilot', amount: 150000, currency: 'EUR' } },
    });
    expect(res.status).toBe(200);
    const { contactId, companyId, dealId } = res.body;
    expect(res.body.lead).toMatchObject({ status: 'converted', convertedDealId: dealId });
    const deal = await dealsAs(tenant)('GET', `/v1/deals/${dealId}`);
    expect(deal.body).toMatchObject({
      name: 'Pilot',
      amount: 150000,
      currency: 'EUR',
      contactIds: [contactId],
      companyId,
      ownerId: 'rep-9',
    });
  });

  it('refuses a malformed deal or an unknown stage and writes nothing', async () => {
    const lead = await newLead();
    const bad = await leadsAs(tenant)('POST', `/v1/leads/${lead.id}/convert`, {
      body: { deal: { name: 'Pilot', amount: 1.5, currency: 'EUR' } },
    });
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad)).toEqual(['body.deal.amount']);
    const stage = await leadsAs(tenant)('POST', `/v1/leads/${lead.id}/convert`, {
      body: { deal: { name: 'Pilot', amount: 1, currency: 'EUR', stageId: MISSING_ID } },
    });
    expect(stage.status).toBe(400);
    expect(fieldsOf(stage)).toEqual(['body.deal.stageId']);
    expect((await leadsAs(tenant)('GET', `/v1/leads/${lead.id}`)).body.status).toBe('new');
    expect(idsOf(await contactsAs(tenant)('GET', `/v1/contacts?email=${lead.emails[0]}`))).toEqual([]);
  });

  it('needs leads:convert', async () => {
    const lead = await newLead();
    const res = await leadsAs(tenant, ['marketing'])('POST', `/v1/leads/${lead.id}/convert`, { body: {} });
    expect(res.status).toBe(403);
  });
});

describe('scoring rules', () => {
  const t = uniqueTenant('rules');
  const rules = [
    {
      id: 'software',
      kind: 'fit',
      field: 'company.industry',
      condition: { op: 'equals', value: 'software' },
      points: 10,
    },
    {
      id: 'dach',
      kind: 'fit',
      field: 'company.address.country',
      condition: { op: 'in', values: ['DE', 'AT', 'CH'] },
      points: 5,
    },
    { id: 'form', kind: 'engagement', event: 'form.submitted', points: 20, halfLifeDays: 30 },
    {
      id: 'meeting-held',
      kind: 'engagement',
      event: 'activity.updated',
      where: { 'record.type': 'meeting', 'record.status': 'held' },
      points: 30,
    },
  ];

  it('starts empty (version 0), is replaced as a whole with If-Match, and needs scoring:manage', async () => {
    const empty = await leadsAs(t)('GET', '/v1/scoring-rules');
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({ rules: [], version: 0 });
    expect((await leadsAs(t, ['sales'])('PUT', '/v1/scoring-rules', { body: { rules } })).status).toBe(403);
    const put = await leadsAs(t, ['marketing'])('PUT', '/v1/scoring-rules', { body: { rules } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ rules, version: 1 });
    const stale = await leadsAs(t, ['marketing'])('PUT', '/v1/scoring-rules', {
      body: { rules: [] },
      headers: { 'if-match': '"0"' },
    });
    expect(stale.status).toBe(412);
    expect((await leadsAs(t)('GET', '/v1/scoring-rules')).body.rules).toEqual(rules);
  });

  it('refuses malformed rules with field errors', async () => {
    const res = await leadsAs(t, ['marketing'])('PUT', '/v1/scoring-rules', {
      body: {
        rules: [
          { id: 'Bad Id', kind: 'fit', field: 'company.industry', condition: { op: 'equals' }, points: 5 },
          { id: 'x', kind: 'engagement', event: 'form', points: 1.5, halfLifeDays: 0 },
          { id: 'y', kind: 'fit', field: 'password', condition: { op: 'exists' }, points: 1 },
        ],
      },
    });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(
      expect.arrayContaining([
        'body.rules.0.id',
        'body.rules.0.condition.value',
        'body.rules.1.event',
        'body.rules.1.points',
        'body.rules.1.halfLifeDays',
        'body.rules.2.field',
      ]),
    );
    const dup = await leadsAs(t, ['marketing'])('PUT', '/v1/scoring-rules', { body: { rules: [rules[0], rules[0]] } });
    expect(dup.status).toBe(400);
  });
});
