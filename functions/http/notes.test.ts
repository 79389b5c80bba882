import { beforeAll, describe, expect, it } from 'vitest';
import { makeCompany, makeContact, makeNote, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

// Handlers read TABLE_NAME when loaded, so they are imported after the table exists.
type Client = ReturnType<typeof apiClient>;
let notesAs: (tenantId: string, roles?: string[], userId?: string) => Client;
let contactsAs: (tenantId: string, roles?: string[], userId?: string) => Client;
let companiesAs: (tenantId: string, roles?: string[], userId?: string) => Client;
const tenant = uniqueTenant('notes');

beforeAll(async () => {
  await useFreshTable();
  const notesHandler = (await import('./notes.ts')).handler;
  const contactsHandler = (await import('./contacts.ts')).handler;
  const companiesHandler = (await import('./companies.ts')).handler;
  notesAs = (tenantId, roles = ['sales'], userId = 'author-1') => apiClient(notesHandler, { tenantId, roles, userId });
  contactsAs = (tenantId, roles = ['admin'], userId = 'admin-1') =>
    apiClient(contactsHandler, { tenantId, roles, userId });
  companiesAs = (tenantId, roles = ['admin'], userId = 'admin-1') =>
    apiClient(companiesHandler, { tenantId, roles, userId });
});

const idsOf = (res: TestResponse) => (res.body.items as Array<{ id: string }>).map((n) => n.id);
const fieldsOf = (res: TestResponse) => ((res.body.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);

async function newContact(tenantId = tenant): Promise<string> {
  const res = await contactsAs(tenantId)('POST', '/v1/contacts', { body: makeContact() });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function newCompany(tenantId = tenant): Promise<string> {
  const res = await companiesAs(tenantId)('POST', '/v1/companies', { body: makeCompany() });
  expect(res.status).toBe(201);
  return res.body.id;
}

/** Every note of a subject, following cursors. */
async function allNotes(client: Client, path: string, limit = 100): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const res: TestResponse = await client('GET', `${path}?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status).toBe(200);
    seen.push(...idsOf(res));
    cursor = res.body.nextCursor;
  } while (cursor);
  return seen;
}

const MISSING_ID = '01ARZ3NDEKTSV4RRFFQ69G5FAV';

describe('notes: create and get', () => {
  it('adds a note to a contact, with a Location and an ETag', async () => {
    const contactId = await newContact();
    const notes = notesAs(tenant);
    const res = await notes('POST', `/v1/contacts/${contactId}/notes`, { body: { body: '  Called Ada; keen.  ' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      subjectType: 'contact',
      subjectId: contactId,
      body: 'Called Ada; keen.',
      pinned: false,
      authorId: 'author-1',
      version: 1,
      createdBy: 'author-1',
      updatedBy: 'author-1',
    });
    expect(res.body.id).toMatch(/^[0-9A-Z]{26}$/);
    expect(res.body.occurredAt).toBe(res.body.createdAt);
    for (const hidden of ['tenantId', 'noteId', 'deletedBy', 'deletedAt', 'gsi6pk', 'gsi6sk', 'pk', 'sk']) {
      expect(res.body).not.toHaveProperty(hidden);
    }
    expect(res.headers.location).toBe(`/v1/notes/${res.body.id}`);
    expect(res.headers.etag).toBe('"1"');

    const got = await notes('GET', `/v1/notes/${res.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);
    expect(got.headers.etag).toBe('"1"');
  });

  it('keeps an explicit occurredAt and pinned flag, normalising the time to UTC', async () => {
    const contactId = await newContact();
    const res = await notesAs(tenant)('POST', `/v1/contacts/${contactId}/notes`, {
      body: makeNote({ occurredAt: '2026-03-01T12:00:00+02:00', pinned: true }),
    });
    expect(res.status).toBe(201);
    expect(res.body.occurredAt).toBe('2026-03-01T10:00:00.000Z');
    expect(res.body.pinned).toBe(true);
  });

  it('adds notes to a company and shows them on its notes list and timeline', async () => {
    const companyId = await newCompany();
    const notes = notesAs(tenant);
    const older = await notes('POST', `/v1/companies/${companyId}/notes`, {
      body: makeNote({ occurredAt: '2026-01-01T00:00:00Z' }),
    });
    const newer = await notes('POST', `/v1/companies/${companyId}/notes`, {
      body: makeNote({ occurredAt: '2026-02-01T00:00:00Z' }),
    });
    expect(older.status).toBe(201);
    expect(older.body).toMatchObject({ subjectType: 'company', subjectId: companyId });
    expect(older.headers.location).toBe(`/v1/notes/${older.body.id}`);
    expect(idsOf(await notes('GET', `/v1/companies/${companyId}/notes`))).toEqual([newer.body.id, older.body.id]);
    const timeline = await companiesAs(tenant, ['readonly'])('GET', `/v1/companies/${companyId}/timeline`);
    expect(timeline.status).toBe(200);
    expect(idsOf(timeline)).toEqual([newer.body.id, older.body.id]);
    expect(timeline.body.items[0]).toMatchObject({ type: 'note', occurredAt: '2026-02-01T00:00:00.000Z' });
  });

  it('refuses a note on a missing contact or company with 404, storing nothing', async () => {
    const notes = notesAs(tenant);
    const onContact = await notes('POST', `/v1/contacts/${MISSING_ID}/notes`, { body: makeNote() });
    expect(onContact.status).toBe(404);
    expect(onContact.headers['content-type']).toBe('application/problem+json');
    expect(onContact.body.code).toBe('contact.not_found');
    expect((await notes('GET', `/v1/contacts/${MISSING_ID}/notes`)).body.items).toEqual([]);
    expect((await contactsAs(tenant)('GET', `/v1/contacts/${MISSING_ID}/timeline`)).body.items).toEqual([]);

    const onCompany = await notes('POST', `/v1/companies/${MISSING_ID}/notes`, { body: makeNote() });
    expect(onCompany.status).toBe(404);
    expect(onCompany.body.code).toBe('company.not_found');
    expect((await notes('GET', `/v1/companies/${MISSING_ID}/notes`)).body.items).toEqual([]);

    // A company id is not a contact id, and vice versa.
    const companyId = await newCompany();
    expect((await notes('POST', `/v1/contacts/${companyId}/notes`, { body: makeNote() })).status).toBe(404);
    const contactId = await newContact();
    expect((await notes('POST', `/v1/companies/${contactId}/notes`, { body: makeNote() })).status).toBe(404);
  });

  it('refuses a note on a trashed contact with 404, storing nothing; accepts it again once restored', async () => {
    const contactId = await newContact();
    const admin = contactsAs(tenant);
    const notes = notesAs(tenant);
    expect((await admin('DELETE', `/v1/contacts/${contactId}`)).status).toBe(204);
    const res = await notes('POST', `/v1/contacts/${contactId}/notes`, { body: makeNote() });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('contact.not_found');
    expect((await notes('GET', `/v1/contacts/${contactId}/notes`)).body.items).toEqual([]);
    expect((await admin('GET', `/v1/contacts/${contactId}/timeline`)).body.items).toEqual([]);

    expect((await admin('POST', `/v1/contacts/${contactId}/restore`)).status).toBe(200);
    const after = await notes('POST', `/v1/contacts/${contactId}/notes`, { body: makeNote() });
    expect(after.status).toBe(201);
    expect(idsOf(await notes('GET', `/v1/contacts/${contactId}/notes`))).toEqual([after.body.id]);
  });

  it('refuses a note on a trashed company with 404', async () => {
    const companyId = await newCompany();
    expect((await companiesAs(tenant)('DELETE', `/v1/companies/${companyId}`)).status).toBe(204);
    const res = await notesAs(tenant)('POST', `/v1/companies/${companyId}/notes`, { body: makeNote() });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('company.not_found');
    expect((await notesAs(tenant)('GET', `/v1/companies/${companyId}/notes`)).body.items).toEqual([]);
  });

  it('returns 404 for an unknown note and 400 for a malformed id', async () => {
    const res = await notesAs(tenant)('GET', `/v1/notes/${MISSING_ID}`);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('note.not_found');
    expect((await notesAs(tenant)('GET', '/v1/notes/bad%23id')).status).toBe(400);
    expect((await notesAs(tenant)('GET', '/v1/contacts/bad%23id/notes')).status).toBe(400);
  });
});

