import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { CfnResource as CfnConstruct } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetailType } from '../events/catalog.ts';
import { FUNCTION_GROUPS } from '../shared/api/route.ts';
import { principalFromClaims } from '../shared/auth/principal.ts';
import type { GsiName } from '../shared/db/entities/common.ts';
import {
  activityIndex,
  articleIndex,
  businessCalendarIndex,
  companyIndex,
  contactIndex,
  dealIndex,
  duplicateIndex,
  formIndex,
  geoIndex,
  geoKeys,
  leadIndex,
  mailboxIndex,
  pipelineIndex,
  productIndex,
  recordIndex,
  slaOutcomeIndex,
  slaPolicyIndex,
  ticketIndex,
  timelineIndex,
  userIndex,
} from '../shared/db/keys.ts';
import { createModel } from '../shared/db/model.ts';
import { deriveTableDesign } from '../shared/db/table.ts';
import { GLOBAL_KEY_ENTITIES } from '../shared/db/tenant-keys.ts';
import { publishedDetailTypes } from './constructs/events.ts';
import { GROUP_TABLE_ACCESS, type TableAccess } from './constructs/tenant-access.ts';
import type { CrmStack } from './crm-stack.ts';
import { TemplateResolver } from './local/template.ts';
import type { CfnTemplate } from './local/types.ts';
import { createCrmApp } from './synth.ts';

/**
 * The second wall, proven offline: the IAM policies the stack generates, evaluated by an IAM policy simulator
 * (@cloud-copilot/iam-simulate, test-only). A tenant's session may do its group's actions on its own table and index
 * keys, and nothing on any other tenant's keys, including tenants whose id starts with its own.
 */

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';

type PolicyDocument = { Version?: string; Statement: unknown[] };
type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

let outdir: string;
let stack: CrmStack;
let resolver: TemplateResolver;
let tableArn: string;
let busArn: string;

