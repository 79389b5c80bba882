/**
 * The per-tenant quota through the real handlers (API Gateway events, DynamoDB Local): a tenant over its quota gets
 * 429 problem+json with Retry-After; another tenant in the same window is served in full. The clock is fixed inside
 * one window (only Date is faked), so the test never straddles a window boundary.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Handler = Parameters<typeof apiClient>[0];
let contactsHandler: Handler;
let settingsHandler: Handler;
const QUOTA = 12;
const WINDOW_SECONDS = 60;

beforeAll(async () => {
  // 0.2 requests/s over a 60 s window: 12 requests per tenant per window. Set before the handlers load their config.
  process.env.TENANT_RATE_LIMIT = String(QUOTA / WINDOW_SECONDS);
  process.env.TENANT_QUOTA_WINDOW_SECONDS = String(WINDOW_SECONDS);
  await useFreshTable();
  vi.useFakeTimers({ toFake: ['Date'] });
  // 15 s into a window: 45 s are left.
  vi.setSystemTime(Date.UTC(2026, 10, 30, 12, 0, 15));
  contactsHandler = (await import('../../functions/http/contacts.ts')).handler;
  settingsHandler = (await import('../../functions/http/settings.ts')).handler;
});

afterAll(() => {
  vi.useRealTimers();
  delete process.env.TENANT_RATE_LIMIT;
  delete process.env.TENANT_QUOTA_WINDOW_SECONDS;
});

describe('per-tenant request quota', () => {
  it('answers 429 with Retry-After to the tenant over its quota; the other tenant is served in full', async () => {
    const a = apiClient(contactsHandler, { tenantId: uniqueTenant('noisy'), roles: ['admin'] });
    const bTenant = uniqueTenant('quiet');
    const b = apiClient(contactsHandler, { tenantId: bTenant, roles: ['admin'] });

    const created = await a('POST', '/v1/contacts', { body: makeContact() });
    expect(created.status).toBe(201);
    const fromA = await Promise.all(Array.from({ length: 3 * QUOTA }, () => a('GET', '/v1/contacts')));
    const statuses = fromA.map((r) => r.status);
    // One request went to the create: QUOTA - 1 reads are served, the rest refused.
    expect(statuses.filter((s) => s === 200)).toHaveLength(QUOTA - 1);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2 * QUOTA + 1);
    const refused = fromA.find((r) => r.status === 429)!;
    expect(refused.headers['content-type']).toBe('application/problem+json');
    expect(refused.headers['retry-after']).toBe('45');
    expect(refused.body).toMatchObject({ status: 429, code: 'request.quota_exceeded', title: 'Too Many Requests' });

    // Each refusal is counted as a metric (EMF on stdout, flushed by logMetrics after the invocation).
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      return true;
    });
    try {
      expect((await a('GET', '/v1/contacts')).status).toBe(429);
    } finally {
      write.mockRestore();
    }
    const emf = lines.map((l) => JSON.parse(l)).filter((l) => l._aws);
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({ TenantQuotaExceeded: 1, _aws: { CloudWatchMetrics: [{ Namespace: 'CRM' }] } });

    // Refused too: writes, and requests that would fail anyway (every authenticated request counts).
    expect((await a('POST', '/v1/contacts', { body: makeContact() })).status).toBe(429);
    expect((await a('GET', '/v1/contacts/not%23valid')).status).toBe(429);

    const fromB = await Promise.all(Array.from({ length: QUOTA }, () => b('GET', '/v1/contacts')));
    expect(fromB.map((r) => r.status)).toEqual(Array(QUOTA).fill(200));
  });

  it('counts requests to every route, in any function group, against the same tenant quota', async () => {
    const tenantId = uniqueTenant('shared');
    const contacts = apiClient(contactsHandler, { tenantId, roles: ['admin'] });
    const settings = apiClient(settingsHandler, { tenantId, roles: ['admin'] });
    for (let i = 0; i < QUOTA / 2; i++) expect((await contacts('GET', '/v1/contacts')).status).toBe(200);
    for (let i = 0; i < QUOTA / 2; i++) expect((await settings('GET', '/v1/settings')).status).toBe(200);
    const over = await settings('GET', '/v1/settings');
    expect(over.status).toBe(429);
    expect(over.headers['retry-after']).toBe('45');
  });

  it('moves on with the clock: the next window serves the tenant again', async () => {
    const tenantId = uniqueTenant('later');
    const contacts = apiClient(contactsHandler, { tenantId, roles: ['readonly'] });
    const first = await Promise.all(Array.from({ length: QUOTA + 1 }, () => contacts('GET', '/v1/contacts')));
    expect(first.filter((r) => r.status === 429)).toHaveLength(1);
    vi.setSystemTime(Date.UTC(2026, 10, 30, 12, 1, 0));
    expect((await contacts('GET', '/v1/contacts')).status).toBe(200);
  });
});
