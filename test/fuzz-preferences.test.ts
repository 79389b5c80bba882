/**
 * Property-based fuzzing of the public unsubscribe and preference pages: whatever the link and the body, no answer is
 * a 5xx, and nothing changes the contact but a genuine link with a well-formed post.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeContact, uniqueTenant } from './support/factories.ts';
import { apiClient } from './support/http-event.ts';
import { useFreshTable } from './support/table.ts';

type Client = ReturnType<typeof apiClient>;
const tenant = uniqueTenant('fuzzpref');
let publicClient: Client;
let contacts: Client;
let genuine = '';
let contactId = '';

beforeAll(async () => {
  await useFreshTable();
  const preferences = (await import('../functions/http/preferences.ts')).handler;
  publicClient = apiClient(preferences, { tenantId: 'ignored', roles: [] });
  contacts = apiClient((await import('../functions/http/contacts.ts')).handler, { tenantId: tenant, roles: ['admin'] });
  contactId = (await contacts('POST', '/v1/contacts', { body: makeContact() })).body.id;
  const { signUnsubscribeToken } = await import('../shared/subscriptions/unsubscribe-token.ts');
  genuine = await signUnsubscribeToken({ tenantId: tenant, contactId, categoryId: 'news' });
});

const b64 = (text: string) => Buffer.from(text).toString('base64url');

/** Tokens: near misses of the genuine one, crafted payloads, junk. */
const token = () =>
  fc
    .oneof(
      fc.string({ maxLength: 60 }),
      fc.stringMatching(/^[A-Za-z0-9_.-]{0,120}$/),
      fc
        .tuple(fc.json({ maxDepth: 2 }), fc.stringMatching(/^[A-Za-z0-9_-]{43}$/))
        .map(([payload, sig]) => `${b64(payload)}.${sig}`),
      fc.nat({ max: 80 }).map((i) => `${genuine.slice(0, i)}x${genuine.slice(i + 1)}`),
      fc.constantFrom(genuine, `${genuine}.`, `.${genuine}`, genuine.split('.')[0]!, `${genuine}%00`),
    )
    .filter((t) => t !== ''); // an empty path segment matches no route

const body = fc.oneof(
  fc.constant({
    rawBody: 'List-Unsubscribe=One-Click',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  }),
  fc.record({
    rawBody: fc.string({ maxLength: 200 }),
    headers: fc.record({
      'content-type': fc.constantFrom(
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=b',
        'multipart/form-data',
        'application/json',
        'text/plain',
        '',
      ),
    }),
  }),
  fc
    .dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.string({ maxLength: 12 }), fc.array(fc.string())))
    .map((fields) => ({ body: fields })),
);

describe('public preference pages under fuzzing', () => {
  it('never answer 5xx; a bad link changes nothing', async () => {
    const before = (await contacts('GET', `/v1/contacts/${contactId}`)).body.version;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET /v1/unsubscribe', 'POST /v1/unsubscribe', 'GET /v1/preferences', 'POST /v1/preferences'),
        token(),
        body,
        async (route, link, request) => {
          const [method, path] = route.split(' ') as [string, string];
          const res = await publicClient(
            method,
            `${path}/${encodeURIComponent(link)}`,
            method === 'POST' ? request : {},
          );
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          expect(res.status, `${route} ${link}`).toBeLessThan(500);
          // 429: the genuine link's contact is past its rate window.
          expect([200, 400, 404, 413, 415, 429]).toContain(res.status);
          if (res.status === 200 || res.status === 429) expect(link).toBe(genuine);
        },
      ),
      { numRuns: 150 },
    );
    console.log([...statuses].map(([s, n]) => `${s}×${n}`).join(' '));
    // Only a genuine link with a well-formed post may have changed it (the one-click of its category, once).
    const after = (await contacts('GET', `/v1/contacts/${contactId}`)).body;
    expect(after.version - before).toBeLessThanOrEqual(2);
  });
});