describe('notes: roles', () => {
  it('sales and support write notes; marketing and readonly only read them', async () => {
    const contactId = await newContact();
    const path = `/v1/contacts/${contactId}/notes`;
    expect((await notesAs(tenant, ['support'], 'support-1')('POST', path, { body: makeNote() })).status).toBe(201);
    const created = await notesAs(tenant, ['sales'], 'sales-1')('POST', path, { body: makeNote() });
    expect(created.status).toBe(201);
    for (const role of ['marketing', 'readonly']) {
      const as = notesAs(tenant, [role], `${role}-1`);
      const denied = await as('POST', path, { body: makeNote() });
      expect(denied.status).toBe(403);
      expect(denied.body.code).toBe('auth.forbidden');
      expect((await as('GET', path)).body.items).toHaveLength(2);
      expect((await as('GET', `/v1/notes/${created.body.id}`)).status).toBe(200);
    }
    // readonly may not even change a note it wrote itself: the route needs notes:write.
    expect(
      (await notesAs(tenant, ['readonly'], 'sales-1')('PATCH', `/v1/notes/${created.body.id}`, { body: {} })).status,
    ).toBe(403);
    expect((await notesAs(tenant, [])('GET', path)).status).toBe(403);
    expect((await notesAs(tenant, ['nobody'])('GET', path)).status).toBe(403);
  });
});

