/**
 * Property-based fuzzing of the mailbox endpoints and of address resolution: no malformed input gets a 5xx, a refused
 * write changes nothing stored (no mailbox, no address claim), an accepted address resolves to its own tenant only,
 * and no envelope recipient, however odd, makes resolution throw. Handlers are called with API Gateway payload-v2
 * events against DynamoDB Local. Runs are kept modest.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { uniqueTenant } from './support/factories.ts';
import { apiClient, type TestResponse } from './support/http-event.ts';
import { useFreshTable } from './support/table.ts';

const SCALE = Number(process.env.FUZZ_RUNS_SCALE ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
vi.setConfig({ testTimeout: 60_000 * Math.max(1, SCALE) });

type Client = ReturnType<typeof apiClient>;
let api: Client;
let resolveMailbox: typeof import('../shared/mailboxes/service.ts').resolveMailbox;
let mailboxAddressOf: typeof import('../shared/mailboxes/address.ts').mailboxAddressOf;
const T = uniqueTenant('fuzz-mbx');
const VALID = { address: 'known@fuzz.example.com', name: 'Support', defaultPriority: 'normal' };
let mailboxId = '';

beforeAll(async () => {
  await useFreshTable('fuzz-mbx');
  const handler = (await import('../functions/http/mailboxes.ts')).handler;
  api = apiClient(handler, { tenantId: T, roles: ['admin'], userId: 'a-1' });
  ({ resolveMailbox } = await import('../shared/mailboxes/service.ts'));
  ({ mailboxAddressOf } = await import('../shared/mailboxes/address.ts'));
  const created = await api('POST', '/v1/mailboxes', { body: VALID });
  expect(created.status).toBe(201);
  mailboxId = created.body.id;
});

const noServerError = (res: TestResponse, what: unknown) => {
  expect(res.status, JSON.stringify(what).slice(0, 300)).toBeLessThan(500);
  if (res.status >= 400) expect(res.headers['content-type']).toContain('application/problem+json');
};

const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '#', '*', '../', 'NaN', '９０', '\ud800', 'null', '__proto__', 'constructor'),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
);

/** Address-like text: mostly near misses of a valid address, some valid, some absurd. */
const addressLike = fc.oneof(
  fc
    .tuple(
      fc.stringMatching(/^[a-zA-Z0-9.+#*$%'_-]{0,70}$/),
      fc.constantFrom('@', '@@', '', '+@', '@.'),
      fc.stringMatching(/^[a-zA-Z0-9.-]{0,70}$/),
    )
    .map(([local, at, domain]) => `${local}${at}${domain}`),
  fc.constantFrom(
    'known@fuzz.example.com',
    'KNOWN@FUZZ.EXAMPLE.COM',
    'known+tag@fuzz.example.com',
    'a@b.c0',
    'a@b.123',
    `${'a'.repeat(64)}@x.example.com`,
    `${'a'.repeat(65)}@x.example.com`,
    `a@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(58)}.com`,
    'ünicode@fuzz.example.com',
    'a@xn--bcher-kva.example',
    '"quoted"@fuzz.example.com',
  ),
  fc.string({ maxLength: 300 }),
  fc.string({ minLength: 2000, maxLength: 3000 }),
);

const policy = fc.dictionary(
  fc.constantFrom('spam', 'virus', 'spf', 'dkim', 'dmarc', 'other'),
  fc.oneof(fc.constantFrom('reject', 'flag', 'REJECT', 'drop'), nasty),
  { maxKeys: 4 },
);

const mutatedMailbox = fc.oneof(
  addressLike.map((address) => ({ ...VALID, address })),
  fc
    .record({
      field: fc.constantFrom('address', 'name', 'teamId', 'defaultPriority', 'verdictPolicy', 'replyName', 'extra'),
      value: nasty,
    })
    .map(({ field, value }) => ({ ...VALID, [field]: value })),
  policy.map((verdictPolicy) => ({ ...VALID, address: 'policy@fuzz.example.com', verdictPolicy })),
  nasty,
);

/** Any generated value as query text (objects as JSON, so null-prototype dictionaries print too). */
const text = (value: unknown): string => (typeof value === 'string' ? value : (JSON.stringify(value) ?? 'undefined'));

describe('mailbox fuzzing', () => {
  it('never answers a malformed mailbox with a 5xx; a refused write stores no mailbox and no claim', async () => {
    const before = (await api('GET', `/v1/mailboxes/${mailboxId}`)).body;
    await fc.assert(
      fc.asyncProperty(mutatedMailbox, fc.boolean(), async (body, patch) => {
        const res = patch
          ? await api('PATCH', `/v1/mailboxes/${mailboxId}`, { body })
          : await api('POST', '/v1/mailboxes', { body });
        noServerError(res, body);
        const address = (body as { address?: unknown } | null)?.address;
        if (res.status === 201) {
          // Accepted: its address is its own, in this tenant; then released so the next run starts alike.
          expect(await resolveMailbox(res.body.address)).toEqual({ tenantId: T, mailboxId: res.body.id });
          expect((await api('DELETE', `/v1/mailboxes/${res.body.id}`)).status).toBe(204);
          expect(await resolveMailbox(res.body.address)).toBeUndefined();
        } else if (res.status === 200) {
          expect(await resolveMailbox(res.body.address)).toEqual({ tenantId: T, mailboxId });
          const restored = await api('PATCH', `/v1/mailboxes/${mailboxId}`, {
            body: { ...VALID, verdictPolicy: before.verdictPolicy, teamId: null, replyName: null },
          });
          expect(restored.status).toBe(200);
        } else {
          const now = (await api('GET', `/v1/mailboxes/${mailboxId}`)).body;
          expect({ ...now, version: 0, updatedAt: '' }).toEqual({ ...before, version: 0, updatedAt: '' });
          if (typeof address === 'string' && mailboxAddressOf(address) !== VALID.address) {
            expect(await resolveMailbox(address)).toBeUndefined();
          }
        }
        expect(await resolveMailbox(VALID.address)).toEqual({ tenantId: T, mailboxId });
      }),
      { numRuns: runs(150) },
    );
    const all = await api('GET', '/v1/mailboxes?limit=100');
    expect(all.body.items.map((m: { id: string }) => m.id)).toEqual([mailboxId]);
  });

  it('resolves any envelope recipient without throwing, and only declared ones to a mailbox', async () => {
    await fc.assert(
      fc.asyncProperty(addressLike, async (recipient) => {
        const owner = await resolveMailbox(recipient);
        if (owner) expect(owner).toEqual({ tenantId: T, mailboxId });
      }),
      { numRuns: runs(200) },
    );
  });

  it('never answers a malformed list query, cursor or id with a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ cursor: fc.string({ maxLength: 60 }), limit: nasty.map(text) }, { requiredKeys: [] }),
        fc.oneof(fc.string({ minLength: 1, maxLength: 80 }), fc.constantFrom('..', '%00', '%2F', 'x'.repeat(65))),
        async (query, id) => {
          const list = await api('GET', `/v1/mailboxes?${new URLSearchParams(query as Record<string, string>)}`);
          noServerError(list, query);
          const path = `/v1/mailboxes/${encodeURIComponent(id)}`;
          for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
            const res = await api(method, path, method === 'PATCH' ? { body: { name: 'x' } } : {});
            noServerError(res, id);
          }
        },
      ),
      { numRuns: runs(100) },
    );
    expect((await api('GET', `/v1/mailboxes/${mailboxId}`)).status).toBe(200);
  });
});
