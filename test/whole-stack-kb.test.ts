import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { CLOUD_START_TIMEOUT_MS } from './support/assembly.ts';
import { api, eventually, startTestCloud } from './support/local-cloud.ts';

/**
 * The knowledge base over real HTTP in the local cloud (API Gateway emulation, JWT authorizer with roles, the bundled
 * knowledge Lambda under its tenant role, DynamoDB Local), and its changes through the stream publisher onto the bus.
 */
let cloud: LocalCloud;
let manager: ReturnType<typeof api>;
let reader: ReturnType<typeof api>;

beforeAll(async () => {
  cloud = await startTestCloud();
  manager = api(cloud, await cloud.token({ tenantId: 'acme', roles: ['manager'], userId: 'mia' }));
  reader = api(cloud, await cloud.token({ tenantId: 'acme', roles: ['readonly'], userId: 'rae' }));
}, CLOUD_START_TIMEOUT_MS);

afterAll(async () => {
  await cloud?.stop();
});

type BusEvent = { 'detail-type': string; source: string; detail: Record<string, unknown> };

describe('a knowledge-base article, over HTTP', () => {
  it('is published, found by a reader while typing, suggested for a ticket, and its change reaches the bus', {
    timeout: 120_000,
  }, async () => {
    const created = await manager(
      'POST',
      '/v1/kb/articles',
      { title: 'Reset your password', body: 'Open Settings and choose Reset password.', status: 'published' },
      { 'idempotency-key': 'whole-stack-kb-1' },
    );
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    const search = await reader('GET', '/v1/kb/search?q=passwords%20res');
    expect(search.status).toBe(200);
    expect(search.body.items.map((a: { id: string }) => a.id)).toEqual([id]);
    expect((await reader('GET', '/v1/kb/search?q=x&status=draft')).status).toBe(403);

    const suggested = await reader('POST', '/v1/kb/suggestions', { subject: 'I cannot reset my password' });
    expect(suggested.body.items.map((a: { id: string }) => a.id)).toEqual([id]);

    const event = await eventually(async () =>
      (cloud.events.recentEvents() as BusEvent[]).find(
        (e) => e['detail-type'] === 'article.created' && e.detail.entityId === id,
      ),
    );
    expect(event.source).toBe('crm.knowledge');
    expect(event.detail).toMatchObject({ tenantId: 'acme', record: { title: 'Reset your password' } });
    expect(event.detail.record).not.toHaveProperty('searchTerms');
  });
});