describe('notes: lists and the timeline, newest first', () => {
  // Created out of order on purpose; the list and the timeline order by occurredAt, newest first.
  const times = [
    '2026-01-03T09:00:00.000Z',
    '2026-01-01T09:00:00.000Z',
    '2026-01-05T09:00:00.000Z',
    '2026-01-02T09:00:00.000Z',
    '2026-01-04T09:00:00.000Z',
  ];
  let contactId: string;
  let newestFirst: string[];

  beforeAll(async () => {
    contactId = await newContact();
    const created: Array<{ id: string; occurredAt: string }> = [];
    for (const [i, occurredAt] of times.entries()) {
      const res = await notesAs(tenant)('POST', `/v1/contacts/${contactId}/notes`, {
        body: { body: `note ${i}`, occurredAt },
      });
      expect(res.status).toBe(201);
      created.push({ id: res.body.id, occurredAt });
    }
    newestFirst = created.sort((a, b) => b.occurredAt.localeCompare(a.occurredAt)).map((n) => n.id);
    // Another contact's notes never show up on this one.
    const otherId = await newContact();
    await notesAs(tenant)('POST', `/v1/contacts/${otherId}/notes`, {
      body: { body: 'elsewhere', occurredAt: '2026-01-03T10:00:00Z' },
    });
  });

  it('lists the notes newest first by occurredAt', async () => {
    const res = await notesAs(tenant, ['readonly'])('GET', `/v1/contacts/${contactId}/notes`);
    expect(res.status).toBe(200);
    expect(idsOf(res)).toEqual(newestFirst);
    expect(res.body.items.map((n: { occurredAt: string }) => n.occurredAt)).toEqual([...times].sort().reverse());
    expect(res.body.nextCursor).toBeNull();
  });

  it('pages the notes with a cursor, never repeating or skipping', async () => {
    for (const limit of [1, 2, 3]) {
      expect(await allNotes(notesAs(tenant), `/v1/contacts/${contactId}/notes`, limit)).toEqual(newestFirst);
    }
    const first = await notesAs(tenant)('GET', `/v1/contacts/${contactId}/notes?limit=2`);
    expect(first.body.items).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
  });

  it('shows the notes on the contact timeline newest first by occurredAt, without storage details', async () => {
    const res = await contactsAs(tenant, ['readonly'])('GET', `/v1/contacts/${contactId}/timeline`);
    expect(res.status).toBe(200);
    expect(idsOf(res)).toEqual(newestFirst);
    expect(res.body.items.map((e: { occurredAt: string }) => e.occurredAt)).toEqual([...times].sort().reverse());
    const entry = res.body.items[0];
    expect(entry).toMatchObject({
      type: 'note',
      id: newestFirst[0],
      occurredAt: '2026-01-05T09:00:00.000Z',
      data: {
        id: newestFirst[0],
        body: 'note 2',
        subjectType: 'contact',
        subjectId: contactId,
        authorId: 'author-1',
        version: 1,
      },
    });
    for (const e of res.body.items as Array<{ data: Record<string, unknown> }>) {
      for (const key of Object.keys(e.data)) {
        expect(key).not.toMatch(/^(pk|sk|gsi\d+(pk|sk)|__edb_[ev]__|tenantId|ttl|deletedBy|noteId)$/);
      }
    }
    expect(res.body.nextCursor).toBeNull();
  });

  it('pages the timeline with a cursor, never repeating or skipping', async () => {
    const contacts = contactsAs(tenant);
    for (const limit of [1, 2, 4]) {
      expect(await allNotes(contacts, `/v1/contacts/${contactId}/timeline`, limit)).toEqual(newestFirst);
    }
    const page = await contacts('GET', `/v1/contacts/${contactId}/timeline?limit=2`);
    const otherContact = await newContact();
    const foreign = await contacts('GET', `/v1/contacts/${otherContact}/timeline?cursor=${page.body.nextCursor}`);
    expect(foreign.status).toBe(400);
    expect(fieldsOf(foreign)).toEqual(['query.cursor']);
    expect((await contacts('GET', `/v1/contacts/${contactId}/timeline?cursor=garbage`)).status).toBe(400);
    expect((await contacts('GET', `/v1/contacts/${contactId}/timeline?limit=0`)).status).toBe(400);
  });

  it('refuses forged cursors for the notes and the timeline (400, never 500)', async () => {
    const lists: Array<[Client, string]> = [
      [notesAs(tenant), `/v1/contacts/${contactId}/notes?limit=1`],
      [contactsAs(tenant), `/v1/contacts/${contactId}/timeline?limit=1`],
    ];
    for (const [client, list] of lists) {
      const page = await client('GET', list);
      const key = JSON.parse(Buffer.from(page.body.nextCursor, 'base64url').toString('utf8'));
      for (const forged of [{ gsi6pk: key.gsi6pk }, { ...key, gsi6sk: 7 }, { ...key, pk: '' }, { ...key, more: 'x' }]) {
        const cursor = Buffer.from(JSON.stringify(forged)).toString('base64url');
        const res = await client('GET', `${list}&cursor=${cursor}`);
        expect(res.status, `${list} ${JSON.stringify(forged)}`).toBe(400);
        expect(fieldsOf(res)).toEqual(['query.cursor']);
      }
      expect((await client('GET', `${list}&cursor=${page.body.nextCursor}`)).status).toBe(200);
    }
  });

  it('moves a note on the timeline when its occurredAt is edited', async () => {
    const c = await newContact();
    const notes = notesAs(tenant);
    const a = await notes('POST', `/v1/contacts/${c}/notes`, {
      body: makeNote({ occurredAt: '2026-05-01T00:00:00Z' }),
    });
    const b = await notes('POST', `/v1/contacts/${c}/notes`, {
      body: makeNote({ occurredAt: '2026-05-02T00:00:00Z' }),
    });
    expect(idsOf(await contactsAs(tenant)('GET', `/v1/contacts/${c}/timeline`))).toEqual([b.body.id, a.body.id]);
    const moved = await notes('PATCH', `/v1/notes/${a.body.id}`, { body: { occurredAt: '2026-05-03T00:00:00Z' } });
    expect(moved.status).toBe(200);
    expect(moved.body.occurredAt).toBe('2026-05-03T00:00:00.000Z');
    const timeline = await contactsAs(tenant)('GET', `/v1/contacts/${c}/timeline`);
    expect(idsOf(timeline)).toEqual([a.body.id, b.body.id]);
    expect(timeline.body.items).toHaveLength(2);
    expect(idsOf(await notes('GET', `/v1/contacts/${c}/notes`))).toEqual([a.body.id, b.body.id]);
  });
});

