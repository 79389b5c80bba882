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
import { companyIndex, contactIndex, duplicateIndex, timelineIndex } from '../shared/db/keys.ts';
import { createModel } from '../shared/db/model.ts';
import { deriveTableDesign } from '../shared/db/table.ts';
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
    pk(e.uniqueKey.get({ tenantId, kind: 'contact.email', value: 'ada@example.com' }).params()),
    pk(e.matchKey.get({ tenantId, entity: 'contact', key: 'email:ada@example.com', recordId: '01HZCONTACT' }).params()),
    pk(e.matchKeySet.get({ tenantId, entity: 'contact', recordId: '01HZCONTACT' }).params()),
    pk(e.duplicatePair.get({ tenantId, entity: 'contact', recordId: '01HZA', otherId: '01HZB' }).params()),
  ];
}

/** A partition key of each GSI, built by shared/db/keys.ts. */
function indexKeysOf(tenantId: string): Record<GsiName, string[]> {
  return {
    gsi1: [contactIndex.owner(tenantId, 'user-1'), companyIndex.owner(tenantId, 'user-1')],
    gsi2: [contactIndex.stage(tenantId, 'lead')],
    gsi3: [contactIndex.company(tenantId, '01HZCOMPANY')],
    gsi4: [contactIndex.name(tenantId), contactIndex.trash(tenantId), companyIndex.name(tenantId)],
    gsi5: [contactIndex.sync(tenantId), companyIndex.sync(tenantId)],
    gsi6: [timelineIndex.pk(tenantId, 'contact', '01HZCONTACT'), timelineIndex.pk(tenantId, 'company', '01HZCO')],
    gsi7: [
      `${tenantId}#contact#geo#u4pr`,
      duplicateIndex.pairs(tenantId, 'contact'),
      duplicateIndex.pairs(tenantId, 'company'),
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
