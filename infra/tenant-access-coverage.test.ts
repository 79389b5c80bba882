import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { CfnResource as CfnConstruct } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FunctionGroup, routeKey } from '../shared/api/route.ts';
import { routes } from '../shared/api/routes.ts';
import { GLOBAL_KEY_ENTITIES, globalKeyPattern } from '../shared/db/tenant-keys.ts';
import { putSegment, putTemplate } from '../test/support/campaigns.ts';
import { useLocalCognito } from '../test/support/cognito.ts';
import { makeCompany, makeContact, makeNote, makeUser, uniqueTenant } from '../test/support/factories.ts';
import { apiClient, type TestResponse } from '../test/support/http-event.ts';
import { useFreshTable } from '../test/support/table.ts';
import { GROUP_TABLE_ACCESS } from './constructs/tenant-access.ts';
import type { CrmStack } from './crm-stack.ts';
import { LocalS3 } from './local/s3.ts';
import { LocalSes } from './local/ses.ts';
import { TemplateResolver } from './local/template.ts';
import type { CfnTemplate } from './local/types.ts';
import { createCrmApp } from './synth.ts';

/**
 * Least privilege, checked against what the handlers really do: every operation of every data-serving group is run
 * against DynamoDB Local through a proxy that records each call as IAM sees it (action, table or index, leading
 * key). Each recorded call must be allowed by the group's generated tenant-access policy for the caller's tenant, and
 * the policy must grant nothing the handlers never use.
 */

type Group = keyof typeof GROUP_TABLE_ACCESS;
interface IamCall {
  action: string;
  /** 'table' or the index name. */
  on: string;
  leadingKey: string;
}

const ACCOUNT = '123456789012';
const calls: IamCall[] = [];
let proxy: Server;
let outdir: string;
let stack: CrmStack;
let resolver: TemplateResolver;
const handlers = {} as Record<Group, Parameters<typeof apiClient>[0]>;
// Imported once the table's environment is set (the handlers' modules read it when they load).
let resetTenantQuota: () => void;
let ses: LocalSes;

