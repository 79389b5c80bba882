import { beforeAll, describe, expect, it } from 'vitest';
import { uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

/** The ticket routing rules API (served by the assignment function) against DynamoDB Local. */
type Client = ReturnType<typeof apiClient>;
let routingAs: (tenantId: string, roles?: string[]) => Client;

beforeAll(async () => {
  await useFreshTable();
  const { handler } = await import('./assignment.ts');
  routingAs = (tenantId, roles = ['admin']) => apiClient(handler, { tenantId, roles, userId: 'admin-1' });
});

const fieldsOf = (res: TestResponse) => ((res.body.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);

const rule = (id: string, teamId: string, extra: Record<string, unknown> = {}) => ({
  id,
  actions: { teamId, method: 'roundRobin' },
  ...extra,
});

describe('GET and PUT /v1/ticket-routing', () => {
  it('has no rules until some are put, then returns them in order with the fallback team and a version', async () => {
    const t = uniqueTenant('rt');
    const client = routingAs(t);
    const empty = await client('GET', '/v1/ticket-routing');
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({ rules: [], version: 0 });
    expect(empty.body.fallbackTeamId).toBeUndefined();
    const put = await client('PUT', '/v1/ticket-routing', {
      body: {
        rules: [
          rule('vip', 'team-vip', { conditions: { companyTiers: ['gold'], senderDomains: ['Acme.COM'] } }),
          {
            id: 'billing',
            name: 'Billing',
            conditions: { keywords: ['invoice'], channels: ['email'] },
            actions: { teamId: 'team-billing', priority: 'high', method: 'leastBusy' },
          },
        ],
        fallbackTeamId: 'team-triage',
      },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.headers.etag).toBe('"1"');
    const got = await client('GET', '/v1/ticket-routing');
    expect(got.body.rules.map((r: { id: string }) => r.id)).toEqual(['vip', 'billing']);
    expect(got.body.rules[0]).toMatchObject({ active: true, conditions: { senderDomains: ['acme.com'] } });
    expect(got.body).toMatchObject({ fallbackTeamId: 'team-triage', version: 1, updatedBy: 'admin-1' });
    expect(got.headers.etag).toBe('"1"');
  });

  it('honours If-Match: a stale version gets 412 and changes nothing', async () => {
    const t = uniqueTenant('rt');
    const client = routingAs(t);
    expect((await client('PUT', '/v1/ticket-routing', { body: { rules: [rule('a', 't1')] } })).status).toBe(200);
    const stale = await client('PUT', '/v1/ticket-routing', { body: { rules: [] }, headers: { 'if-match': '"0"' } });
    expect(stale.status).toBe(412);
    expect(stale.headers['content-type']).toContain('application/problem+json');
    expect((await client('GET', '/v1/ticket-routing')).body.rules).toHaveLength(1);
    const ok = await client('PUT', '/v1/ticket-routing', { body: { rules: [] }, headers: { 'if-match': '"1"' } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ rules: [], version: 2 });
  });

  it('refuses bad rules with field errors and stores nothing', async () => {
    const t = uniqueTenant('rt');
    const client = routingAs(t);
    const cases: Array<[unknown, string]> = [
      [{ rules: [rule('a', 't'), rule('a', 't')] }, 'body.rules'],
      [{ rules: [{ id: 'a', actions: { teamId: 't', method: 'random' } }] }, 'body.rules.0.actions.method'],
      [{ rules: [{ id: 'a', actions: { method: 'roundRobin' } }] }, 'body.rules.0.actions.teamId'],
      [{ rules: [rule('a', 't', { conditions: { keywords: [] } })] }, 'body.rules.0.conditions.keywords'],
      [{ rules: [rule('a', 't', { conditions: { channels: ['fax'] } })] }, 'body.rules.0.conditions.channels.0'],
      [
        { rules: [rule('a', 't', { conditions: { senderDomains: ['not a domain'] } })] },
        'body.rules.0.conditions.senderDomains.0',
      ],
      [{ rules: [rule('a', 't', { conditions: { tier: ['gold'] } })] }, 'body.rules.0.conditions.tier'],
      [{ rules: [rule('A B', 't')] }, 'body.rules.0.id'],
      [{ rules: [], fallbackTeamId: 'a#b' }, 'body.fallbackTeamId'],
      [{ rules: Array.from({ length: 101 }, (_, i) => rule(`r${i}`, 't')) }, 'body.rules'],
    ];
    for (const [body, field] of cases) {
      const res = await client('PUT', '/v1/ticket-routing', { body });
      expect(res.status, JSON.stringify(body).slice(0, 100)).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(fieldsOf(res), JSON.stringify(res.body.fieldErrors)).toContain(field);
    }
    expect((await client('GET', '/v1/ticket-routing')).body.version).toBe(0);
  });

  it('lets every role read and only managers and admins change the rules', async () => {
    const t = uniqueTenant('rt');
    expect((await routingAs(t, ['support'])('GET', '/v1/ticket-routing')).status).toBe(200);
    expect((await routingAs(t, ['support'])('PUT', '/v1/ticket-routing', { body: { rules: [] } })).status).toBe(403);
    expect((await routingAs(t, ['manager'])('PUT', '/v1/ticket-routing', { body: { rules: [] } })).status).toBe(200);
  });

  it("keeps each tenant's rules apart", async () => {
    const a = uniqueTenant('rt-a');
    const b = uniqueTenant('rt-b');
    await routingAs(a)('PUT', '/v1/ticket-routing', { body: { rules: [rule('x', 't')] } });
    expect((await routingAs(b)('GET', '/v1/ticket-routing')).body).toMatchObject({ rules: [], version: 0 });
  });
});

describe('POST /v1/ticket-routing/preview', () => {
  it('names the rule a hypothetical ticket would meet, or the fallback team', async () => {
    const t = uniqueTenant('rt');
    const client = routingAs(t);
    await client('PUT', '/v1/ticket-routing', {
      body: {
        rules: [
          {
            id: 'outage',
            conditions: { keywords: ['outage'] },
            actions: { teamId: 'ops', priority: 'urgent', method: 'leastBusy' },
          },
          rule('acme', 'team-acme', { conditions: { senderDomains: ['acme.com'] } }),
        ],
        fallbackTeamId: 'triage',
      },
    });
    const outage = await client('POST', '/v1/ticket-routing/preview', { body: { subject: 'Total OUTAGE in EU' } });
    expect(outage.status).toBe(200);
    expect(outage.body).toEqual({
      ruleId: 'outage',
      teamId: 'ops',
      priority: 'urgent',
      method: 'leastBusy',
      fallback: false,
    });
    const acme = await client('POST', '/v1/ticket-routing/preview', {
      body: { subject: 'Hi', senderEmail: 'ann@eu.acme.com', priority: 'low' },
    });
    expect(acme.body).toMatchObject({ ruleId: 'acme', teamId: 'team-acme', priority: 'low', method: 'roundRobin' });
    const none = await client('POST', '/v1/ticket-routing/preview', { body: { subject: 'Hi' } });
    expect(none.body).toEqual({ ruleId: null, teamId: 'triage', priority: 'normal', method: null, fallback: true });
    const bad = await client('POST', '/v1/ticket-routing/preview', { body: { channel: 'fax' } });
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad)).toContain('body.channel');
  });
});