beforeAll(() => {
  process.env.CDK_VALIDATION = 'false';
  outdir = mkdtempSync(join(tmpdir(), 'tenant-isolation-test-'));
  const built = createCrmApp({ outdir, bundle: false });
  stack = built.stack;
  // Synthesis also runs the cdk-nag checks, as `cdk synth` does.
  const template = built.app.synth().getStackByName(stack.stackName).template as CfnTemplate;
  // Concrete ARNs, as in a real account: the table's is arn:aws:dynamodb:eu-west-1:123456789012:table/<name>.
  resolver = new TemplateResolver(template, { account: ACCOUNT, region: REGION });
  tableArn = resolver.getAtt(logicalId(stack.data.table), 'Arn');
  busArn = resolver.getAtt(logicalId(stack.events.bus), 'Arn');
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

function logicalId(construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnConstruct);
}

/** A role's inline policies and the AWS::IAM::Policy resources attached to it, intrinsics resolved. */
function policiesOfRole(roleLogicalId: string): PolicyDocument[] {
  const role = resolver.properties(roleLogicalId) as { Policies?: Array<{ PolicyDocument: PolicyDocument }> };
  const attached = resolver
    .resourcesOfType('AWS::IAM::Policy')
    .filter(([, p]) => ((p.Properties?.Roles ?? []) as Array<{ Ref?: string }>).some((r) => r.Ref === roleLogicalId))
    .map(([id]) => (resolver.properties(id) as { PolicyDocument: PolicyDocument }).PolicyDocument);
  return [...(role.Policies ?? []).map((p) => p.PolicyDocument), ...attached];
}

async function decide(input: {
  policies: PolicyDocument[];
  principal: string;
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
  resourcePolicy?: PolicyDocument;
}): Promise<Decision> {
  const simulation: Simulation = {
    identityPolicies: input.policies.map((policy, i) => ({ name: `policy${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(input.resourcePolicy ? { resourcePolicy: input.resourcePolicy } : {}),
    request: {
      principal: input.principal,
      action: input.action,
      resource: { resource: input.resource, accountId: ACCOUNT },
      contextVariables: input.context,
    },
  };
  const result = await runSimulation(simulation, {});
  if (result.resultType === 'error') {
    throw new Error(`simulation of ${input.action} failed: ${JSON.stringify(result.errors)}`);
  }
  return result.overallResult as Decision;
}

// ---- keys, as the application builds them -------------------------------------------------------------------------

const model = createModel({
  table: 'probe',
  client: { send: async () => ({}) } as unknown as Parameters<typeof createModel>[0]['client'],
});

/** Every kind of table partition key a tenant has: one per entity, built by ElectroDB. */
function tableKeysOf(tenantId: string): string[] {
  const e = model.entities;
  const pk = (params: { Key: Record<string, unknown> }) => params.Key.pk as string;
  return [
    pk(e.contact.get({ tenantId, contactId: '01HZCONTACT' }).params()),
    pk(e.company.get({ tenantId, companyId: '01HZCOMPANY' }).params()),
    pk(e.note.get({ tenantId, noteId: '01HZNOTE' }).params()),
    pk(e.lookup.get({ tenantId, kind: 'contact.email', value: 'ada@example.com', targetId: '01HZCONTACT' }).params()),
    pk(e.idempotency.get({ tenantId, key: 'idem-1' }).params()),
    pk(e.customFieldSchema.get({ tenantId, entityType: 'contact' }).params()),
    pk(e.auditEntry.get({ tenantId, entity: 'contact', entityId: '01HZCONTACT', seq: '000000000001' }).params()),
    pk(e.user.get({ tenantId, userId: '5f0c1a2b-user' }).params()),
    pk(e.lookup.get({ tenantId, kind: 'user.role', value: 'admin', targetId: '5f0c1a2b-user' }).params()),
    pk(e.team.get({ tenantId, teamId: '01HZTEAM' }).params()),
    pk(e.product.get({ tenantId, productId: '01HZPRODUCT' }).params()),
    pk(e.productSku.get({ tenantId, sku: 'SKU-1' }).params()),
    pk(e.pipeline.get({ tenantId, pipelineId: '01HZPIPELINE' }).params()),
    pk(e.defaultPipeline.get({ tenantId }).params()),
    pk(e.deal.get({ tenantId, dealId: '01HZDEAL' }).params()),
    pk(e.dealStageChange.get({ tenantId, dealId: '01HZDEAL', seq: '0000000001' }).params()),
    pk(e.lookup.get({ tenantId, kind: 'deal.contact', value: '01HZCONTACT', targetId: '01HZDEAL' }).params()),
    pk(
      e.timelineLink
        .get({ tenantId, entity: 'deal', entityId: '01HZDEAL', subjectType: 'contact', subjectId: '01HZCONTACT' })
        .params(),
    ),
    pk(e.lead.get({ tenantId, leadId: '01HZLEAD' }).params()),
    pk(e.lookup.get({ tenantId, kind: 'lead.email', value: 'ada@example.com', targetId: '01HZLEAD' }).params()),
    pk(e.form.get({ tenantId, formId: '01HZFORM' }).params()),
    pk(e.formSubmission.get({ tenantId, submissionId: '01HZSUB' }).params()),
    pk(e.formRateWindow.get({ tenantId, formId: '01HZFORM', source: 'hash', windowStart: 1700000000 }).params()),
    pk(e.formConfirmation.get({ tenantId, tokenHash: 'hash' }).params()),
    pk(e.scoringRules.get({ tenantId }).params()),
    pk(e.activity.get({ tenantId, activityId: '01HZACTIVITY' }).params()),
    pk(e.calendarFeed.get({ tenantId, userId: 'user-1' }).params()),
    pk(
      e.timelineLink
        .get({ tenantId, entity: 'activity', entityId: '01HZACTIVITY', subjectType: 'contact', subjectId: '01HZC' })
        .params(),
    ),
    pk(e.assignmentRules.get({ tenantId }).params()),
    pk(e.assignmentCounter.get({ tenantId, counterId: 'rotation#all' }).params()),
    pk(e.assignmentCounter.get({ tenantId, counterId: 'load#user-1' }).params()),
    pk(e.team.get({ tenantId, teamId: 'team-1' }).params()),
    pk(e.uniqueKey.get({ tenantId, kind: 'contact.email', value: 'ada@example.com' }).params()),
    pk(e.matchKey.get({ tenantId, entity: 'contact', key: 'email:ada@example.com', recordId: '01HZCONTACT' }).params()),
    pk(e.matchKeySet.get({ tenantId, entity: 'contact', recordId: '01HZCONTACT' }).params()),
    pk(e.duplicatePair.get({ tenantId, entity: 'contact', recordId: '01HZA', otherId: '01HZB' }).params()),
    pk(e.businessCalendar.get({ tenantId, calendarId: '01HZCALENDAR' }).params()),
    pk(e.slaPolicy.get({ tenantId, policyId: '01HZPOLICY' }).params()),
    pk(e.defaultSlaPolicy.get({ tenantId }).params()),
    pk(e.slaOutcome.get({ tenantId, ticketId: '01HZTICKET', target: 'resolution' }).params()),
    pk(e.ticket.get({ tenantId, ticketId: '01HZTICKET' }).params()),
    pk(e.ticketMessage.get({ tenantId, ticketId: '01HZTICKET', messageId: '01HZMESSAGE' }).params()),
    pk(e.ticketCounter.get({ tenantId }).params()),
    pk(e.lookup.get({ tenantId, kind: 'ticket.number', value: '1042', targetId: '01HZTICKET' }).params()),
    pk(
      e.timelineLink
        .get({ tenantId, entity: 'ticket', entityId: '01HZTICKET', subjectType: 'contact', subjectId: '01HZC' })
        .params(),
    ),
    pk(e.article.get({ tenantId, articleId: '01HZARTICLE' }).params()),
    pk(e.kbToken.get({ tenantId, articleId: '01HZARTICLE', token: 'password' }).params()),
    pk(e.lookup.get({ tenantId, kind: 'article.category', value: 'published#billing', targetId: '01HZA' }).params()),
    pk(e.mailbox.get({ tenantId, mailboxId: '01HZMAILBOX' }).params()),
    pk(e.routingRules.get({ tenantId }).params()),
    pk(e.assignmentCounter.get({ tenantId, counterId: 'load#ticket#user-1' }).params()),
  ];
}

/** A partition key of each GSI, built by shared/db/keys.ts. */
function indexKeysOf(tenantId: string): Record<GsiName, string[]> {
  return {
    gsi1: [
      contactIndex.owner(tenantId, 'user-1'),
      companyIndex.owner(tenantId, 'user-1'),
      activityIndex.owner(tenantId, 'user-1'),
      ...['lead', 'deal', 'activity'].map((kind) => recordIndex.owner(tenantId, kind, 'user-1')),
      dealIndex.owner(tenantId, 'user-1'),
      leadIndex.owner(tenantId, 'u'),
      ticketIndex.assignee(tenantId, 'user-1'),
    ],
    gsi2: [
      contactIndex.stage(tenantId, 'lead'),
      activityIndex.agenda(tenantId, 'user-1'),
      userIndex.status(tenantId, 'invited'),
      productIndex.active(tenantId),
      dealIndex.stage(tenantId, '01HZP', 'won'),
      leadIndex.status(tenantId, 'new'),
      slaPolicyIndex.calendar(tenantId, '01HZCALENDAR'),
      ticketIndex.status(tenantId, 'open'),
      articleIndex.status(tenantId, 'published'),
      articleIndex.token(tenantId, 'published', 'en', 'password'),
      articleIndex.token(tenantId, 'draft', 'de-CH', 'passwort'),
    ],
    gsi3: [
      contactIndex.company(tenantId, '01HZCOMPANY'),
      activityIndex.calendar(tenantId, 'user-1'),
      dealIndex.company(tenantId, '01HZCOMPANY'),
      leadIndex.source(tenantId, 'form'),
      slaOutcomeIndex.month(tenantId, '2026-11'),
      ticketIndex.team(tenantId, '01HZTEAM'),
      articleIndex.locale(tenantId, 'published', 'en-US'),
      articleIndex.prefix(tenantId, 'published', 'en', 'password'),
    ],
    gsi4: [
      contactIndex.name(tenantId),
      contactIndex.trash(tenantId),
      companyIndex.name(tenantId),
      recordIndex.name(tenantId, 'user'),
      recordIndex.trash(tenantId, 'user'),
      recordIndex.name(tenantId, 'team'),
      productIndex.name(tenantId),
      productIndex.trash(tenantId),
      pipelineIndex.name(tenantId),
      dealIndex.name(tenantId),
      dealIndex.trash(tenantId),
      leadIndex.name(tenantId),
      leadIndex.trash(tenantId),
      formIndex.name(tenantId),
      activityIndex.type(tenantId, 'task'),
      businessCalendarIndex.name(tenantId),
      slaPolicyIndex.name(tenantId),
      ticketIndex.recent(tenantId),
      ticketIndex.trash(tenantId),
      articleIndex.name(tenantId),
      articleIndex.trash(tenantId),
      mailboxIndex.address(tenantId),
    ],
    gsi5: [
      contactIndex.sync(tenantId),
      companyIndex.sync(tenantId),
      recordIndex.sync(tenantId, 'user'),
      recordIndex.sync(tenantId, 'team'),
      dealIndex.sync(tenantId),
      leadIndex.sync(tenantId),
      activityIndex.sync(tenantId),
      ticketIndex.sync(tenantId),
    ],
    gsi6: [
      timelineIndex.pk(tenantId, 'contact', '01HZCONTACT'),
      timelineIndex.pk(tenantId, 'company', '01HZCO'),
      timelineIndex.pk(tenantId, 'deal', '01HZDEAL'),
      timelineIndex.pk(tenantId, 'lead', '01HZLEAD'),
    ],
    gsi7: [
      `${tenantId}#contact#geo#u4pr`,
      dealIndex.purchasesOfCompany(tenantId, '01HZCOMPANY'),
      geoIndex.cell(tenantId, 'contact', 'gcp'),
      geoIndex.cell(tenantId, 'company', 'gcp'),
      geoKeys(tenantId, 'contact', '01HZCONTACT', { lat: -16.8, lon: 179.95 }, true).gsi7pk!,
      duplicateIndex.pairs(tenantId, 'contact'),
      duplicateIndex.pairs(tenantId, 'company'),
      ticketIndex.priority(tenantId, 'urgent'),
    ],
  };
}

const A = 'acme';
/** Other tenants, several of which start with A's id: a pattern without its trailing separator would let A in. */
const OTHERS = ['acme2', 'acme_2', 'acme-x', 'acm', 'ACME', 'beta'];

const ITEM_ACTIONS = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem', 'Query'] as const;
const NEVER = ['Scan', 'BatchGetItem', 'BatchWriteItem', 'PartiQLSelect', 'DescribeTable', 'DeleteTable'] as const;
const dataGroups = FUNCTION_GROUPS.filter((g) => g !== 'docs') as Array<keyof typeof GROUP_TABLE_ACCESS>;

const tableActionsOf = (access: TableAccess): string[] => [...access.items, ...(access.queryTable ? ['Query'] : [])];

describe('tenant-access roles (dynamodb:LeadingKeys on the session tag)', () => {
  const sessionOf = (group: string, tenantId?: string) => ({
    principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${group}TenantAccess/tenant-${tenantId ?? 'none'}`,
    tag: (tenantId === undefined ? {} : { 'aws:PrincipalTag/tenantId': tenantId }) as Record<string, string>,
  });
  const roleOf = (group: keyof typeof GROUP_TABLE_ACCESS) => logicalId(stack.api.tenantRoles[group]!.role);

  it.each(dataGroups)(
    "%s: allows each of its actions on the tenant's own table keys and denies them on every other tenant's",
    async (group) => {
      const policies = policiesOfRole(roleOf(group));
      const { principal, tag } = sessionOf(group, A);
      const actions = tableActionsOf(GROUP_TABLE_ACCESS[group]);
      expect(actions.length).toBeGreaterThan(0);
      for (const action of actions) {
        const on = (key: string) =>
          decide({
            policies,
            principal,
            action: `dynamodb:${action}`,
            resource: tableArn,
            context: { ...tag, 'dynamodb:LeadingKeys': [key] },
          });
        for (const key of tableKeysOf(A)) expect(await on(key), `${group} ${action} ${key}`).toBe('Allowed');
        for (const other of OTHERS) {
          for (const key of tableKeysOf(other)) expect(await on(key), `${group} ${action} ${key}`).not.toBe('Allowed');
        }
        // Index keys are not table keys: `acme#...` on the table itself is refused too.
        expect(await on(indexKeysOf(A).gsi4[0]!), `${group} ${action} index key on table`).not.toBe('Allowed');
      }
    },
  );

  it.each(dataGroups)("%s: queries only the indexes it uses, only on the tenant's own index keys", async (group) => {
    const policies = policiesOfRole(roleOf(group));
    const { principal, tag } = sessionOf(group, A);
    const used = new Set(GROUP_TABLE_ACCESS[group].queryIndexes);
    for (const index of deriveTableDesign().globalIndexes.map((g) => g.indexName as GsiName)) {
      const query = (key: string) =>
        decide({
          policies,
          principal,
          action: 'dynamodb:Query',
          resource: `${tableArn}/index/${index}`,
          context: { ...tag, 'dynamodb:LeadingKeys': [key] },
        });
      for (const key of indexKeysOf(A)[index]) {
        expect(await query(key), `${group} Query ${index} ${key}`).toBe(
          used.has(index) ? 'Allowed' : 'ImplicitlyDenied',
        );
      }
      for (const other of OTHERS) {
        for (const key of indexKeysOf(other)[index]) {
          expect(await query(key), `${group} Query ${index} ${key}`).not.toBe('Allowed');
        }
      }
      // A table key is not an index key.
      expect(await query(tableKeysOf(A)[0]!), `${group} Query ${index} table key`).not.toBe('Allowed');
    }
  });

  it.each(dataGroups)('%s: allows no action beyond its own, on any key', async (group) => {
    const policies = policiesOfRole(roleOf(group));
    const { principal, tag } = sessionOf(group, A);
    const own = new Set(tableActionsOf(GROUP_TABLE_ACCESS[group]));
    for (const action of [...ITEM_ACTIONS, ...NEVER].filter((a) => !own.has(a))) {
      const decision = await decide({
        policies,
        principal,
        action: `dynamodb:${action}`,
        resource: tableArn,
        context: { ...tag, 'dynamodb:LeadingKeys': [tableKeysOf(A)[0]!] },
      });
      expect(decision, `${group} ${action}`).not.toBe('Allowed');
    }
    // Scan carries no leading key: ForAllValues over nothing would hold, so it must simply not be granted.
    const scan = await decide({ policies, principal, action: 'dynamodb:Scan', resource: tableArn, context: tag });
    expect(scan).toBe('ImplicitlyDenied');
  });

  it.each(dataGroups)('%s: a session without the tenantId tag is denied everything', async (group) => {
    const policies = policiesOfRole(roleOf(group));
    const { principal, tag } = sessionOf(group);
    for (const action of tableActionsOf(GROUP_TABLE_ACCESS[group])) {
      const decision = await decide({
        policies,
        principal,
        action: `dynamodb:${action}`,
        resource: tableArn,
        context: { ...tag, 'dynamodb:LeadingKeys': [tableKeysOf(A)[0]!] },
      });
      expect(decision, `${group} ${action}`).toBe('ExplicitlyDenied');
    }
  });

  it("rests on tenant ids never containing '#': such an id is refused before any key is built", async () => {
    // Were `acme#x` a tenant, its keys would lie inside acme's patterns: the alphabet check is part of the wall.
    const policies = policiesOfRole(roleOf('contacts'));
    const { principal, tag } = sessionOf('contacts', A);
    const inside = await decide({
      policies,
      principal,
      action: 'dynamodb:GetItem',
      resource: tableArn,
      context: { ...tag, 'dynamodb:LeadingKeys': [tableKeysOf('acme#x')[0]!] },
    });
    expect(inside).toBe('Allowed');
    for (const id of ['acme#x', 'acme*', 'acm?', '$crm', 'a{b}']) {
      expect(() => principalFromClaims({ sub: 'u', 'custom:tenantId': id }), id).toThrow(/custom:tenantId/);
    }
  });
});

describe('global keys: address claims and the SES rate pool', () => {
  const claimKey = (address: string) =>
    model.entities.mailboxClaim.get({ mailboxAddress: address }).params().Key.pk as string;
  const sessionOf = (group: string) => ({
    principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${group}TenantAccess/tenant-${A}`,
    tag: { 'aws:PrincipalTag/tenantId': A },
  });
  const onClaim = (group: keyof typeof GROUP_TABLE_ACCESS, action: string, key = claimKey('support@acme.example')) =>
    decide({
      policies: policiesOfRole(logicalId(stack.api.tenantRoles[group]!.role)),
      principal: sessionOf(group).principal,
      action: `dynamodb:${action}`,
      resource: tableArn,
      context: { ...sessionOf(group).tag, 'dynamodb:LeadingKeys': [key] },
    });

  it('are the only entities whose key does not start with a tenant', () => {
    expect(GLOBAL_KEY_ENTITIES).toEqual(['mailboxClaim', 'sendRateShare']);
    expect(claimKey('support@acme.example')).toBe('$crm#mailboxAddress_support@acme.example');
  });

  it('the mailboxes role may only create and delete claims (the code conditions both on the owner)', async () => {
    for (const action of ['PutItem', 'DeleteItem']) {
      expect(await onClaim('mailboxes', action), action).toBe('Allowed');
    }
    for (const action of ['GetItem', 'UpdateItem', 'ConditionCheckItem', 'Query', 'Scan', 'BatchWriteItem']) {
      expect(await onClaim('mailboxes', action), action).not.toBe('Allowed');
    }
    // The claim pattern opens nothing else: a key merely containing it, or another tenant's record, stays closed.
    for (const key of [`x${claimKey('a@b.example')}`, tableKeysOf('beta')[0]!, '$crm#mailboxAddres_x@y.example']) {
      expect(await onClaim('mailboxes', 'PutItem', key), key).not.toBe('Allowed');
    }
  });

  it('no other group may touch claims at all', async () => {
    for (const group of dataGroups.filter((g) => g !== 'mailboxes')) {
      for (const action of ITEM_ACTIONS) {
        expect(await onClaim(group, action), `${group} ${action}`).not.toBe('Allowed');
      }
    }
  });

  it('no tenant role may touch the SES rate pool (only the campaign sender, which has no tenant, uses it)', async () => {
    const poolKey = model.entities.sendRateShare.get({ pool: 'ses', senderId: 'x' }).params().Key.pk as string;
    expect(poolKey).toBe('$crm#pool_ses');
    for (const group of dataGroups) {
      for (const action of ITEM_ACTIONS) {
        expect(await onClaim(group, action, poolKey), `${group} ${action}`).not.toBe('Allowed');
      }
    }
  });

  it('the inbound mail function (no tenant) may only GetItem claims and mailboxes', async () => {
    const role = stack.mail.inbound.role;
    const as = (action: string, key: string) =>
      decide({
        policies: policiesOfRole(logicalId(role)),
        principal: resolver.getAtt(logicalId(role), 'Arn'),
        action: `dynamodb:${action}`,
        resource: tableArn,
        context: { 'dynamodb:LeadingKeys': [key] },
      });
    const mailboxKey = tableKeysOf('beta').find((key) => key.includes('#mailboxId_'))!;
    expect(mailboxKey).toContain('#mailboxId_');
    expect(await as('GetItem', claimKey('support@acme.example'))).toBe('Allowed');
    expect(await as('GetItem', mailboxKey)).toBe('Allowed');
    for (const key of tableKeysOf(A).filter((k) => !k.includes('#mailboxId_'))) {
      expect(await as('GetItem', key), key).not.toBe('Allowed');
    }
    for (const action of ITEM_ACTIONS.filter((a) => a !== 'GetItem')) {
      expect(await as(action, claimKey('support@acme.example')), action).not.toBe('Allowed');
      expect(await as(action, mailboxKey), action).not.toBe('Allowed');
    }
  });
});

describe('who may assume a tenant-access role', () => {
  const trustOf = (group: keyof typeof GROUP_TABLE_ACCESS) =>
    (resolver.properties(logicalId(stack.api.tenantRoles[group]!.role)) as { AssumeRolePolicyDocument: PolicyDocument })
      .AssumeRolePolicyDocument;
  const functionRoleArn = (group: (typeof FUNCTION_GROUPS)[number]) =>
    resolver.getAtt(logicalId(stack.api.functions[group].role), 'Arn');

  it.each(dataGroups)(
    '%s: only its own function, tagging the session with a tenant and nothing else',
    async (group) => {
      const target = resolver.getAtt(logicalId(stack.api.tenantRoles[group]!.role), 'Arn');
      const assume = (caller: (typeof FUNCTION_GROUPS)[number], action: string, tags: Record<string, string>) =>
        decide({
          policies: policiesOfRole(logicalId(stack.api.functions[caller].role)),
          principal: functionRoleArn(caller),
          action,
          resource: target,
          resourcePolicy: trustOf(group),
          context: {
            ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v])),
            'aws:TagKeys': Object.keys(tags),
          },
        });
      for (const action of ['sts:AssumeRole', 'sts:TagSession']) {
        expect(await assume(group, action, { tenantId: A }), action).toBe('Allowed');
        expect(await assume(group, action, {}), `${action} untagged`).not.toBe('Allowed');
        expect(await assume(group, action, { tenantId: A, role: 'admin' }), `${action} extra tag`).not.toBe('Allowed');
        for (const other of FUNCTION_GROUPS.filter((g) => g !== group)) {
          expect(await assume(other, action, { tenantId: A }), `${other} -> ${group}`).not.toBe('Allowed');
        }
      }
    },
  );
});

describe('events:PutEvents is limited to each producer\u2019s own events', () => {
  const put = (fn: { role: { node: { defaultChild?: unknown } } }, source: string[], detailType: string[]) =>
    decide({
      policies: policiesOfRole(logicalId(fn.role)),
      principal: resolver.getAtt(logicalId(fn.role), 'Arn'),
      action: 'events:PutEvents',
      resource: busArn,
      context: { 'events:source': source, 'events:detail-type': detailType },
    });

  it('the inbound mail function puts email.received, and cannot forge contact.updated', async () => {
    const mail = stack.mail.inbound;
    expect(await put(mail, ['crm.mail'], ['email.received'])).toBe('Allowed');
    expect(await put(mail, ['crm.contacts'], ['contact.updated'])).toBe('ImplicitlyDenied');
    expect(await put(mail, ['crm.mail'], ['contact.updated'])).toBe('ImplicitlyDenied');
    expect(await put(mail, ['crm.contacts'], ['email.received'])).toBe('ImplicitlyDenied');
    // One forged entry in a batch denies the whole call.
    expect(await put(mail, ['crm.mail', 'crm.contacts'], ['email.received', 'contact.updated'])).toBe(
      'ImplicitlyDenied',
    );
  });

  it('the stream publisher puts its entities\u2019 change events, and cannot forge email.received', async () => {
    const publisher = stack.events.publisher;
    const types = publishedDetailTypes();
    expect(types).toContain('contact.updated');
    const { CATALOG } = await import('../events/catalog.ts');
    for (const type of types) expect(await put(publisher, [CATALOG[type].source], [type]), type).toBe('Allowed');
    expect(await put(publisher, ['crm.mail'], ['email.received' satisfies DetailType])).toBe('ImplicitlyDenied');
  });

  it('no other function may put events at all', async () => {
    for (const group of FUNCTION_GROUPS) {
      expect(await put(stack.api.functions[group], ['crm.contacts'], ['contact.updated']), group).toBe(
        'ImplicitlyDenied',
      );
    }
    expect(await put(stack.auditTrail.consumer, ['crm.contacts'], ['contact.updated'])).toBe('ImplicitlyDenied');
    // The scoring consumer's own writes come back through the stream; it can forge no lead event.
    expect(await put(stack.leads.scoring, ['crm.leads'], ['lead.updated'])).toBe('ImplicitlyDenied');
  });
});

describe('Cognito admin actions (not scopable to a tenant by IAM)', () => {
  const poolArn = () => resolver.getAtt(logicalId(stack.auth.userPool), 'Arn');
  const as = (group: (typeof FUNCTION_GROUPS)[number], action: string, resource = poolArn()) =>
    decide({
      policies: policiesOfRole(logicalId(stack.api.functions[group].role)),
      principal: resolver.getAtt(logicalId(stack.api.functions[group].role), 'Arn'),
      action: `cognito-idp:${action}`,
      resource,
      context: {},
    });

  it('the users function may do exactly the admin actions its service calls, on the pool only', async () => {
    const { COGNITO_ACTIONS } = await import('../shared/users/identity.ts');
    for (const action of COGNITO_ACTIONS) {
      expect(await as('users', action), action).toBe('Allowed');
      expect(await as('users', action, `arn:aws:cognito-idp:${REGION}:${ACCOUNT}:userpool/${REGION}_Other`)).toBe(
        'ImplicitlyDenied',
      );
    }
    for (const action of ['AdminDeleteUser', 'AdminSetUserPassword', 'AdminUpdateUserAttributes', 'ListUsers']) {
      expect(await as('users', action), action).toBe('ImplicitlyDenied');
    }
  });

  it('no other function may administer users', async () => {
    for (const group of FUNCTION_GROUPS.filter((g) => g !== 'users')) {
      expect(await as(group, 'AdminCreateUser'), group).toBe('ImplicitlyDenied');
    }
  });
});

describe('functions without a tenant', () => {
  it('API functions cannot touch the table with their own credentials', async () => {
    for (const group of FUNCTION_GROUPS) {
      const role = stack.api.functions[group].role;
      for (const action of ITEM_ACTIONS) {
        const decision = await decide({
          policies: policiesOfRole(logicalId(role)),
          principal: resolver.getAtt(logicalId(role), 'Arn'),
          action: `dynamodb:${action}`,
          resource: tableArn,
          context: { 'dynamodb:LeadingKeys': [tableKeysOf(A)[0]!] },
        });
        expect(decision, `${group} ${action}`).toBe('ImplicitlyDenied');
      }
    }
  });

  it('the audit trail only puts items (any tenant: it records every tenant\u2019s changes)', async () => {
    const role = stack.auditTrail.consumer.role;
    const as = (action: string) =>
      decide({
        policies: policiesOfRole(logicalId(role)),
        principal: resolver.getAtt(logicalId(role), 'Arn'),
        action: `dynamodb:${action}`,
        resource: tableArn,
        context: { 'dynamodb:LeadingKeys': [tableKeysOf(A)[6]!] },
      });
    expect(await as('PutItem')).toBe('Allowed');
    for (const action of ITEM_ACTIONS.filter((a) => a !== 'PutItem'))
      expect(await as(action), action).not.toBe('Allowed');
  });
});
