/**
 * Property-based fuzzing of the ticket routing rules API and of rule evaluation: no malformed input gets a 5xx or
 * changes the stored rules, and evaluation never throws on any ticket. Handlers are called with API Gateway
 * payload-v2 events against DynamoDB Local. Runs are kept modest.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { firstRoutingRule, routingRuleMatches } from '../shared/routing/rules.ts';
import { RoutingRule, type RoutingSubject } from '../shared/routing/schema.ts';
import { uniqueTenant } from './support/factories.ts';
import { apiClient, type TestResponse } from './support/http-event.ts';
import { useFreshTable } from './support/table.ts';

const SCALE = Number(process.env.FUZZ_RUNS_SCALE ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
vi.setConfig({ testTimeout: 60_000 * Math.max(1, SCALE) });

let routing: ReturnType<typeof apiClient>;
const T = uniqueTenant('fuzz-rt');
const VALID_RULE = {
  id: 'billing',
  conditions: { keywords: ['invoice'], channels: ['email'] },
  actions: { teamId: 'team', method: 'roundRobin' },
};

beforeAll(async () => {
  await useFreshTable('fuzz-routing');
  routing = apiClient((await import('../functions/http/assignment.ts')).handler, {
    tenantId: T,
    roles: ['admin'],
    userId: 'admin-1',
  });
  const put = await routing('PUT', '/v1/ticket-routing', { body: { rules: [VALID_RULE], fallbackTeamId: 'triage' } });
  expect(put.status).toBe(200);
});

const noServerError = (res: TestResponse, what: unknown) => {
  expect(res.status, JSON.stringify(what).slice(0, 300)).toBeLessThan(500);
  if (res.status >= 400) expect(res.headers['content-type']).toContain('application/problem+json');
};

const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '#', '*', '../', 'NaN', '1e400', '９０', '\ud800', 'null', 'a@b', '.com'),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
);

const CONDITIONS = [
  'channels',
  'mailboxIds',
  'senderDomains',
  'keywords',
  'categories',
  'companyIds',
  'companyTiers',
  'priorities',
  'tier',
] as const;

/** A valid rule with one part replaced (or an extra one added). */
const mutatedRule = fc.oneof(
  fc
    .record({ field: fc.constantFrom('id', 'name', 'conditions', 'actions', 'active', 'extra'), value: nasty })
    .map(({ field, value }) => ({ ...VALID_RULE, [field]: value })),
  fc
    .record({ field: fc.constantFrom('teamId', 'priority', 'method', 'extra'), value: nasty })
    .map(({ field, value }) => ({ ...VALID_RULE, actions: { ...VALID_RULE.actions, [field]: value } })),
  fc
    .record({ condition: fc.constantFrom(...CONDITIONS), value: fc.oneof(nasty, fc.array(nasty, { maxLength: 4 })) })
    .map(({ condition, value }) => ({ ...VALID_RULE, conditions: { [condition]: value } })),
  nasty,
);

describe('ticket routing rules fuzzing', () => {
  it('never answers a malformed rule set with a 5xx, and a refused one changes nothing', async () => {
    const before = (await routing('GET', '/v1/ticket-routing')).body;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.array(mutatedRule, { minLength: 1, maxLength: 3 }).map((rules) => ({ rules })),
          fc.record({ rules: fc.constant([VALID_RULE]), fallbackTeamId: nasty }),
          nasty.map((rules) => ({ rules })),
          nasty,
        ),
        async (body) => {
          const res = await routing('PUT', '/v1/ticket-routing', { body });
          noServerError(res, body);
          if (res.status === 200) {
            const restored = await routing('PUT', '/v1/ticket-routing', {
              body: { rules: [VALID_RULE], fallbackTeamId: 'triage' },
            });
            expect(restored.status).toBe(200);
          } else {
            const now = (await routing('GET', '/v1/ticket-routing')).body;
            expect([now.rules, now.fallbackTeamId]).toEqual([before.rules, before.fallbackTeamId]);
          }
        },
      ),
      { numRuns: runs(120) },
    );
  });

  it('never answers a malformed preview with a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.dictionary(
            fc.constantFrom('channel', 'priority', 'subject', 'description', 'senderEmail', 'companyTier', 'x'),
            nasty,
            { maxKeys: 4 },
          ),
          nasty,
        ),
        async (body) => noServerError(await routing('POST', '/v1/ticket-routing/preview', { body }), body),
      ),
      { numRuns: runs(80) },
    );
  });
});

describe('rule evaluation', () => {
  const word = fc.constantFrom('invoice', 'Refund', 'café', 'outage', 'site down', 'x', '');
  const subject: fc.Arbitrary<RoutingSubject> = fc.record({
    channel: fc.constantFrom('email', 'web', 'api', 'phone'),
    priority: fc.constantFrom('low', 'normal', 'high', 'urgent'),
    subject: fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.array(word, { maxLength: 6 }).map((w) => w.join(' ')),
    ),
    description: fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
    category: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
    senderEmails: fc.array(fc.oneof(fc.emailAddress(), fc.string({ maxLength: 20 })), { maxLength: 3 }),
    companyTier: fc.option(fc.constantFrom('gold', 'GOLD', 'silver', ''), { nil: undefined }),
  });
  const rule = fc
    .record({
      keywords: fc.option(
        fc.array(
          word.filter((w) => w !== ''),
          { minLength: 1, maxLength: 3 },
        ),
        { nil: undefined },
      ),
      companyTiers: fc.option(fc.constant(['gold']), { nil: undefined }),
      senderDomains: fc.option(fc.constant(['example.com']), { nil: undefined }),
      active: fc.boolean(),
    })
    .map(({ active, ...conditions }) =>
      RoutingRule.parse({
        id: 'r',
        active,
        conditions: Object.fromEntries(Object.entries(conditions).filter(([, v]) => v !== undefined)),
        actions: { teamId: 't', method: 'roundRobin' },
      }),
    );

  it('never throws, and the first matching active rule decides', () => {
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 5 }), subject, (rules, ticket) => {
        const first = firstRoutingRule(rules, ticket);
        const matching = rules.filter((r) => r.active && routingRuleMatches(r, ticket));
        expect(first).toBe(matching[0]);
      }),
      { numRuns: runs(300) },
    );
  });
});