/** What IAM authorizes for one DynamoDB API call (a transaction is authorized item by item). */
function iamCallsOf(target: string, body: Record<string, unknown>): IamCall[] {
  const pkOf = (item: unknown) => ((item as Record<string, { S?: string }>)?.pk?.S ?? '') as string;
  switch (target) {
    case 'GetItem':
    case 'DeleteItem':
    case 'UpdateItem':
      return [{ action: target, on: 'table', leadingKey: pkOf(body.Key) }];
    case 'PutItem':
      return [{ action: target, on: 'table', leadingKey: pkOf(body.Item) }];
    case 'Query': {
      const index = body.IndexName as string | undefined;
      const keyName = index ? `${index}pk` : 'pk';
      const names = (body.ExpressionAttributeNames ?? {}) as Record<string, string>;
      const values = (body.ExpressionAttributeValues ?? {}) as Record<string, { S?: string }>;
      let leadingKey = '';
      for (const [, name, value] of String(body.KeyConditionExpression).matchAll(/([#\w]+)\s*=\s*(:\w+)/g)) {
        if ((names[name!] ?? name) === keyName) leadingKey = values[value!]?.S ?? '';
      }
      return [{ action: 'Query', on: index ?? 'table', leadingKey }];
    }
    case 'TransactWriteItems':
      return (body.TransactItems as Array<Record<string, { Key?: unknown; Item?: unknown }>>).map((entry) => {
        const [kind, part] = Object.entries(entry)[0]!;
        const action = {
          Put: 'PutItem',
          Delete: 'DeleteItem',
          Update: 'UpdateItem',
          ConditionCheck: 'ConditionCheckItem',
        }[kind];
        return { action: action ?? kind, on: 'table', leadingKey: pkOf(part.Key ?? part.Item) };
      });
    default:
      return [{ action: target, on: 'table', leadingKey: '' }];
  }
}

beforeAll(async () => {
  const { endpoint } = await useFreshTable('crm-coverage');
  const upstream = new URL(endpoint);
  proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const target = String(req.headers['x-amz-target'] ?? '')
        .split('.')
        .pop()!;
      calls.push(...iamCallsOf(target, JSON.parse(raw.toString('utf8') || '{}')));
      const forward = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.end(raw);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  process.env.AWS_ENDPOINT_URL_DYNAMODB = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  handlers.contacts = (await import('../functions/http/contacts.ts')).handler;
  handlers.companies = (await import('../functions/http/companies.ts')).handler;
  handlers.notes = (await import('../functions/http/notes.ts')).handler;
  handlers.customFields = (await import('../functions/http/custom-fields.ts')).handler;
  handlers.settings = (await import('../functions/http/settings.ts')).handler;
  await useLocalCognito();
  handlers.users = (await import('../functions/http/users.ts')).handler;
  handlers.teams = (await import('../functions/http/teams.ts')).handler;
  handlers.catalog = (await import('../functions/http/catalog.ts')).handler;
  handlers.deals = (await import('../functions/http/deals.ts')).handler;
  handlers.leads = (await import('../functions/http/leads.ts')).handler;
  handlers.forms = (await import('../functions/http/forms.ts')).handler;
  handlers.formSubmissions = (await import('../functions/http/form-submissions.ts')).handler;
  // Double opt-in mails go to a local SES (the function sends them itself).
  ses = await LocalSes.start({ log: () => {} });
  process.env.AWS_ENDPOINT_URL_SESV2 = ses.endpoint;
  process.env.SENDER_EMAIL = 'crm@example.com';
  handlers.activities = (await import('../functions/http/activities.ts')).handler;
  handlers.calendarFeed = (await import('../functions/http/calendar-feed.ts')).handler;
  handlers.assignment = (await import('../functions/http/assignment.ts')).handler;
  handlers.merge = (await import('../functions/http/merge.ts')).handler;
  handlers.duplicates = (await import('../functions/http/duplicates.ts')).handler;
  handlers.sla = (await import('../functions/http/sla.ts')).handler;
  handlers.tickets = (await import('../functions/http/tickets.ts')).handler;
  handlers.knowledge = (await import('../functions/http/knowledge.ts')).handler;
  handlers.mailboxes = (await import('../functions/http/mailboxes.ts')).handler;
  handlers.segments = (await import('../functions/http/segments.ts')).handler;
  process.env.PUBLIC_API_URL = 'https://public.example.test';
  handlers.subscriptions = (await import('../functions/http/subscription-categories.ts')).handler;
  handlers.suppressions = (await import('../functions/http/suppressions.ts')).handler;
  handlers.preferences = (await import('../functions/http/preferences.ts')).handler;
  handlers.campaigns = (await import('../functions/http/campaigns.ts')).handler;
  process.env.MARKETING_MAIL_DOMAIN = 'news.example.com';
  handlers.emailTemplates = (await import('../functions/http/email-templates.ts')).handler;
  resetTenantQuota = (await import('../shared/quota/quota.ts')).resetTenantQuota;

  process.env.CDK_VALIDATION = 'false';
  outdir = mkdtempSync(join(tmpdir(), 'tenant-access-coverage-'));
  const built = createCrmApp({ outdir, bundle: false });
  stack = built.stack;
  resolver = new TemplateResolver(built.app.synth().getStackByName(stack.stackName).template as CfnTemplate, {
    account: ACCOUNT,
    region: 'eu-west-1',
  });
});

afterAll(async () => {
  delete process.env.SENDER_EMAIL;
  delete process.env.MARKETING_MAIL_DOMAIN;
  await ses?.stop();
  proxy.closeAllConnections();
  await new Promise((resolve) => proxy.close(resolve));
  rmSync(outdir, { recursive: true, force: true });
});

const tenant = uniqueTenant('cov');
const used = {} as Record<Group, IamCall[]>;
const exercised = new Set<string>();

/** Runs requests as `group`'s handler for the tenant, records the calls they made, and checks each succeeded. */
async function as(
  group: Group,
  run: (call: ReturnType<typeof apiClient>) => Promise<void>,
  userId = 'u1',
): Promise<void> {
  const client = apiClient(handlers[group], { tenantId: tenant, roles: ['admin'], userId });
  const recording: ReturnType<typeof apiClient> = async (method, url, options) => {
    const res: TestResponse = await client(method, url, options);
    expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
    const path = url.split('?')[0]!;
    const route = routes.find(
      (r) => r.method === method && new RegExp(`^${r.path.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path),
    );
    exercised.add(routeKey(route!));
    return res;
  };
  // Each group is its own Lambda function: a fresh container leases its own block of the tenant's quota.
  resetTenantQuota();
  const start = calls.length;
  await run(recording);
  used[group] = [...(used[group] ?? []), ...calls.slice(start)];
}

describe('each group does only what its tenant-access role allows, and needs all of it', () => {
  it('runs every operation of every data-serving group', async () => {
    let companyId = '';
    await as('settings', async (call) => {
      await call('GET', '/v1/settings');
      await call('PATCH', '/v1/settings', { body: { requireIfMatch: true } });
      await call('PATCH', '/v1/settings', { body: { requireIfMatch: false }, headers: { 'if-match': '*' } });
      // Duplicate policy `block`: creates, patches and restores claim unique keys and query their holders.
      await call('PATCH', '/v1/settings', { body: { contactDuplicates: 'block', companyDuplicates: 'block' } });
    });
    await as('customFields', async (call) => {
      const fields = [{ key: 'tier', label: 'Tier', type: 'select', options: ['gold', 'silver'] }];
      await call('PUT', '/v1/custom-fields/contact', { body: { fields } });
      await call('PUT', '/v1/custom-fields/company', { body: { fields } });
      await call('GET', '/v1/custom-fields/contact');
    });
    await as('assignment', async (call) => {
      const { model } = await import('../shared/db/store.ts');
      const now = new Date().toISOString();
      const members = [{ userId: 'rep-1', availability: 'available', capacity: 50 }];
      await model.entities.team
        .put({
          tenantId: tenant,
          teamId: 'team-1',
          name: 'Team',
          sortName: 'team',
          members,
          version: 1,
          createdAt: now,
          updatedAt: now,
        })
        .go();
      const rule = { id: 'all', entities: ['contact'], teamId: 'team-1', method: 'roundRobin' };
      await call('PUT', '/v1/assignment-rules', { body: { rules: [rule] } });
      await call('GET', '/v1/assignment-rules');
      await call('GET', '/v1/assignment-rules/preview?entity=contact&country=GB');
      const routing = { id: 'all', actions: { teamId: 'team-1', method: 'roundRobin' } };
      await call('PUT', '/v1/ticket-routing', { body: { rules: [routing], fallbackTeamId: 'team-1' } });
      await call('GET', '/v1/ticket-routing');
      await call('POST', '/v1/ticket-routing/preview', { body: { subject: 'Invoice' } });
    });
    await as('companies', async (call) => {
      const body = makeCompany({
        ownerId: 'owner-1',
        tags: ['vip'],
        customFields: { tier: 'gold' },
        location: { lat: 51.5, lon: -0.12 },
      });
      const created = await call('POST', '/v1/companies', { body, headers: { 'idempotency-key': 'co-1' } });
      await call('POST', '/v1/companies', { body, headers: { 'idempotency-key': 'co-1' } });
      companyId = created.body.id;
      const domain = created.body.domains[0];
      for (const query of ['', '?ownerId=owner-1', '?tag=vip', `?domain=${domain}`, '?q=analytical', '?inTrash=true']) {
        await call('GET', `/v1/companies${query}`);
      }
      await call('GET', `/v1/companies?updatedSince=${encodeURIComponent('2020-01-01T00:00:00Z')}`);
      await call('GET', '/v1/companies?near=51.5,-0.12&radiusKm=10');
      await call('GET', `/v1/companies/${companyId}`);
      await call('PATCH', `/v1/companies/${companyId}`, {
        body: { tags: ['partner'], domains: ['other.example'] },
        headers: { 'if-match': '"1"' },
      });
      await call('GET', `/v1/companies/${companyId}/contacts`);
      await call('GET', `/v1/companies/${companyId}/history`);
      await call('GET', `/v1/companies/${companyId}/timeline`);
      await call('DELETE', `/v1/companies/${companyId}`);
      await call('POST', `/v1/companies/${companyId}/restore`);
    });
    let contactId = '';
    await as('contacts', async (call) => {
      const body = makeContact({ companyId, ownerId: 'owner-1', tags: ['vip'], customFields: { tier: 'gold' } });
      const created = await call('POST', '/v1/contacts', { body, headers: { 'idempotency-key': 'c-1' } });
      await call('POST', '/v1/contacts', { body, headers: { 'idempotency-key': 'c-1' } });
      contactId = created.body.id;
      const email = encodeURIComponent(created.body.emails[0]);
      const phone = encodeURIComponent(created.body.phones[0]);
      const filters = ['', '?ownerId=owner-1', '?lifecycleStage=lead', `?companyId=${companyId}`, '?tag=vip'];
      for (const query of [...filters, `?email=${email}`, `?phone=${phone}`, '?q=ada', '?inTrash=true']) {
        await call('GET', `/v1/contacts${query}`);
      }
      await call('GET', `/v1/contacts?updatedSince=${encodeURIComponent('2020-01-01T00:00:00Z')}`);
      // Created without an owner: the assignment rule above picks one (rules, team and load reads, counter ADDs).
      const assigned = await call('POST', '/v1/contacts', {
        body: makeContact({ phones: [], location: { lat: 51.5, lon: -0.12 } }),
      });
      expect(assigned.body.ownerId).toBe('rep-1');
      await call('GET', '/v1/contacts?near=51.5,-0.12&radiusKm=10');
      await call('GET', `/v1/contacts/${contactId}`);
      await call('PATCH', `/v1/contacts/${contactId}`, { body: { tags: ['other'] }, headers: { 'if-match': '"1"' } });
      await call('GET', `/v1/contacts/${contactId}/history`);
      await call('GET', `/v1/contacts/${contactId}/timeline`);
      await call('DELETE', `/v1/contacts/${contactId}`);
      await call('POST', `/v1/contacts/${contactId}/restore`);
    });
    await as('emailTemplates', async (call) => {
      // Validation reads the custom-field schemas; a preview for a contact reads it, its company and owner.
      const body = { name: 'Welcome', subject: 'Hi {{ contact.firstName }}', text: '{{ contact.custom.tier }}' };
      const created = await call('POST', '/v1/email-templates', { body, headers: { 'idempotency-key': 'tpl-1' } });
      await call('POST', '/v1/email-templates', { body, headers: { 'idempotency-key': 'tpl-1' } });
      const path = `/v1/email-templates/${created.body.id}`;
      await call('GET', '/v1/email-templates?q=wel');
      await call('GET', path);
      await call('PATCH', path, { body: { html: '<p>{{ company.name }}</p>' }, headers: { 'if-match': '"1"' } });
      await call('POST', `${path}/preview`, { body: { contactId } });
      await call('POST', `${path}/test-send`, { body: { to: 'qa@example.com' } });
      await call('DELETE', path, { headers: { 'if-match': '"2"' } });
      await call('GET', '/v1/email-templates?inTrash=true');
      await call('POST', `${path}/restore`);
    });
    await as('notes', async (call) => {
      const onContact = await call('POST', `/v1/contacts/${contactId}/notes`, {
        body: makeNote(),
        headers: { 'idempotency-key': 'n-1' },
      });
      await call('POST', `/v1/companies/${companyId}/notes`, { body: makeNote() });
      await call('GET', `/v1/contacts/${contactId}/notes`);
      await call('GET', `/v1/companies/${companyId}/notes`);
      await call('GET', `/v1/notes/${onContact.body.id}`);
      await call('PATCH', `/v1/notes/${onContact.body.id}`, { body: makeNote() });
      await call('DELETE', `/v1/notes/${onContact.body.id}`);
    });
    let productId = '';
    let pipelineId = '';
    await as('catalog', async (call) => {
      const product = await call('POST', '/v1/products', {
        body: { sku: 'cov-1', name: 'Coverage', prices: { EUR: 100 } },
        headers: { 'idempotency-key': 'p-1' },
      });
      await call('POST', '/v1/products', {
        body: { sku: 'cov-1', name: 'Coverage', prices: { EUR: 100 } },
        headers: { 'idempotency-key': 'p-1' },
      });
      productId = product.body.id;
      for (const query of ['', '?q=cov', '?active=true', '?sku=COV-1', '?inTrash=true']) {
        await call('GET', `/v1/products${query}`);
      }
      await call('GET', `/v1/products/${productId}`);
      await call('PATCH', `/v1/products/${productId}`, { body: { sku: 'COV-2' }, headers: { 'if-match': '"1"' } });
      await call('DELETE', `/v1/products/${productId}`);
      await call('POST', `/v1/products/${productId}/restore`);
      const stages = [
        { id: 'open', name: 'Open' },
        { id: 'won', name: 'Won', kind: 'won' },
        { id: 'lost', name: 'Lost', kind: 'lost' },
      ];
      const first = await call('POST', '/v1/pipelines', { body: { name: 'Sales', stages } });
      pipelineId = first.body.id;
      const second = await call('POST', '/v1/pipelines', {
        body: { name: 'Other', stages, isDefault: true },
        headers: { 'idempotency-key': 'pl-1' },
      });
      await call('GET', '/v1/pipelines');
      await call('GET', `/v1/pipelines/${pipelineId}`);
      await call('PATCH', `/v1/pipelines/${pipelineId}`, {
        body: { stages: [...stages, { id: 'demo', name: 'Demo' }], isDefault: true },
      });
      await call('DELETE', `/v1/pipelines/${second.body.id}`);
    });
    await as('deals', async (call) => {
      const deal = await call('POST', '/v1/deals', {
        body: {
          name: 'Coverage deal',
          currency: 'EUR',
          companyId,
          contactIds: [contactId],
          lineItems: [{ productId, quantity: 2 }],
        },
        headers: { 'idempotency-key': 'd-1' },
      });
      const dealId = deal.body.id;
      await call('POST', '/v1/deals', {
        body: {
          name: 'Coverage deal',
          currency: 'EUR',
          companyId,
          contactIds: [contactId],
          lineItems: [{ productId, quantity: 2 }],
        },
        headers: { 'idempotency-key': 'd-1' },
      });
      const filters = [
        '',
        '?ownerId=u1',
        `?companyId=${companyId}`,
        `?contactId=${contactId}`,
        '?q=cov',
        '?inTrash=true',
      ];
      for (const query of filters) await call('GET', `/v1/deals${query}`);
      await call('GET', `/v1/deals?updatedSince=${encodeURIComponent('2020-01-01T00:00:00Z')}`);
      await call('GET', `/v1/deals/${dealId}`);
      await call('PATCH', `/v1/deals/${dealId}`, {
        body: { expectedCloseDate: '2027-01-01' },
        headers: { 'if-match': '"1"' },
      });
      await call('POST', `/v1/deals/${dealId}/stage`, { body: { stageId: 'won' } });
      await call('GET', `/v1/deals/${dealId}/stages`);
      await call('GET', `/v1/deals/${dealId}/timeline`);
      await call('GET', `/v1/pipelines/${pipelineId}/board`);
      await call('GET', `/v1/pipelines/${pipelineId}/stages/won/deals`);
      await call('GET', `/v1/contacts/${contactId}/purchases`);
      await call('GET', `/v1/companies/${companyId}/purchases`);
      await call('DELETE', `/v1/deals/${dealId}`);
      await call('POST', `/v1/deals/${dealId}/restore`);
    });

    let userId = '';
    await as('users', async (call) => {
      const body = makeUser();
      const created = await call('POST', '/v1/users', { body, headers: { 'idempotency-key': 'u-1' } });
      await call('POST', '/v1/users', { body, headers: { 'idempotency-key': 'u-1' } });
      userId = created.body.id;
      for (const query of ['', '?status=invited', '?role=sales', '?q=grace', '?inTrash=true']) {
        await call('GET', `/v1/users${query}`);
      }
      await call('GET', `/v1/users/${userId}`);
      await call('PATCH', `/v1/users/${userId}`, { body: { roles: ['manager'] }, headers: { 'if-match': '"1"' } });
      await call('POST', `/v1/users/${userId}/disable`);
      await call('POST', `/v1/users/${userId}/enable`);
      await call('GET', `/v1/users/${userId}/open-records`);
      await call('GET', `/v1/users/${userId}/history`);
      await call('GET', '/v1/me');
    });
    let teamId = '';
    await as('teams', async (call) => {
      const body = { name: 'Coverage', leadUserId: userId };
      teamId = (await call('POST', '/v1/teams', { body, headers: { 'idempotency-key': 't-1' } })).body.id;
      await call('POST', '/v1/teams', { body, headers: { 'idempotency-key': 't-1' } });
      await call('GET', '/v1/teams');
      await call('GET', '/v1/teams?q=cov');
      await call('GET', `/v1/teams/${teamId}`);
      await call('PATCH', `/v1/teams/${teamId}`, { body: { description: 'All routes' } });
      await call('POST', `/v1/teams/${teamId}/members`, { body: { userId } });
      await call('PATCH', `/v1/teams/${teamId}/members/${userId}`, { body: { capacity: 5 } });
      await call('DELETE', `/v1/teams/${teamId}/members/${userId}`);
      await call('POST', `/v1/teams/${teamId}/members`, { body: { userId } });
    });
    await as(
      'teams',
      (call) => call('PUT', '/v1/me/availability', { body: { availability: 'away' } }).then(() => {}),
      userId,
    );
    await as('tickets', async (call) => {
      const body = { subject: 'Coverage', requesterId: contactId, companyId, assigneeId: userId, teamId, tags: ['a'] };
      const created = await call('POST', '/v1/tickets', { body, headers: { 'idempotency-key': 'tk-1' } });
      await call('POST', '/v1/tickets', { body, headers: { 'idempotency-key': 'tk-1' } });
      const id = created.body.id;
      const filters = ['', '?status=open', `?assigneeId=${userId}`, `?teamId=${teamId}`, '?priority=normal'];
      for (const query of [
        ...filters,
        '?inTrash=true',
        `?updatedSince=${encodeURIComponent('2020-01-01T00:00:00Z')}`,
      ]) {
        await call('GET', `/v1/tickets${query}`);
      }
      await call('GET', `/v1/tickets/${id}`);
      await call('GET', `/v1/tickets/by-number/${created.body.number}`);
      await call('PATCH', `/v1/tickets/${id}`, { body: { status: 'pending' }, headers: { 'if-match': '"1"' } });
      await call('POST', `/v1/tickets/${id}/messages`, {
        body: { authorType: 'contact', bodyText: 'Reply' },
        headers: { 'idempotency-key': 'tm-1' },
      });
      await call('GET', `/v1/tickets/${id}/messages`);
      // An email reply needs the ticket's mailbox (mail tickets get one from the mail; set here directly).
      const { model } = await import('../shared/db/store.ts');
      await model.entities.ticket.patch({ tenantId: tenant, ticketId: id }).set({ mailboxId: 'mbx-cov' }).go();
      const { putMailboxForTests } = await import('../test/support/mailboxes.ts');
      await putMailboxForTests(tenant, { id: 'mbx-cov', address: 'support@cov.test' });
      await call('POST', `/v1/tickets/${id}/replies`, {
        body: { bodyText: 'By mail' },
        headers: { 'idempotency-key': 'tr-1' },
      });
      // Files go to a local S3 (the function signs the links with its own role; S3 is not the table's business).
      const filesDir = mkdtempSync(join(tmpdir(), 'coverage-s3-'));
      const files = await LocalS3.start({
        resolver: new TemplateResolver({
          Resources: { B: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'cov-files' } } },
        }),
        dataDir: filesDir,
      });
      process.env.AWS_ENDPOINT_URL_S3 = files.endpoint;
      process.env.ATTACHMENTS_BUCKET = 'cov-files';
      try {
        const declared = await call('POST', `/v1/tickets/${id}/attachments`, {
          body: { fileName: 'a.txt', contentType: 'text/plain', size: 1 },
          headers: { 'idempotency-key': 'ta-1' },
        });
        const { url, headers } = declared.body.upload;
        expect((await fetch(url, { method: 'PUT', headers, body: 'a' })).status).toBe(200);
        await call('POST', `/v1/tickets/${id}/messages`, {
          body: { bodyText: 'File', attachmentIds: [declared.body.id] },
        });
        await call('GET', `/v1/tickets/${id}/attachments/${declared.body.id}`);
      } finally {
        await files.stop();
        rmSync(filesDir, { recursive: true, force: true });
      }
      await call('DELETE', `/v1/tickets/${id}`);
    });
    await as('users', async (call) => {
      await call('DELETE', `/v1/users/${userId}`);
    });
    await as('teams', async (call) => {
      await call('DELETE', `/v1/teams/${teamId}`);
    });

    let formId = '';
    let publicKey = '';
    await as('forms', async (call) => {
      const body = {
        name: 'Contact us',
        fields: [
          { name: 'name', mapsTo: 'firstName' },
          { name: 'email', type: 'email', mapsTo: 'email', required: true },
        ],
        allowedOrigins: ['https://www.example.com'],
        doubleOptIn: { enabled: true, subject: 'Confirm', text: 'Confirm: {{link}}' },
      };
      const created = await call('POST', '/v1/forms', { body, headers: { 'idempotency-key': 'f-1' } });
      await call('POST', '/v1/forms', { body, headers: { 'idempotency-key': 'f-1' } });
      formId = created.body.id;
      publicKey = created.body.publicKey;
      await call('GET', '/v1/forms');
      await call('GET', `/v1/forms/${formId}`);
      await call('PATCH', `/v1/forms/${formId}`, { body: { name: 'Talk to us' }, headers: { 'if-match': '"1"' } });
    });
    await as('formSubmissions', async (call) => {
      const origin = { origin: 'https://www.example.com' };
      const body = { name: 'Ada', email: 'ada.form@example.com' };
      await call('OPTIONS', `/v1/forms/${publicKey}/submissions`, { headers: origin });
      await call('POST', `/v1/forms/${publicKey}/submissions`, { body, headers: origin });
      await call('POST', `/v1/forms/${publicKey}/submissions`, { body, headers: origin });
      const mail = (await ses.sentEmails()).find((m) => m.to.includes('ada.form@example.com'))!;
      const token = /confirmations\/(\S+)/.exec(mail.text ?? '')![1]!;
      await call('GET', `/v1/forms/confirmations/${token}`);
      await call('GET', `/v1/forms/confirmations/${token}`);
    });
    await as('forms', async (call) => {
      await call('DELETE', `/v1/forms/${formId}`);
    });
    await as('leads', async (call) => {
      const rules = [
        { id: 'dach', kind: 'fit', field: 'company.address.country', condition: { op: 'exists' }, points: 5 },
      ];
      await call('GET', '/v1/scoring-rules');
      await call('PUT', '/v1/scoring-rules', { body: { rules } });
      const body = {
        firstName: 'Grace',
        emails: ['grace@example.com'],
        company: { name: 'Navy', address: { country: 'US' } },
        ownerId: 'owner-1',
        tags: ['vip'],
        customFields: {},
      };
      const created = await call('POST', '/v1/leads', { body, headers: { 'idempotency-key': 'l-1' } });
      await call('POST', '/v1/leads', { body, headers: { 'idempotency-key': 'l-1' } });
      const leadId = created.body.id;
      const filters = ['', '?ownerId=owner-1', '?status=new', '?source=api', '?tag=vip', '?email=grace%40example.com'];
      for (const query of [...filters, '?q=grace', '?inTrash=true']) await call('GET', `/v1/leads${query}`);
      await call('GET', `/v1/leads?updatedSince=${encodeURIComponent('2020-01-01T00:00:00Z')}`);
      await call('GET', `/v1/leads/${leadId}`);
      await call('PATCH', `/v1/leads/${leadId}`, { body: { tags: ['other'] }, headers: { 'if-match': '"1"' } });
      await call('GET', `/v1/leads/${leadId}/timeline`);
      await call('DELETE', `/v1/leads/${leadId}`);
      await call('POST', `/v1/leads/${leadId}/restore`);
      await call('POST', `/v1/leads/${leadId}/convert`, { body: {}, headers: { 'idempotency-key': 'cv-1' } });
      const other = await call('POST', '/v1/leads', { body: { firstName: 'Linked' } });
      await call('POST', `/v1/leads/${other.body.id}/convert`, {
        body: { contact: { id: contactId }, company: { id: companyId } },
      });
      // With a deal: the pipeline and the products of its line items are read too.
      const withDeal = await call('POST', '/v1/leads', { body: { firstName: 'Dealt', company: { name: 'Acme' } } });
      const converted = await call('POST', `/v1/leads/${withDeal.body.id}/convert`, {
        body: { deal: { name: 'Pilot', currency: 'EUR', pipelineId, lineItems: [{ productId, quantity: 1 }] } },
      });
      expect(converted.status).toBe(200);
    });

    let feedPath = '';
    await as('activities', async (call) => {
      const links = [
        { type: 'contact', id: contactId },
        { type: 'company', id: companyId },
      ];
      const dueAt = new Date(Date.now() + 3_600_000).toISOString();
      const task = await call('POST', '/v1/activities', {
        body: { type: 'task', title: 'Follow up', dueAt, links },
        headers: { 'idempotency-key': 'a-1' },
      });
      await call('POST', '/v1/activities', {
        body: { type: 'task', title: 'Follow up', dueAt, links },
        headers: { 'idempotency-key': 'a-1' },
      });
      const id = task.body.id;
      for (const query of ['', '?ownerId=u1', '?type=task', `?contactId=${contactId}`]) {
        await call('GET', `/v1/activities${query}`);
      }
      await call('GET', `/v1/activities/${id}`);
      await call('PATCH', `/v1/activities/${id}`, { body: { links: [links[0]] }, headers: { 'if-match': '"1"' } });
      await call('POST', `/v1/activities/${id}/complete`);
      await call('GET', '/v1/me/agenda');
      await call('DELETE', `/v1/activities/${id}`);
      await call('DELETE', '/v1/me/calendar-feed');
      feedPath = (await call('POST', '/v1/me/calendar-feed')).body.path;
    });
    await as('calendarFeed', async (call) => {
      await call('GET', feedPath);
    });

    await as('merge', async (call) => {
      const contact = (body: Record<string, unknown>) =>
        apiClient(handlers.contacts, { tenantId: tenant, roles: ['admin'], userId: 'u1' })('POST', '/v1/contacts', {
          body: makeContact({ phones: [], ...body }),
        });
      const winner = (await contact({})).body.id;
      const loser = (await contact({ companyId })).body.id;
      await call('POST', '/v1/contacts/merge', {
        body: { winnerId: winner, loserId: loser },
        headers: { 'idempotency-key': 'm-1', 'if-match': '"1"' },
      });
      await call('POST', '/v1/contacts/merge', {
        body: { winnerId: winner, loserId: loser },
        headers: { 'idempotency-key': 'm-1' },
      });
      const company = (name: string) =>
        apiClient(handlers.companies, { tenantId: tenant, roles: ['admin'], userId: 'u1' })('POST', '/v1/companies', {
          body: makeCompany({ name }),
        });
      const [w, l] = [(await company('Initech')).body.id, (await company('Initech Ltd')).body.id];
      await call('POST', '/v1/companies/merge', { body: { winnerId: w, loserId: l, fields: { name: 'loser' } } });
    });
    await as('duplicates', async (call) => {
      const { refreshCandidates } = await import('../shared/duplicates/candidates.ts');
      const contacts = apiClient(handlers.contacts, { tenantId: tenant, roles: ['admin'], userId: 'u1' });
      // The setup's calls are the contacts group's and the consumer's own role's (crm-stack.test.ts), not this one's.
      const before = calls.length;
      const twins = [];
      for (const email of ['twin1@cov.example', 'twin2@cov.example']) {
        const res = await contacts('POST', '/v1/contacts', {
          body: makeContact({ firstName: 'Twin', lastName: 'Coverage', emails: [email], phones: [] }),
        });
        twins.push(res.body.id as string);
      }
      for (const id of twins) await refreshCandidates(tenant, 'contact', id);
      calls.splice(before);
      resetTenantQuota();
      const listed = await call('GET', '/v1/duplicates?entity=contact&limit=1');
      await call('GET', `/v1/duplicates?entity=company&limit=1`);
      await call('POST', `/v1/duplicates/${listed.body.items[0].id}/dismiss`);
    });

    await as('sla', async (call) => {
      const hours = [{ start: '09:00', end: '17:00' }];
      const calendar = { name: 'Office', timeZone: 'Europe/Berlin', weeklyHours: { mon: hours, fri: hours } };
      const created = await call('POST', '/v1/business-calendars', {
        body: calendar,
        headers: { 'idempotency-key': 'cal-1' },
      });
      await call('POST', '/v1/business-calendars', { body: calendar, headers: { 'idempotency-key': 'cal-1' } });
      const calendarId = created.body.id;
      const spare = (await call('POST', '/v1/business-calendars', { body: { ...calendar, name: 'Spare' } })).body.id;
      await call('GET', '/v1/business-calendars?limit=1');
      await call('GET', `/v1/business-calendars/${calendarId}`);
      await call('PATCH', `/v1/business-calendars/${calendarId}`, {
        body: { holidays: [{ date: '2026-12-25', recurring: true }] },
        headers: { 'if-match': '"1"' },
      });
      const target = { firstResponseMinutes: 60, resolutionMinutes: 480 };
      const policy = {
        name: 'Standard',
        calendarId,
        targets: { low: target, normal: target, high: target, urgent: target },
        escalation: { reassignToTeamId: 'team-1', raisePriority: true, notifyTeamLead: true },
      };
      // With a calendar and a team: a transaction of the policy and two ConditionChecks.
      const created2 = await call('POST', '/v1/sla-policies', {
        body: policy,
        headers: { 'idempotency-key': 'sla-1' },
      });
      await call('POST', '/v1/sla-policies', { body: policy, headers: { 'idempotency-key': 'sla-1' } });
      const policyId = created2.body.id;
      await call('GET', '/v1/sla-policies');
      await call('GET', `/v1/sla-policies/${policyId}`);
      await call('PATCH', `/v1/sla-policies/${policyId}`, {
        body: { warnBeforeMinutes: 15 },
        headers: { 'if-match': '"1"' },
      });
      await call('GET', `/v1/sla-policies/${policyId}/due-times?priority=high&createdAt=2026-11-27T16:30:00Z`);
      await call('GET', '/v1/sla-outcomes?month=2026-11');
      // Deleting a calendar first reads the policies counting on it (gsi2).
      await call('DELETE', `/v1/business-calendars/${spare}`);
      // The first policy became the default; another made the default moves the pointer and clears the flag.
      const other = await call('POST', '/v1/sla-policies', { body: { ...policy, name: 'Other', escalation: {} } });
      await call('PATCH', `/v1/sla-policies/${other.body.id}`, { body: { isDefault: true } });
      await call('PATCH', `/v1/sla-policies/${policyId}`, { body: { isDefault: true } });
      await call('DELETE', `/v1/sla-policies/${other.body.id}`, { headers: { 'if-match': '"3"' } });
    });
    await as('knowledge', async (call) => {
      const created = await call('POST', '/v1/kb/articles', {
        body: { title: 'Reset your password', body: 'Open Settings.', status: 'published', categories: ['account'] },
        headers: { 'idempotency-key': 'kb-1' },
      });
      await call('POST', '/v1/kb/articles', {
        body: { title: 'Reset your password', body: 'Open Settings.', status: 'published', categories: ['account'] },
        headers: { 'idempotency-key': 'kb-1' },
      });
      const path = `/v1/kb/articles/${created.body.id}`;
      for (const query of ['', '?status=draft', '?category=account', '?locale=en', '?inTrash=true']) {
        await call('GET', `/v1/kb/articles${query}`);
      }
      await call('GET', path);
      await call('GET', '/v1/kb/search?q=password%20res');
      await call('POST', '/v1/kb/suggestions', { body: { subject: 'Cannot reset my password' } });
      await call('PATCH', path, { body: { body: 'Open Settings, then Security.', categories: ['security'] } });
      await call('DELETE', path);
      await call('POST', `${path}/restore`);
    });

    await as('mailboxes', async (call) => {
      const address = `support-${tenant}@help.example.com`.toLowerCase();
      const body = { address, name: 'Support', teamId: 'team-1' };
      const created = await call('POST', '/v1/mailboxes', { body, headers: { 'idempotency-key': 'mbx-1' } });
      await call('POST', '/v1/mailboxes', { body, headers: { 'idempotency-key': 'mbx-1' } });
      const path = `/v1/mailboxes/${created.body.id}`;
      await call('GET', '/v1/mailboxes?limit=1');
      await call('GET', path);
      // A new address: the old claim released and the new one taken with the mailbox, in one transaction.
      await call('PATCH', path, { body: { address: `desk-${address}` }, headers: { 'if-match': '"1"' } });
      await call('DELETE', path, { headers: { 'if-match': '"2"' } });
    });

    await as('segments', async (call) => {
      // The filter's custom field is checked against the contact schema (GetItem).
      const body = { kind: 'dynamic', name: 'Gold', filter: { field: 'custom.tier', op: 'eq', value: 'gold' } };
      const created = await call('POST', '/v1/segments', { body, headers: { 'idempotency-key': 'seg-1' } });
      await call('POST', '/v1/segments', { body, headers: { 'idempotency-key': 'seg-1' } });
      const path = `/v1/segments/${created.body.id}`;
      await call('GET', '/v1/segments?limit=1');
      await call('GET', path);
      await call('PATCH', path, { body: { name: 'Gold tier' }, headers: { 'if-match': '"1"' } });
      await call('DELETE', path, { headers: { 'if-match': '"2"' } });
      await call('GET', '/v1/segments?inTrash=true');
      await call('POST', `${path}/restore`, { headers: { 'if-match': '"3"' } });
      const list = await call('POST', '/v1/segments', { body: { kind: 'static', name: 'Webinar' } });
      const members = `/v1/segments/${list.body.id}/members`;
      // Member puts, the count's ADD and a ConditionCheck of the contact, in one transaction.
      await call('POST', members, { body: { contactIds: [contactId] } });
      await call('GET', `${members}?limit=1`);
      await call('POST', `${members}/remove`, { body: { contactIds: [contactId] } });
    });

    let oneClickUrl = '';
    await as('subscriptions', async (call) => {
      await call('GET', '/v1/subscription-categories');
      const categories = [{ id: 'newsletter', name: 'Newsletter' }];
      await call('PUT', '/v1/subscription-categories', { body: { categories } });
      // The tenant's signing key is created here (the first link signed).
      const links = await call('GET', `/v1/contacts/${contactId}/preference-links?categoryId=newsletter`);
      oneClickUrl = links.body.oneClickUrl;
    });
    await as('preferences', async (call) => {
      const token = oneClickUrl.split('/').pop()!;
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      await call('GET', `/v1/unsubscribe/${token}`);
      await call('POST', `/v1/unsubscribe/${token}`, { rawBody: 'List-Unsubscribe=One-Click', headers: form });
      await call('GET', `/v1/preferences/${token}`);
      await call('POST', `/v1/preferences/${token}`, {
        rawBody: 'form=preferences&unsubscribeAll=true',
        headers: form,
      });
    });
    await as('suppressions', async (call) => {
      const body = { email: 'bounced@example.com' };
      await call('POST', '/v1/suppressions', { body, headers: { 'idempotency-key': 'sup-1' } });
      await call('POST', '/v1/suppressions', { body, headers: { 'idempotency-key': 'sup-1' } });
      await call('POST', '/v1/suppressions', { body });
      await call('GET', '/v1/suppressions?limit=1');
      await call('GET', '/v1/suppressions/bounced@example.com');
      await call('DELETE', '/v1/suppressions/bounced@example.com');
    });

    // Campaigns: what scheduling checks (a template, a list) is written directly (other modules' APIs).
    await putTemplate(tenant, 'tpl-cov');
    await putSegment(tenant, 'list-cov', 'static', [contactId]);
    let sendingId = '';
    await as('campaigns', async (call) => {
      const body = {
        name: 'Coverage news',
        audience: { listIds: ['list-cov'] },
        templateId: 'tpl-cov',
        categoryId: 'newsletter',
        from: { address: 'news@news.example.com' },
      };
      const created = await call('POST', '/v1/campaigns', { body, headers: { 'idempotency-key': 'cmp-1' } });
      await call('POST', '/v1/campaigns', { body, headers: { 'idempotency-key': 'cmp-1' } });
      const path = `/v1/campaigns/${created.body.id}`;
      for (const query of ['?limit=1', '?status=draft', '?q=cov', '?inTrash=true']) {
        await call('GET', `/v1/campaigns${query}`);
      }
      await call('GET', path);
      await call('PATCH', path, { body: { name: 'Coverage news 2' } });
      await call('POST', `${path}/schedule`, { body: { now: true } });
      await call('POST', `${path}/cancel`);
      await call('GET', `${path}/recipients?state=sent`);
      await call('DELETE', path);
      sendingId = (await call('POST', '/v1/campaigns', { body })).body.id;
    });
    // As the send workflow's Start leaves it: sending.
    const { model } = await import('../shared/db/store.ts');
    const { campaignKeys } = await import('../shared/db/keys.ts');
    const stored = (await model.entities.campaign.get({ tenantId: tenant, campaignId: sendingId }).go()).data!;
    const sending = { ...stored, status: 'sending', run: 1, executionRun: 1, executionName: 'x', version: 2 };
    await model.entities.campaign.put({ ...sending, ...campaignKeys(sending as never) } as never).go();
    await as('campaigns', async (call) => {
      const path = `/v1/campaigns/${sendingId}`;
      await call('POST', `${path}/pause`);
      await call('POST', `${path}/resume`);
      await call('GET', `${path}/recipients`);
    });
    await as('segments', async (call) => {
      // The filter's custom field is checked against the contact schema (GetItem).
      const body = { kind: 'dynamic', name: 'Gold', filter: { field: 'custom.tier', op: 'eq', value: 'gold' } };
      const created = await call('POST', '/v1/segments', { body, headers: { 'idempotency-key': 'seg-1' } });
      await call('POST', '/v1/segments', { body, headers: { 'idempotency-key': 'seg-1' } });
      const path = `/v1/segments/${created.body.id}`;
      await call('GET', '/v1/segments?limit=1');
      await call('GET', path);
      await call('PATCH', path, { body: { name: 'Gold tier' }, headers: { 'if-match': '"1"' } });
      await call('DELETE', path, { headers: { 'if-match': '"2"' } });
      await call('GET', '/v1/segments?inTrash=true');
      await call('POST', `${path}/restore`, { headers: { 'if-match': '"3"' } });
      const list = await call('POST', '/v1/segments', { body: { kind: 'static', name: 'Webinar' } });
      const members = `/v1/segments/${list.body.id}/members`;
      // Member puts, the count's ADD and a ConditionCheck of the contact, in one transaction.
      await call('POST', members, { body: { contactIds: [contactId] } });
      await call('GET', `${members}?limit=1`);
      await call('POST', `${members}/remove`, { body: { contactIds: [contactId] } });
    });

    const dataRoutes = routes.filter((r) => r.group !== ('docs' satisfies FunctionGroup)).map(routeKey);
    expect([...exercised].sort()).toEqual(dataRoutes.sort());
  });

  it.each(Object.keys(GROUP_TABLE_ACCESS) as Group[])(
    '%s: every call it made is allowed to its tenant, and it used every action and index it is granted',
    async (group) => {
      const recorded = used[group] ?? [];
      expect(recorded.length, group).toBeGreaterThan(0);
      const role = stack.api.tenantRoles[group]!.role;
      const roleId = stack.getLogicalId(role.node.defaultChild as CfnConstruct);
      const policies = (resolver.properties(roleId).Policies as Array<{ PolicyDocument: unknown }>).map((p, i) => ({
        name: `p${i}`,
        policy: p.PolicyDocument,
      }));
      const tableArn = resolver.getAtt(stack.getLogicalId(stack.data.table.node.defaultChild as CfnConstruct), 'Arn');
      const distinct = [...new Map(recorded.map((c) => [JSON.stringify(c), c])).values()];
      for (const call of distinct) {
        expect(call.leadingKey, JSON.stringify(call)).not.toBe('');
        const result = await runSimulation(
          {
            identityPolicies: policies,
            serviceControlPolicies: [],
            resourceControlPolicies: [],
            request: {
              principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${group}/tenant-${tenant}`,
              action: `dynamodb:${call.action}`,
              resource: {
                accountId: ACCOUNT,
                resource: call.on === 'table' ? tableArn : `${tableArn}/index/${call.on}`,
              },
              contextVariables: { 'aws:PrincipalTag/tenantId': tenant, 'dynamodb:LeadingKeys': [call.leadingKey] },
            },
          },
          {},
        );
        expect(
          result.resultType === 'error' ? JSON.stringify(result.errors) : result.overallResult,
          JSON.stringify(call),
        ).toBe('Allowed');
      }
      const access = GROUP_TABLE_ACCESS[group];
      // Global keys (address claims): exactly the actions the group is granted on them.
      const globalPrefixes = GLOBAL_KEY_ENTITIES.map((entity) => globalKeyPattern(entity).slice(0, -1));
      const onGlobal = distinct.filter(
        (c) => c.on === 'table' && globalPrefixes.some((p) => c.leadingKey.startsWith(p)),
      );
      expect([...new Set(onGlobal.map((c) => c.action))].sort(), `${group}: global-key actions used`).toEqual(
        Object.values(access.globalKeys ?? {})
          .flat()
          .sort(),
      );
      const onTable = [...new Set(distinct.filter((c) => c.on === 'table').map((c) => c.action))].sort();
      expect(onTable, `${group}: table actions used`).toEqual(
        [...access.items, ...(access.queryTable ? ['Query'] : [])].sort(),
      );
      const indexes = [...new Set(distinct.filter((c) => c.on !== 'table').map((c) => c.on))].sort();
      expect(indexes, `${group}: indexes queried`).toEqual([...access.queryIndexes].sort());
    },
  );
});