describe('notes: edits by authors and moderators', () => {
  it('lets the author edit, refuses another sales user, lets a manager moderate, and honours If-Match', async () => {
    const contactId = await newContact();
    const author = notesAs(tenant, ['sales'], 'author-1');
    const colleague = notesAs(tenant, ['sales'], 'colleague-1');
    const manager = notesAs(tenant, ['manager'], 'manager-1');
    const created = await author('POST', `/v1/contacts/${contactId}/notes`, { body: makeNote() });
    const id = created.body.id;

    const edited = await author('PATCH', `/v1/notes/${id}`, {
      body: { body: 'Edited by the author', pinned: true },
      headers: { 'if-match': '"1"' },
    });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({
      body: 'Edited by the author',
      pinned: true,
      version: 2,
      authorId: 'author-1',
      updatedBy: 'author-1',
      occurredAt: created.body.occurredAt,
      createdAt: created.body.createdAt,
    });
    expect(edited.headers.etag).toBe('"2"');

    const denied = await colleague('PATCH', `/v1/notes/${id}`, { body: { body: 'Hijacked' } });
    expect(denied.status).toBe(403);
    expect(denied.headers['content-type']).toBe('application/problem+json');
    expect(denied.body.code).toBe('auth.forbidden');
    const deniedDelete = await colleague('DELETE', `/v1/notes/${id}`);
    expect(deniedDelete.status).toBe(403);
    expect(await author('GET', `/v1/notes/${id}`)).toMatchObject({ status: 200, body: edited.body });

    const moderated = await manager('PATCH', `/v1/notes/${id}`, {
      body: { body: 'Moderated' },
      headers: { 'if-match': '"2"' },
    });
    expect(moderated.status).toBe(200);
    expect(moderated.body).toMatchObject({
      body: 'Moderated',
      pinned: true,
      version: 3,
      authorId: 'author-1',
      updatedBy: 'manager-1',
    });

    const stale = await author('PATCH', `/v1/notes/${id}`, { body: { body: 'Stale' }, headers: { 'if-match': '"2"' } });
    expect(stale.status).toBe(412);
    expect(stale.body.code).toBe('note.version_mismatch');
    const staleDelete = await author('DELETE', `/v1/notes/${id}`, { headers: { 'if-match': '"1"' } });
    expect(staleDelete.status).toBe(412);
    expect((await author('GET', `/v1/notes/${id}`)).body.body).toBe('Moderated');
    expect((await author('PATCH', `/v1/notes/${id}`, { body: {}, headers: { 'if-match': 'three' } })).status).toBe(400);
  });

  it('lets a support author edit and delete their own note', async () => {
    const contactId = await newContact();
    const support = notesAs(tenant, ['support'], 'support-7');
    const created = await support('POST', `/v1/contacts/${contactId}/notes`, { body: makeNote() });
    expect((await support('PATCH', `/v1/notes/${created.body.id}`, { body: { pinned: true } })).status).toBe(200);
    expect((await support('DELETE', `/v1/notes/${created.body.id}`)).status).toBe(204);
  });

  it('refuses edits that would change what the note is about or who wrote it', async () => {
    const contactId = await newContact();
    const author = notesAs(tenant);
    const created = await author('POST', `/v1/contacts/${contactId}/notes`, { body: makeNote() });
    for (const body of [{ authorId: 'someone' }, { subjectId: MISSING_ID }, { subjectType: 'company' }, { id: 'x' }]) {
      const res = await author('PATCH', `/v1/notes/${created.body.id}`, { body });
      expect(res.status).toBe(400);
      expect(fieldsOf(res)).toEqual([`body.${Object.keys(body)[0]}`]);
    }
    for (const body of [{ body: '' }, { body: null }, { pinned: 'yes' }, { occurredAt: 'tomorrow' }]) {
      const res = await author('PATCH', `/v1/notes/${created.body.id}`, { body });
      expect(res.status).toBe(400);
      expect(fieldsOf(res)).toEqual([`body.${Object.keys(body)[0]}`]);
    }
    expect((await author('GET', `/v1/notes/${created.body.id}`)).body).toEqual(created.body);
  });
});

