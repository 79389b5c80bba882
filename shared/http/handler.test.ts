/**
 * Conditional requests (RFC 9110 §13) through the real handlers, against DynamoDB Local: If-Match with `*`, lists,
 * weak and unknown tags on writes; If-None-Match on reads (304).
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { makeContact, makeNote, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';
import { routes } from '../api/routes.ts';
import { IdempotentReplay } from '../errors.ts';
import { httpApi } from './handler.ts';

type Client = ReturnType<typeof apiClient>;
let contacts: Client;
let notes: Client;
let customFields: Client;

beforeAll(async () => {
  await useFreshTable();
  const tenant = uniqueTenant('cond');
  const caller = { tenantId: tenant, roles: ['admin'], userId: 'user-1' };
  contacts = apiClient((await import('../../functions/http/contacts.ts')).handler, caller);
  notes = apiClient((await import('../../functions/http/notes.ts')).handler, caller);
  customFields = apiClient((await import('../../functions/http/custom-fields.ts')).handler, caller);
});

async function contactAt(version: number): Promise<string> {
  const created = await contacts('POST', '/v1/contacts', { body: makeContact() });
  const id = created.body.id as string;
  for (let v = 1; v < version; v++) {
    const res = await contacts('PATCH', `/v1/contacts/${id}`, { body: { jobTitle: `v${v + 1}` } });
    expect(res.body.version).toBe(v + 1);
  }
  return id;
}

const versionOf = async (id: string) => (await contacts('GET', `/v1/contacts/${id}`)).body.version as number;

describe('If-Match on writes', () => {
  it('a well-formed tag that matches no version is 412, not 400: "abc", and "7" for a record at 3', async () => {
    const id = await contactAt(3);
    for (const tag of ['"abc"', '"7"', '""', '"03"']) {
      const res = await contacts('PATCH', `/v1/contacts/${id}`, {
        body: { jobTitle: 'X' },
        headers: { 'if-match': tag },
      });
      expect(res.status, tag).toBe(412);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(res.body.code).toBe('contact.version_mismatch');
    }
    expect((await contacts('DELETE', `/v1/contacts/${id}`, { headers: { 'if-match': '"abc"' } })).status).toBe(412);
    expect(await versionOf(id)).toBe(3);
  });

  it('a weak tag never matches, even naming the current version', async () => {
    const id = await contactAt(2);
    const res = await contacts('PATCH', `/v1/contacts/${id}`, {
      body: { jobTitle: 'X' },
      headers: { 'if-match': 'W/"2"' },
    });
    expect(res.status).toBe(412);
    expect((await contacts('DELETE', `/v1/contacts/${id}`, { headers: { 'if-match': 'W/"2"' } })).status).toBe(412);
    expect(await versionOf(id)).toBe(2);
  });

  it('a list matches when any of its strong tags is the current version', async () => {
    const id = await contactAt(3);
    const miss = await contacts('PATCH', `/v1/contacts/${id}`, {
      body: { jobTitle: 'X' },
      headers: { 'if-match': '"1", "2", W/"3"' },
    });
    expect(miss.status).toBe(412);
    const hit = await contacts('PATCH', `/v1/contacts/${id}`, {
      body: { jobTitle: 'Listed' },
      headers: { 'if-match': '"1", "3", "abc"' },
    });
    expect(hit.status).toBe(200);
    expect(hit.body.version).toBe(4);
    expect(hit.headers.etag).toBe('"4"');
  });

  it('`*` matches whatever version the record is at, but not a missing record', async () => {
    const id = await contactAt(2);
    const res = await contacts('PATCH', `/v1/contacts/${id}`, {
      body: { jobTitle: 'Star' },
      headers: { 'if-match': '*' },
    });
    expect(res.status).toBe(200);
    expect((await contacts('DELETE', `/v1/contacts/${id}`, { headers: { 'if-match': '*' } })).status).toBe(204);
    const missing = await contacts('PATCH', '/v1/contacts/01ARZ3NDEKTSV4RRFFQ69G5FAV', {
      body: { jobTitle: 'X' },
      headers: { 'if-match': '*' },
    });
    expect(missing.status).toBe(404);
  });

  it('only a malformed header is 400, with a field error on header.If-Match', async () => {
    const id = await contactAt(1);
    for (const header of ['v1', '1', 'w/"1"', '"1', '"1" "2"', '']) {
      const res = await contacts('PATCH', `/v1/contacts/${id}`, {
        body: { jobTitle: 'X' },
        headers: { 'if-match': header },
      });
      expect(res.status, JSON.stringify(header)).toBe(400);
      expect(res.body.fieldErrors[0].field).toBe('header.If-Match');
    }
    expect(await versionOf(id)).toBe(1);
  });

  it('applies to notes and custom field definitions too', async () => {
    const contact = await contacts('POST', '/v1/contacts', { body: makeContact() });
    const note = await notes('POST', `/v1/contacts/${contact.body.id}/notes`, { body: makeNote() });
    expect(
      (await notes('PATCH', `/v1/notes/${note.body.id}`, { body: { body: 'x' }, headers: { 'if-match': 'W/"1"' } }))
        .status,
    ).toBe(412);
    expect((await notes('DELETE', `/v1/notes/${note.body.id}`, { headers: { 'if-match': '"abc"' } })).status).toBe(412);
    expect((await notes('DELETE', `/v1/notes/${note.body.id}`, { headers: { 'if-match': '"0", "1"' } })).status).toBe(
      204,
    );
    const put = { fields: [{ key: 'tier', label: 'Tier', type: 'text' }] };
    expect(
      (await customFields('PUT', '/v1/custom-fields/company', { body: put, headers: { 'if-match': '"abc"' } })).status,
    ).toBe(412);
    expect(
      (await customFields('PUT', '/v1/custom-fields/company', { body: put, headers: { 'if-match': '"0"' } })).status,
    ).toBe(200);
  });
});

describe('If-None-Match on reads', () => {
  it('answers 304 Not Modified with the ETag and no body when the client has the current version', async () => {
    const id = await contactAt(2);
    for (const header of ['"2"', 'W/"2"', '"1", "2"', '*']) {
      const res = await contacts('GET', `/v1/contacts/${id}`, { headers: { 'if-none-match': header } });
      expect(res.status, header).toBe(304);
      expect(res.headers.etag).toBe('"2"');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['content-type']).toBeUndefined();
      expect(res.body).toBeUndefined();
    }
  });

  it('answers 200 with the record when the client has another version', async () => {
    const id = await contactAt(2);
    const res = await contacts('GET', `/v1/contacts/${id}`, { headers: { 'if-none-match': '"1", W/"3"' } });
    expect(res.status).toBe(200);
    expect(res.body.version).toBe(2);
    expect(res.headers.etag).toBe('"2"');
  });

  it('a missing record is still 404; a malformed header 400; lists (no ETag) ignore it', async () => {
    const missing = await contacts('GET', '/v1/contacts/01ARZ3NDEKTSV4RRFFQ69G5FAV', {
      headers: { 'if-none-match': '*' },
    });
    expect(missing.status).toBe(404);
    const id = await contactAt(1);
    const bad = await contacts('GET', `/v1/contacts/${id}`, { headers: { 'if-none-match': 'one' } });
    expect(bad.status).toBe(400);
    expect(bad.body.fieldErrors[0].field).toBe('header.If-None-Match');
    expect((await contacts('GET', '/v1/contacts', { headers: { 'if-none-match': '*' } })).status).toBe(200);
  });

  it('works on every read that has an ETag: notes and custom field definitions', async () => {
    const contact = await contacts('POST', '/v1/contacts', { body: makeContact() });
    const note = await notes('POST', `/v1/contacts/${contact.body.id}/notes`, { body: makeNote() });
    const res = await notes('GET', `/v1/notes/${note.body.id}`, { headers: { 'if-none-match': '"1"' } });
    expect(res.status).toBe(304);
    expect(res.headers.etag).toBe('"1"');
    const fields = await customFields('GET', '/v1/custom-fields/contact', { headers: { 'if-none-match': '"0"' } });
    expect(fields.status).toBe(304);
  });
});

/** Lines the handler wrote to stdout and stderr (Powertools' logs, warnings and EMF metrics) while `run` ran. */
async function outputOf(run: () => Promise<unknown>): Promise<string[]> {
  const lines: string[] = [];
  const capture = (chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(capture),
    vi.spyOn(process.stderr, 'write').mockImplementation(capture),
  ];
  try {
    await run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return lines;
}

describe('Powertools middleware', () => {
  it('publishes no metrics (and no "no metrics" warning) for a request that needs none; logs carry the Lambda context', async () => {
    const served = await outputOf(() => contacts('GET', '/v1/contacts'));
    expect(served.filter((l) => l.includes('"_aws"') || l.includes('No application metrics'))).toEqual([]);
    const refused = await outputOf(() => contacts('GET', '/v1/contacts?limit=0'));
    const log = refused
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .find((l) => l.message === 'request refused');
    expect(log).toMatchObject({
      function_name: 'test',
      function_request_id: 'test',
      operation: 'listContacts',
      status: 400,
    });
    // Keys appended for one invocation do not leak into the next.
    const next = await outputOf(() => contacts('GET', '/v1/contacts/01ARZ3NDEKTSV4RRFFQ69G5FAV'));
    const notFound = next
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .find((l) => l.message === 'request refused');
    expect(notFound).toMatchObject({ operation: 'getContact', status: 404 });
  });
});

describe('httpApi', () => {
  it('refuses to build a function with authenticated routes but no tenant guards (quota, settings)', () => {
    expect(() =>
      httpApi(routes, 'settings', {
        getSettings: async () => ({ status: 200 }),
        patchSettings: async () => ({ status: 200 }),
      }),
    ).toThrow(/tenant guards/);
  });

  it('a key that expires between the refused write and the replay read acts as a new key (no 500)', async () => {
    let attempts = 0;
    const operations = Object.fromEntries(
      routes.filter((r) => r.group === 'contacts').map((r) => [r.operationId, async () => ({ status: 200 })]),
    );
    operations.createContact = async () => {
      attempts++;
      // First attempt: the idempotency record was still live when the write was refused...
      if (attempts === 1) throw new IdempotentReplay('k-1');
      return { status: 201, body: { id: 'new', version: 1 }, version: 1 };
    };
    const handler = httpApi(routes, 'contacts', operations as never, {
      // ...and had expired by the time it was read back.
      findIdempotentResponse: async () => undefined,
      guards: { admit: async () => ({ admitted: true }), requiresIfMatch: async () => false },
    });
    const call = apiClient(handler as never, { tenantId: uniqueTenant('race'), roles: ['admin'], userId: 'u' });
    const res = await call('POST', '/v1/contacts', { body: makeContact(), headers: { 'idempotency-key': 'k-1' } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: 'new', version: 1 });
    expect(attempts).toBe(2);
  });
});