describe('notes: delete', () => {
  it('removes a deleted note from GET, the list and the timeline', async () => {
    const contactId = await newContact();
    const author = notesAs(tenant, ['sales'], 'author-1');
    const keep = await author('POST', `/v1/contacts/${contactId}/notes`, {
      body: makeNote({ occurredAt: '2026-01-01T00:00:00Z' }),
    });
    const gone = await author('POST', `/v1/contacts/${contactId}/notes`, {
      body: makeNote({ occurredAt: '2026-01-02T00:00:00Z' }),
    });
    const id = gone.body.id;
    expect(idsOf(await contactsAs(tenant)('GET', `/v1/contacts/${contactId}/timeline`))).toEqual([id, keep.body.id]);

    const res = await author('DELETE', `/v1/notes/${id}`, { headers: { 'if-match': '"1"' } });
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
    const got = await author('GET', `/v1/notes/${id}`);
    expect(got.status).toBe(404);
    expect(got.body.code).toBe('note.not_found');
    expect(idsOf(await author('GET', `/v1/contacts/${contactId}/notes`))).toEqual([keep.body.id]);
    expect(idsOf(await contactsAs(tenant)('GET', `/v1/contacts/${contactId}/timeline`))).toEqual([keep.body.id]);
    expect((await author('DELETE', `/v1/notes/${id}`)).status).toBe(404);
    expect((await author('PATCH', `/v1/notes/${id}`, { body: { body: 'back?' } })).status).toBe(404);
    expect((await notesAs(tenant, ['manager'], 'manager-1')('GET', `/v1/notes/${id}`)).status).toBe(404);
  });

  it("lets a manager delete someone else's note", async () => {
    const contactId = await newContact();
    const created = await notesAs(tenant, ['sales'], 'author-1')('POST', `/v1/contacts/${contactId}/notes`, {
      body: makeNote(),
    });
    expect((await notesAs(tenant, ['sales'], 'other-1')('DELETE', `/v1/notes/${created.body.id}`)).status).toBe(403);
    expect((await notesAs(tenant, ['manager'], 'manager-1')('DELETE', `/v1/notes/${created.body.id}`)).status).toBe(
      204,
    );
    expect((await notesAs(tenant)('GET', `/v1/contacts/${contactId}/notes`)).body.items).toEqual([]);
  });
});

describe('notes: tenant isolation', () => {
  it('never lets another tenant read, change, delete or list a note', async () => {
    const contactId = await newContact();
    const created = await notesAs(tenant)('POST', `/v1/contacts/${contactId}/notes`, { body: makeNote() });
    const id = created.body.id;
    const otherTenant = uniqueTenant('other');
    // Same user id and the most powerful role, in another tenant.
    const other = notesAs(otherTenant, ['admin'], 'author-1');
    const got = await other('GET', `/v1/notes/${id}`);
    expect(got.status).toBe(404);
    expect(got.body.code).toBe('note.not_found');
    expect((await other('PATCH', `/v1/notes/${id}`, { body: { body: 'Hijacked' } })).status).toBe(404);
    expect((await other('DELETE', `/v1/notes/${id}`)).status).toBe(404);
    expect((await other('GET', `/v1/contacts/${contactId}/notes`)).body.items).toEqual([]);
    expect((await contactsAs(otherTenant)('GET', `/v1/contacts/${contactId}/timeline`)).body.items).toEqual([]);
    const onForeignContact = await other('POST', `/v1/contacts/${contactId}/notes`, { body: makeNote() });
    expect(onForeignContact.status).toBe(404);
    expect(onForeignContact.body.code).toBe('contact.not_found');

    // A cursor from this tenant's list is refused in the other tenant.
    await notesAs(tenant)('POST', `/v1/contacts/${contactId}/notes`, { body: makeNote() });
    const page = await notesAs(tenant)('GET', `/v1/contacts/${contactId}/notes?limit=1`);
    expect(page.body.nextCursor).toEqual(expect.any(String));
    const foreign = await other('GET', `/v1/contacts/${contactId}/notes?limit=1&cursor=${page.body.nextCursor}`);
    expect(foreign.status).toBe(400);
    expect(fieldsOf(foreign)).toEqual(['query.cursor']);

    expect(await notesAs(tenant)('GET', `/v1/notes/${id}`)).toMatchObject({ status: 200, body: created.body });
  });
});

describe('notes: Idempotency-Key', () => {
  it('returns the first note for a retried create, never a duplicate', async () => {
    const contactId = await newContact();
    const notes = notesAs(tenant);
    const body = makeNote();
    const key = `note-key-${Date.now()}`;
    const first = await notes('POST', `/v1/contacts/${contactId}/notes`, { body, headers: { 'idempotency-key': key } });
    const again = await notes('POST', `/v1/contacts/${contactId}/notes`, { body, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.etag).toBe('"1"');
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(idsOf(await notes('GET', `/v1/contacts/${contactId}/notes`))).toEqual([first.body.id]);
  });

  it('creates once when the same key races', async () => {
    const contactId = await newContact();
    const notes = notesAs(tenant);
    const body = makeNote();
    const key = `note-race-${Date.now()}`;
    const results = await Promise.all(
      Array.from({ length: 4 }, () =>
        notes('POST', `/v1/contacts/${contactId}/notes`, { body, headers: { 'idempotency-key': key } }),
      ),
    );
    expect(results.every((r) => r.status === 201)).toBe(true);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    expect((await notes('GET', `/v1/contacts/${contactId}/notes`)).body.items).toHaveLength(1);
  });

  it('refuses the key with a different body or a different subject, storing nothing', async () => {
    const contactId = await newContact();
    const otherContact = await newContact();
    const notes = notesAs(tenant);
    const key = `note-reuse-${Date.now()}`;
    const body = makeNote();
    await notes('POST', `/v1/contacts/${contactId}/notes`, { body, headers: { 'idempotency-key': key } });
    const differentBody = await notes('POST', `/v1/contacts/${contactId}/notes`, {
      body: makeNote(),
      headers: { 'idempotency-key': key },
    });
    expect(differentBody.status).toBe(422);
    expect(differentBody.body.code).toBe('idempotency.key_reused');
    const differentSubject = await notes('POST', `/v1/contacts/${otherContact}/notes`, {
      body,
      headers: { 'idempotency-key': key },
    });
    expect(differentSubject.status).toBe(422);
    expect((await notes('GET', `/v1/contacts/${contactId}/notes`)).body.items).toHaveLength(1);
    expect((await notes('GET', `/v1/contacts/${otherContact}/notes`)).body.items).toEqual([]);
  });

  it('keys are per tenant', async () => {
    const key = `note-shared-${Date.now()}`;
    const body = makeNote();
    const t2 = uniqueTenant('idem');
    const a = await notesAs(tenant)('POST', `/v1/contacts/${await newContact()}/notes`, {
      body,
      headers: { 'idempotency-key': key },
    });
    const b = await notesAs(t2)('POST', `/v1/contacts/${await newContact(t2)}/notes`, {
      body,
      headers: { 'idempotency-key': key },
    });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.body.id).not.toBe(a.body.id);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
  });
});

describe('notes: body limits and bad input', () => {
  let contactId: string;
  beforeAll(async () => {
    contactId = await newContact();
  });

  const cases: Array<[string, { body?: unknown; rawBody?: string }, string]> = [
    ['empty body text', { body: { body: '' } }, 'body.body'],
    ['blank body text', { body: { body: ' \n\t ' } }, 'body.body'],
    ['body text over 10000 characters', { body: { body: 'x'.repeat(10_001) } }, 'body.body'],
    ['missing body text', { body: { pinned: true } }, 'body.body'],
    ['body text not a string', { body: { body: 42 } }, 'body.body'],
    ['unknown field', { body: { body: 'ok', authorId: 'someone-else' } }, 'body.authorId'],
    ['bad occurredAt', { body: { body: 'ok', occurredAt: '01/02/2026' } }, 'body.occurredAt'],
    ['pinned not a boolean', { body: { body: 'ok', pinned: 'yes' } }, 'body.pinned'],
    ['malformed JSON', { rawBody: '{"body":' }, 'body'],
    ['empty request', { rawBody: '' }, 'body'],
  ];
  it.each(cases)('%s → 400 and nothing stored', async (_name, request, field) => {
    const notes = notesAs(tenant);
    const before = await notes('GET', `/v1/contacts/${contactId}/notes?limit=100`);
    const res = await notes('POST', `/v1/contacts/${contactId}/notes`, request);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.body).toMatchObject({ status: 400, code: 'request.invalid' });
    expect(fieldsOf(res)).toContain(field);
    const after = await notes('GET', `/v1/contacts/${contactId}/notes?limit=100`);
    expect(idsOf(after)).toEqual(idsOf(before));
  });

  it('accepts exactly 10000 characters', async () => {
    const text = 'y'.repeat(10_000);
    const res = await notesAs(tenant)('POST', `/v1/contacts/${contactId}/notes`, { body: { body: text } });
    expect(res.status).toBe(201);
    expect(res.body.body).toBe(text);
    expect((await notesAs(tenant)('GET', `/v1/notes/${res.body.id}`)).body.body).toHaveLength(10_000);
  });

  it('refuses a patch over the limit, keeping the note', async () => {
    const created = await notesAs(tenant)('POST', `/v1/contacts/${contactId}/notes`, { body: makeNote() });
    const res = await notesAs(tenant)('PATCH', `/v1/notes/${created.body.id}`, { body: { body: 'z'.repeat(10_001) } });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['body.body']);
    expect((await notesAs(tenant)('GET', `/v1/notes/${created.body.id}`)).body).toEqual(created.body);
  });
});
