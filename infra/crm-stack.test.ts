import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CfnResource as CfnConstruct, PolicyValidationPluginReport } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CATALOG,
  DERIVED_FROM_STREAM,
  DERIVED_ONLY_ENTITIES,
  PUBLISHED_ENTITIES,
  STREAM_DETAIL_TYPES,
} from '../events/catalog.ts';
import { FORMS_API_GROUPS, FUNCTION_GROUPS, routeKey } from '../shared/api/route.ts';
import { routes } from '../shared/api/routes.ts';
import { ROLES } from '../shared/auth/permissions.ts';
import { deriveTableDesign } from '../shared/db/table.ts';
import {
  entityKeyPattern,
  type GlobalKeyEntity,
  globalKeyPattern,
  tenantKeyPolicyPatterns,
} from '../shared/db/tenant-keys.ts';
import { functionLogGroup } from './constructs/crm-function.ts';
import { marketingConfigurationSetName } from './constructs/email-tracking.ts';
import { JWT_SCHEME } from './constructs/gateway-definition.ts';
import { SCORING_EVENTS } from './constructs/leads.ts';
import { GROUP_TABLE_ACCESS } from './constructs/tenant-access.ts';
import type { CrmStack } from './crm-stack.ts';
import type { CfnResource } from './local/types.ts';
import { createCrmApp } from './synth.ts';

const CONTEXT = {
  allowedOrigins: 'https://app.example.com,http://localhost:3000',
  inboundRecipients: 'support@example.com,example.org',
  senderEmail: 'crm@example.com',
  throttleRateLimit: '50',
  throttleBurstLimit: '80',
  tenantRateLimit: '25',
};

// biome-ignore lint/suspicious/noExplicitAny: assertions walk the template JSON freely; expect() checks the shapes.
type Props = Record<string, any>;

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

let outdir: string;
let stack: CrmStack;
let template: Template;
let resources: Record<string, CfnResource>;
let nag: PolicyValidationPluginReport;

beforeAll(() => {
  // Skips the CloudFormation schema validation plugin (slow); cdk-nag is checked explicitly below.
  process.env.CDK_VALIDATION = 'false';
  outdir = mkdtempSync(join(tmpdir(), 'crm-stack-test-'));
  const built = createCrmApp({ outdir, bundle: false, context: CONTEXT });
  stack = built.stack;
  // Synthesis runs the registered cdk-nag plugin too: an unacknowledged error would throw here.
  built.app.synth();
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, CfnResource>;
  nag = new AwsSolutionsChecks().validateScope(built.app);
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const logicalId = (construct: { node: { defaultChild?: unknown } }): string =>
  stack.getLogicalId(construct.node.defaultChild as CfnConstruct);
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const props = (id: string) => resources[id]!.Properties as Props;
const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** Every statement of every identity policy (inline policies of roles and AWS::IAM::Policy resources). */
function allStatements(): Statement[] {
  const fromPolicies = ofType('AWS::IAM::Policy').flatMap(([id]) => props(id).PolicyDocument.Statement as Statement[]);
  const fromRoles = ofType('AWS::IAM::Role').flatMap(([id]) =>
    ((props(id).Policies ?? []) as Array<{ PolicyDocument: { Statement: Statement[] } }>).flatMap(
      (p) => p.PolicyDocument.Statement,
    ),
  );
  return [...fromPolicies, ...fromRoles];
}

/** The statements granted to one function's role. */
function statementsOf(fn: { function: { role?: unknown }; role: { node: { defaultChild?: unknown } } }): Statement[] {
  const role = logicalId(fn.role);
  return ofType('AWS::IAM::Policy')
    .filter(([id]) => (props(id).Roles as Array<{ Ref: string }>).some((r) => r.Ref === role))
    .flatMap(([id]) => props(id).PolicyDocument.Statement as Statement[]);
}

const crmFunctions = () => [
  ...FUNCTION_GROUPS.map((group) => ({ name: group, fn: stack.api.functions[group] })),
  { name: 'publisher', fn: stack.events.publisher },
  { name: 'inbound', fn: stack.mail.inbound },
  { name: 'audit-trail', fn: stack.auditTrail.consumer },
  { name: 'lead-scoring', fn: stack.leads.scoring },
  { name: 'assignment-load', fn: stack.assignmentLoad.consumer },
  { name: 'merge-children', fn: stack.mergeChildren.consumer },
  { name: 'duplicate-candidates', fn: stack.duplicateCandidates.consumer },
  { name: 'ticket-sla', fn: stack.ticketSla.consumer },
  { name: 'sla-timer', fn: stack.ticketSla.timer },
  { name: 'ticket-routing', fn: stack.ticketRouting.steps },
  { name: 'email-tracking', fn: stack.emailTracking.consumer },
];

describe('cdk-nag AwsSolutions', () => {
  it('has no unacknowledged findings (errors or warnings)', () => {
    const findings = nag.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath)}`);
    expect(findings).toEqual([]);
    expect(nag.success).toBe(true);
  });
});

describe('data', () => {
  const design = deriveTableDesign();

  it('is one table keyed and indexed exactly as the entities derive it', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    const key = (hash: string, range: string) => [
      { AttributeName: hash, KeyType: 'HASH' },
      { AttributeName: range, KeyType: 'RANGE' },
    ];
    const table = props(logicalId(stack.data.table));
    expect(table.KeySchema).toEqual(key(design.partitionKey, design.sortKey));
    expect(design.globalIndexes.length).toBeGreaterThan(0);
    expect(table.GlobalSecondaryIndexes).toEqual(
      design.globalIndexes.map((g) => ({
        IndexName: g.indexName,
        KeySchema: key(g.partitionKey, g.sortKey),
        Projection: { ProjectionType: 'ALL' },
      })),
    );
    const keyFields = [design, ...design.globalIndexes].flatMap((k) => [k.partitionKey, k.sortKey]);
    expect(table.AttributeDefinitions).toEqual(
      expect.arrayContaining(keyFields.map((name) => ({ AttributeName: name, AttributeType: 'S' }))),
    );
    expect(table.AttributeDefinitions).toHaveLength(keyFields.length);
  });

  it('is on-demand, recoverable, protected, retained, streamed, encrypted, with TTL', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
        TimeToLiveSpecification: { AttributeName: design.timeToLiveAttribute, Enabled: true },
        SSESpecification: { SSEEnabled: true },
      }),
    });
    // The local cloud derives physical names from logical ids.
    expect(props(logicalId(stack.data.table)).TableName).toBeUndefined();
  });
});

describe('auth', () => {
  it('is an admin-only user pool signing in by email, with an immutable tenant attribute', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      UsernameAttributes: ['email'],
      MfaConfiguration: 'ON',
      Policies: {
        PasswordPolicy: Match.objectLike({
          RequireLowercase: true,
          RequireUppercase: true,
          RequireNumbers: true,
          RequireSymbols: true,
        }),
      },
      Schema: Match.arrayWith([Match.objectLike({ Name: 'tenantId', AttributeDataType: 'String', Mutable: false })]),
    });
    const policy = props(logicalId(stack.auth.userPool)).Policies.PasswordPolicy;
    expect(policy.MinimumLength).toBeGreaterThanOrEqual(12);
  });

  it('has one group per role', () => {
    const groups = ofType('AWS::Cognito::UserPoolGroup').map(([id]) => props(id).GroupName);
    expect(groups.sort()).toEqual([...ROLES].sort());
  });

  it('has a public SRP client that can read the tenant but never write it', () => {
    const client = props(logicalId(stack.auth.client));
    expect(client.GenerateSecret).toBe(false);
    expect(client.ExplicitAuthFlows).toContain('ALLOW_USER_SRP_AUTH');
    expect(client.ExplicitAuthFlows).not.toContain('ALLOW_USER_PASSWORD_AUTH');
    expect(client.PreventUserExistenceErrors).toBe('ENABLED');
    expect(client.ReadAttributes).toContain('custom:tenantId');
    expect(client.WriteAttributes).toBeDefined();
    expect(client.WriteAttributes.some((a: string) => a.startsWith('custom:'))).toBe(false);
  });
});

describe('api', () => {
  const apis = () => ofType('AWS::ApiGatewayV2::Api') as Array<[string, CfnResource]>;
  const apiTitled = (title: string) => props(apis().find(([id]) => props(id).Body.info.title === title)![0]);
  const mainApi = () => apiTitled('CrmApi');
  const formsApi = () => apiTitled('FormsApi');
  const operations = (api: Props) =>
    Object.entries(api.Body.paths as Props).flatMap(([path, methods]) =>
      Object.entries(methods as Props).map(([method, operation]) => ({
        key: `${method.toUpperCase()} ${path}`,
        operation: operation as Props,
      })),
    );

  it("declares routes, integrations and the authorizer in each API's OpenAPI Body, not as resources", () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 2);
    for (const type of ['Route', 'Integration', 'Authorizer'])
      template.resourceCountIs(`AWS::ApiGatewayV2::${type}`, 0);
    // CloudFormation's limit is 500 resources per stack; the route table must not bring it back near it.
    expect(Object.keys(resources).length).toBeLessThan(450);
  });

  it('has a JWT authorizer trusting the user pool issuer and the app client audience', () => {
    const schemes = mainApi().Body.components.securitySchemes as Props;
    expect(Object.keys(schemes)).toEqual([JWT_SCHEME]);
    const authorizer = schemes[JWT_SCHEME]['x-amazon-apigateway-authorizer'];
    expect(authorizer.type).toBe('jwt');
    expect(authorizer.identitySource).toBe('$request.header.Authorization');
    expect(authorizer.jwtConfiguration.audience).toEqual([{ Ref: logicalId(stack.auth.client) }]);
    expect(authorizer.jwtConfiguration.issuer).toEqual({
      'Fn::Join': [
        '',
        [
          'https://cognito-idp.',
          { Ref: 'AWS::Region' },
          '.',
          { Ref: 'AWS::URLSuffix' },
          '/',
          { Ref: logicalId(stack.auth.userPool) },
        ],
      ],
    });
  });

  it('has exactly one route per entry of the route table, each on its group function, authorized unless public', () => {
    const byKey = new Map(
      [...operations(mainApi()), ...operations(formsApi())].map(({ key, operation }) => [key, operation]),
    );
    expect([...byKey.keys()].sort()).toEqual(routes.map(routeKey).sort());
    for (const route of routes) {
      const operation = byKey.get(routeKey(route))!;
      if (route.permission === 'public') expect(operation.security, routeKey(route)).toBeUndefined();
      else expect(operation.security, routeKey(route)).toEqual([{ [JWT_SCHEME]: [] }]);
      const integration = operation['x-amazon-apigateway-integration'];
      expect(integration).toMatchObject({ type: 'aws_proxy', httpMethod: 'POST', payloadFormatVersion: '2.0' });
      expect(JSON.stringify(integration.uri), routeKey(route)).toContain(
        JSON.stringify({ 'Fn::GetAtt': [logicalId(stack.api.functions[route.group].function), 'Arn'] }),
      );
    }
  });

  it('lets API Gateway invoke each function only from the API its routes are on', () => {
    const permissions = ofType('AWS::Lambda::Permission').map(([id]) => props(id));
    for (const group of FUNCTION_GROUPS) {
      const fn = logicalId(stack.api.functions[group].function);
      const own = permissions.filter((p) => p.FunctionName?.['Fn::GetAtt']?.[0] === fn);
      expect(own.length, group).toBeGreaterThan(0);
      for (const permission of own) {
        expect(permission.Principal).toBe('apigateway.amazonaws.com');
        expect(JSON.stringify(permission.SourceArn)).toMatch(/execute-api/);
        expect(JSON.stringify(permission.SourceArn)).toContain('/*/*');
      }
    }
  });

  it('answers CORS preflight for the configured origins', () => {
    expect(mainApi().Body['x-amazon-apigateway-cors']).toEqual({
      allowOrigins: ['https://app.example.com', 'http://localhost:3000'],
      allowHeaders: ['authorization', 'content-type', 'idempotency-key', 'if-match', 'if-none-match'],
      exposeHeaders: ['etag', 'location', 'idempotent-replayed', 'retry-after'],
      allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      maxAge: 3600,
    });
  });

  it('has a throttled, access-logged default stage on each API (the main one and the public forms API)', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 2);
    for (const [id, stage] of ofType('AWS::ApiGatewayV2::Stage') as Array<[string, CfnResource]>) {
      expectThrottledAndLogged(id, stage);
    }
  });

  it('serves the public web-to-lead routes on their own API, without API-level CORS (each form answers its own)', () => {
    const forms = formsApi();
    expect(forms.CorsConfiguration).toBeUndefined();
    expect(forms.Body['x-amazon-apigateway-cors']).toBeUndefined();
    const onForms = operations(forms)
      .map(({ key }) => key)
      .sort();
    expect(onForms).toEqual(
      routes
        .filter((r) => FORMS_API_GROUPS.includes(r.group))
        .map(routeKey)
        .sort(),
    );
    expect(onForms).toContain('OPTIONS /v1/forms/{formId}/submissions');
    template.hasOutput('FormsApiUrl', {});
  });

  it('serves the unsubscribe and preference pages on the public forms API, and links point there', () => {
    const onForms = operations(formsApi()).map(({ key }) => key);
    for (const key of [
      'GET /v1/unsubscribe/{token}',
      'POST /v1/unsubscribe/{token}',
      'GET /v1/preferences/{token}',
      'POST /v1/preferences/{token}',
    ]) {
      expect(onForms).toContain(key);
    }
    const formsApiId = apis().find(([id]) => props(id).Body.info.title === 'FormsApi')![0];
    // Only the function that hands out links builds them: PUBLIC_API_URL is the forms API's endpoint.
    const withUrl = ofType('AWS::Lambda::Function')
      .map(([id]) => [id, (props(id).Environment?.Variables ?? {}) as Props] as const)
      .filter(([, env]) => env.PUBLIC_API_URL !== undefined);
    expect(withUrl.map(([id]) => id).sort()).toEqual(
      [
        logicalId(stack.api.functions.subscriptions.function),
        logicalId(stack.campaigns.steps.function),
        logicalId(stack.sequences.steps.function),
      ].sort(),
    );
    for (const [, env] of withUrl) expect(env.PUBLIC_API_URL).toEqual({ 'Fn::GetAtt': [formsApiId, 'ApiEndpoint'] });
  });
});

function expectThrottledAndLogged(id: string, stage: CfnResource) {
  {
    const p = stage.Properties as Props;
    expect(p.StageName).toBe('$default');
    expect(p.AutoDeploy).toBe(true);
    expect(p.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 80 });
    const logGroup = (p.AccessLogSettings.DestinationArn['Fn::GetAtt'] as string[])[0]!;
    expect(resources[logGroup]!.Type, id).toBe('AWS::Logs::LogGroup');
    const format = JSON.parse(p.AccessLogSettings.Format) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      ip: '$context.identity.sourceIp',
      routeKey: '$context.routeKey',
      status: '$context.status',
      latency: '$context.responseLatency',
      integrationError: '$context.integrationErrorMessage',
    });
  }
}

describe('functions', () => {
  it('are Node 24 on arm64, untraced, with their own role, logging to the shared group, and no physical names', () => {
    const roles = new Set<string>();
    for (const { name, fn } of crmFunctions()) {
      const p = props(logicalId(fn.function));
      expect(p.Runtime, name).toBe('nodejs24.x');
      expect(p.Architectures, name).toEqual(['arm64']);
      expect(p.TracingConfig, name).toBeUndefined();
      expect(p.FunctionName, name).toBeUndefined();
      expect(p.LoggingConfig.LogGroup, name).toEqual({ Ref: logicalId(functionLogGroup(stack)) });
      expect(fn.logGroup, name).toBe(functionLogGroup(stack));
      expect(p.Environment.Variables, name).toMatchObject({
        POWERTOOLS_METRICS_NAMESPACE: 'CRM',
        NODE_OPTIONS: '--enable-source-maps',
      });
      expect(resources[logicalId(fn.function)]!.Metadata?.['aws:asset:path'], name).toBeTypeOf('string');
      roles.add(JSON.stringify(p.Role));
    }
    expect(roles.size).toBe(crmFunctions().length);
  });

  it('all log to one log group (30 days), and each role may write only there', () => {
    const sharedLogs = logicalId(functionLogGroup(stack));
    expect(resources[sharedLogs]).toMatchObject({ Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 30 } });
    // Every function of the template, not only the CRM ones listed here: no function keeps a group of its own.
    const functions = ofType('AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(40);
    for (const [id, fn] of functions) {
      expect((fn.Properties as Props).LoggingConfig, id).toEqual({ LogGroup: { Ref: sharedLogs } });
    }
    // The other groups are the API's access logs and the state machines' execution logs, none a function's.
    const others = ofType('AWS::Logs::LogGroup')
      .map(([id]) => id)
      .filter((id) => id !== sharedLogs);
    expect(
      others.every((id) => /AccessLogs|ExecutionLogs/.test(id)),
      others.join(),
    ).toBe(true);
    for (const { name, fn } of crmFunctions()) {
      const logs = statementsOf(fn).filter((s) => actionsOf(s).some((a) => a.startsWith('logs:')));
      expect(logs, name).toEqual([
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: { 'Fn::GetAtt': [sharedLogs, 'Arn'] },
        },
      ]);
    }
  });

  it('serve the API with 1 GB and 10 s, each group with the configuration its code reads', () => {
    const table = { Ref: logicalId(stack.data.table) };
    for (const group of FUNCTION_GROUPS) {
      const p = props(logicalId(stack.api.functions[group].function));
      expect(p.MemorySize, group).toBe(1024);
      expect(p.Timeout, group).toBe(10);
      expect(p.Environment.Variables.POWERTOOLS_SERVICE_NAME, group).toBe(group);
      if (group === 'docs') expect(p.Environment.Variables.TABLE_NAME).toBeUndefined();
      else expect(p.Environment.Variables.TABLE_NAME, group).toEqual(table);
      // The per-tenant quota, from context tenantRateLimit.
      if (group === 'docs') expect(p.Environment.Variables.TENANT_RATE_LIMIT).toBeUndefined();
      else expect(p.Environment.Variables.TENANT_RATE_LIMIT, group).toBe('25');
    }
  });

  it('give the publisher and the inbound mail function the bus (and the bucket) they read', () => {
    const bus = { Ref: logicalId(stack.events.bus) };
    const publisher = props(logicalId(stack.events.publisher.function));
    expect(publisher).toMatchObject({ MemorySize: 512, Timeout: 60 });
    expect(publisher.Environment.Variables.EVENT_BUS_NAME).toEqual(bus);
    expect(publisher.Environment.Variables.CLAIM_CHECK_BUCKET).toEqual({ Ref: logicalId(stack.claimCheck.bucket) });
    const inbound = props(logicalId(stack.mail.inbound.function));
    expect(inbound.Environment.Variables).toMatchObject({
      EVENT_BUS_NAME: bus,
      INBOUND_BUCKET: { Ref: logicalId(stack.mail.bucket) },
      INBOUND_PREFIX: 'inbound/',
    });
  });
});

describe('iam', () => {
  const tableArn = () => ({ 'Fn::GetAtt': [logicalId(stack.data.table), 'Arn'] });

  it('never grants *, dynamodb:* or Scan, and no other wildcard action', () => {
    const actions = allStatements().flatMap(actionsOf);
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
    // The campaign sender alone reads pages of 100 recipients (contacts, companies, owners, exclusion memberships,
    // suppressions) with BatchGetItem, on its own function role; no tenant role ever gets a batch action.
    const sender = new Set(statementsOf(stack.campaigns.steps));
    const others = allStatements().filter((s) => ![...sender].some((t) => JSON.stringify(t) === JSON.stringify(s)));
    expect(others.flatMap(actionsOf).filter((a) => /^dynamodb:(Scan|Batch|PartiQL)/.test(a))).toEqual([]);
    expect([...sender].flatMap(actionsOf).filter((a) => /^dynamodb:(Scan|Batch|PartiQL)/.test(a))).toEqual([
      'dynamodb:BatchGetItem',
    ]);
  });

  it("grants on '*' only actions that have no resource-level permissions", () => {
    const onEverything = allStatements()
      .filter((s) => s.Resource === '*' || (Array.isArray(s.Resource) && s.Resource.includes('*')))
      .flatMap(actionsOf);
    const allowed = ['dynamodb:ListStreams'];
    // Step Functions' log delivery to CloudWatch Logs (the routing state machine's role).
    const logDelivery = [
      'logs:CreateLogDelivery',
      'logs:GetLogDelivery',
      'logs:UpdateLogDelivery',
      'logs:DeleteLogDelivery',
      'logs:ListLogDeliveries',
      'logs:PutResourcePolicy',
      'logs:DescribeResourcePolicies',
      'logs:DescribeLogGroups',
    ];
    const routingRole = logicalId(stack.ticketRouting.stateMachine.role);
    const routingLogs = ofType('AWS::IAM::Policy')
      .filter(([id]) => (props(id).Roles as Array<{ Ref: string }>).some((r) => r.Ref === routingRole))
      .flatMap(([id]) => props(id).PolicyDocument.Statement as Statement[])
      .filter((st) => st.Resource === '*')
      .flatMap(actionsOf);
    expect(routingLogs.every((a) => logDelivery.includes(a))).toBe(true);
    expect(
      onEverything.filter(
        (a) => !allowed.includes(a) && a !== 'ses:SetActiveReceiptRuleSet' && !logDelivery.includes(a),
      ),
    ).toEqual([]);
  });

  it('uses no AWS managed policies', () => {
    for (const [id] of ofType('AWS::IAM::Role')) expect(props(id).ManagedPolicyArns, id).toBeUndefined();
  });

  const dataGroups = FUNCTION_GROUPS.filter((g) => g !== 'docs') as Array<keyof typeof GROUP_TABLE_ACCESS>;
  const tenantRoleOf = (group: keyof typeof GROUP_TABLE_ACCESS) => stack.api.tenantRoles[group]!.role;

  it('gives API functions no table access of their own, only their tenant role to assume with a tag', () => {
    expect(Object.keys(stack.api.tenantRoles).sort()).toEqual([...dataGroups].sort());
    for (const group of dataGroups) {
      const fn = stack.api.functions[group];
      const statements = statementsOf(fn);
      expect(
        statements.flatMap(actionsOf).filter((a) => a.startsWith('dynamodb:')),
        group,
      ).toEqual([]);
      const assume = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('sts:')));
      const roleArn = { 'Fn::GetAtt': [logicalId(tenantRoleOf(group)), 'Arn'] };
      expect(assume, group).toEqual([
        { Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:TagSession'], Resource: roleArn },
      ]);
      expect(props(logicalId(fn.function)).Environment.Variables.TENANT_ROLE_ARN, group).toEqual(roleArn);
    }
  });

  it("trusts only the group's function, for sessions tagged with a tenant and nothing else", () => {
    for (const group of dataGroups) {
      const trust = props(logicalId(tenantRoleOf(group))).AssumeRolePolicyDocument.Statement as Array<
        Statement & { Principal: unknown }
      >;
      expect(trust, group).toEqual([
        {
          Effect: 'Allow',
          Principal: { AWS: { 'Fn::GetAtt': [logicalId(stack.api.functions[group].role), 'Arn'] } },
          Action: ['sts:AssumeRole', 'sts:TagSession'],
          Condition: {
            StringLike: { 'aws:RequestTag/tenantId': '?*' },
            'ForAllValues:StringEquals': { 'aws:TagKeys': ['tenantId'] },
          },
        },
      ]);
      expect(props(logicalId(tenantRoleOf(group))).MaxSessionDuration, group).toBe(3600);
    }
  });

  it("lets each tenant role do exactly its group's actions, only on the tenant's table and index keys", () => {
    const patterns = tenantKeyPolicyPatterns();
    for (const group of dataGroups) {
      const access = GROUP_TABLE_ACCESS[group];
      const [policy, ...others] = props(logicalId(tenantRoleOf(group))).Policies as Array<{
        PolicyDocument: { Statement: Array<Statement & { Sid: string }> };
      }>;
      expect(others, group).toEqual([]);
      const bySid = Object.fromEntries(policy!.PolicyDocument.Statement.map((st) => [st.Sid, st]));
      const tableActions = [...access.items, ...(access.queryTable ? ['Query'] : [])].map((a) => `dynamodb:${a}`);
      const list = (value: unknown) => (Array.isArray(value) ? value : [value]);
      const { Action: itemActions, ...items } = bySid.TenantItems!;
      expect(list(itemActions).sort(), group).toEqual(tableActions.sort());
      expect(items, group).toEqual({
        Sid: 'TenantItems',
        Effect: 'Allow',
        Resource: tableArn(),
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [patterns.table] } },
      });
      const indexArn = (index: string) => ({ 'Fn::Join': ['', [tableArn(), `/index/${index}`]] });
      if (access.queryIndexes.length > 0) {
        expect(bySid.TenantIndexQueries, group).toMatchObject({
          Effect: 'Allow',
          Action: 'dynamodb:Query',
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [patterns.index] } },
        });
        expect(list(bySid.TenantIndexQueries!.Resource), group).toEqual(access.queryIndexes.map(indexArn));
      } else {
        expect(bySid.TenantIndexQueries, group).toBeUndefined();
      }
      expect(bySid.DenyUntaggedSessions, group).toMatchObject({
        Effect: 'Deny',
        Condition: { Null: { 'aws:PrincipalTag/tenantId': 'true' } },
      });
      // Global keys (address claims), only where granted, with only the actions granted and the claim pattern.
      const globalSids = Object.entries(access.globalKeys ?? {}).map(([entity, actions]) => {
        const sid = `GlobalKeys${entity[0]!.toUpperCase()}${entity.slice(1)}`;
        const { Action: granted, ...statement } = bySid[sid]!;
        expect(list(granted).sort(), group).toEqual(actions!.map((a) => `dynamodb:${a}`).sort());
        expect(statement, group).toEqual({
          Sid: sid,
          Effect: 'Allow',
          Resource: tableArn(),
          Condition: {
            'ForAllValues:StringLike': {
              'dynamodb:LeadingKeys': [globalKeyPattern(entity as GlobalKeyEntity, true)],
            },
          },
        });
        return sid;
      });
      expect(Object.keys(bySid).sort(), group).toEqual(
        [
          'DenyUntaggedSessions',
          'TenantItems',
          ...(access.queryIndexes.length > 0 ? ['TenantIndexQueries'] : []),
          ...globalSids,
        ].sort(),
      );
    }
  });

  it('gives the docs function no table access', () => {
    const actions = statementsOf(stack.api.functions.docs).flatMap(actionsOf);
    expect(actions.filter((a) => a.startsWith('dynamodb:'))).toEqual([]);
  });

  it("lets the stream publisher read the stream and put only its entities' events on its bus, not write the table", () => {
    const statements = statementsOf(stack.events.publisher);
    const dynamo = statements.flatMap(actionsOf).filter((a) => a.startsWith('dynamodb:'));
    expect(dynamo.sort()).toEqual([
      'dynamodb:DescribeStream',
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
      'dynamodb:ListStreams',
    ]);
    const streamRead = statements.find((s) => actionsOf(s).includes('dynamodb:GetRecords'))!;
    expect(streamRead.Resource).toEqual({ 'Fn::GetAtt': [logicalId(stack.data.table), 'StreamArn'] });
    const put = statements.filter((s) => actionsOf(s).includes('events:PutEvents'));
    const renamed = [...Object.values(STREAM_DETAIL_TYPES), ...DERIVED_FROM_STREAM] as string[];
    const published = Object.keys(CATALOG).filter(
      (t) => renamed.includes(t) || PUBLISHED_ENTITIES.some((e) => t.startsWith(`${e}.`)),
    );
    expect(put).toEqual([
      {
        Effect: 'Allow',
        Action: 'events:PutEvents',
        Resource: { 'Fn::GetAtt': [logicalId(stack.events.bus), 'Arn'] },
        Condition: {
          'ForAllValues:StringEquals': {
            'events:source': [...new Set(published.map((t) => CATALOG[t as keyof typeof CATALOG].source))].sort(),
            'events:detail-type': published.sort(),
          },
          Null: { 'events:source': 'false' },
        },
      },
    ]);
  });

  const claimChecks = () => ({
    'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stack.claimCheck.bucket), 'Arn'] }, '/events/*']],
  });
  const s3Statements = (fn: Parameters<typeof statementsOf>[0]) =>
    statementsOf(fn).filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));

  it('lets the publisher only write claim checks, and the audit trail only read them', () => {
    expect(s3Statements(stack.events.publisher)).toEqual([
      { Effect: 'Allow', Action: 's3:PutObject', Resource: claimChecks() },
    ]);
    expect(s3Statements(stack.auditTrail.consumer)).toEqual([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: claimChecks() },
    ]);
    expect(s3Statements(stack.assignmentLoad.consumer)).toEqual([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: claimChecks() },
    ]);
    // Nobody else touches the claim-check bucket.
    const bucket = logicalId(stack.claimCheck.bucket);
    const readers = ['publisher', 'audit-trail', 'assignment-load'];
    const others = crmFunctions().filter(({ name }) => !readers.includes(name));
    for (const { name, fn } of others) {
      expect(JSON.stringify(statementsOf(fn)), name).not.toContain(bucket);
      expect(props(logicalId(fn.function)).Environment.Variables.CLAIM_CHECK_BUCKET, name).toBeUndefined();
    }
  });

  it('lets the audit trail only put items into the table itself', () => {
    const dynamo = statementsOf(stack.auditTrail.consumer).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('dynamodb:')),
    );
    expect(dynamo).toEqual([{ Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: tableArn() }]);
  });

  it('parks inbound messages the function could not publish in an alarmed queue', () => {
    const failures = { 'Fn::GetAtt': [logicalId(stack.mail.failures.queue), 'Arn'] };
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(stack.mail.inbound.function) },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: failures } },
    });
  });

  it('lets the inbound mail function read only inbound/ objects and put only email.received on the bus', () => {
    const statements = statementsOf(stack.mail.inbound);
    const s3 = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    expect(s3).toEqual([
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stack.mail.bucket), 'Arn'] }, '/inbound/*']] },
      },
    ]);
    expect(statements.filter((s) => actionsOf(s).includes('events:PutEvents'))).toEqual([
      {
        Effect: 'Allow',
        Action: 'events:PutEvents',
        Resource: { 'Fn::GetAtt': [logicalId(stack.events.bus), 'Arn'] },
        Condition: {
          'ForAllValues:StringEquals': { 'events:source': ['crm.mail'], 'events:detail-type': ['email.received'] },
          Null: { 'events:source': 'false' },
        },
      },
    ]);
    // The table: GetItem of address claims and mailboxes only (it resolves recipients to tenants).
    expect(statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')))).toEqual([
      {
        Effect: 'Allow',
        Action: 'dynamodb:GetItem',
        Resource: { 'Fn::GetAtt': [logicalId(stack.data.table), 'Arn'] },
        Condition: {
          'ForAllValues:StringLike': {
            'dynamodb:LeadingKeys': [`\${$}crm#mailboxAddress_*`, `\${$}crm#tenantId_*#mailboxId_*`],
          },
        },
      },
    ]);
  });

  it('alarms on inbound mail dropped for unknown addresses or rejected by a mailbox policy', () => {
    for (const [alarm, metric] of [
      [stack.mail.unroutableAlarm, 'InboundEmailsUnroutable'],
      [stack.mail.rejectedAlarm, 'InboundEmailsRejected'],
    ] as const) {
      expect(props(logicalId(alarm))).toMatchObject({
        Namespace: 'CRM',
        MetricName: metric,
        Dimensions: [{ Name: 'service', Value: 'inbound-email' }],
        Statistic: 'Sum',
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
    // Mailboxes may be declared only where the receipt rule receives mail.
    expect(props(logicalId(stack.api.functions.mailboxes.function)).Environment.Variables.INBOUND_RECIPIENTS).toBe(
      'support@example.com,example.org',
    );
  });
});

describe('events', () => {
  it('has the CRM bus with a 90-day archive of this account', () => {
    const bus = props(logicalId(stack.events.bus));
    expect(bus.Name).toBe(`${stack.stackName}-crm-events`);
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [logicalId(stack.events.bus), 'Arn'] },
      RetentionDays: 90,
      EventPattern: { account: [{ Ref: 'AWS::AccountId' }] },
    });
  });

  it('feeds only published entities of the table stream to the publisher, with retries and a DLQ', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    const [[, mapping]] = ofType('AWS::Lambda::EventSourceMapping') as [[string, CfnResource]];
    const p = mapping.Properties as Props;
    expect(p).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': [logicalId(stack.data.table), 'StreamArn'] },
      FunctionName: { Ref: logicalId(stack.events.publisher.function) },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 1,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(stack.events.failures.queue), 'Arn'] } },
      },
    });
    const entity = { __edb_e__: { S: [...PUBLISHED_ENTITIES, ...DERIVED_ONLY_ENTITIES] } };
    expect(p.FilterCriteria.Filters.map((f: { Pattern: string }) => JSON.parse(f.Pattern))).toEqual([
      { $or: [{ dynamodb: { NewImage: entity } }, { dynamodb: { OldImage: entity } }] },
    ]);
  });

  it('keeps failed work in encrypted, TLS-only queues for 14 days, with alarms', () => {
    // Stream publisher, audit trail, inbound mail, lead scoring, reminders, assignment loads, merge movers and duplicate
    // candidates each park what they could not do in their own queue.
    const queues = [
      stack.events.failures,
      stack.auditTrail.failures,
      stack.mail.failures,
      stack.leads.failures,
      stack.reminders.failures,
      stack.assignmentLoad.failures,
      stack.mergeChildren.failures,
      stack.duplicateCandidates.failures,
      stack.ticketMail.intake.failures,
      stack.ticketMail.sender.failures,
      stack.ticketSla.failures,
      stack.ticketRouting.failures,
      stack.sequences.triggerFailures,
      stack.sequences.exitFailures,
      stack.emailTracking.failures,
      stack.campaigns.failures,
      stack.segments.backfillFailures,
      stack.segments.consumerFailures,
    ].map((f) => logicalId(f.queue));
    template.resourceCountIs('AWS::SQS::Queue', queues.length);
    for (const queue of queues) {
      expect(props(queue)).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queue }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
      });
    }
  });
});

describe('assignment load', () => {
  it('routes every contact, lead, deal and ticket change to its consumer, which may only put markers and update counters', () => {
    const rule = props(logicalId(stack.assignmentLoad.rule));
    expect(rule.EventBusName).toEqual({ Ref: logicalId(stack.events.bus) });
    const types = [
      ...['contact', 'lead', 'deal'].flatMap((e) =>
        ['created', 'updated', 'deleted', 'restored'].map((a) => `${e}.${a}`),
      ),
      // Tickets have no restore.
      ...['created', 'updated', 'deleted'].map((a) => `ticket.${a}`),
    ];
    expect(rule.EventPattern['detail-type'].sort()).toEqual(types.sort());
    expect(rule.EventPattern.source.sort()).toEqual(['crm.contacts', 'crm.deals', 'crm.leads', 'crm.tickets']);
    const failures = { 'Fn::GetAtt': [logicalId(stack.assignmentLoad.failures.queue), 'Arn'] };
    expect(rule.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [logicalId(stack.assignmentLoad.consumer.function), 'Arn'] },
        DeadLetterConfig: { Arn: failures },
      }),
    ]);
    const dynamo = statementsOf(stack.assignmentLoad.consumer).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('dynamodb:')),
    );
    expect(dynamo).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Resource: { 'Fn::GetAtt': [logicalId(stack.data.table), 'Arn'] },
      },
    ]);
  });
});

describe('audit trail', () => {
  it('routes every contact, company and user change event from the bus to its consumer', () => {
    const rule = props(logicalId(stack.auditTrail.rule));
    expect(rule.EventBusName).toEqual({ Ref: logicalId(stack.events.bus) });
    const types = Object.keys(CATALOG).filter((t) => ['contact.', 'company.', 'user.'].some((e) => t.startsWith(e)));
    expect(rule.EventPattern['detail-type'].sort()).toEqual(types.sort());
    expect(rule.EventPattern.source.sort()).toEqual(['crm.companies', 'crm.contacts', 'crm.users']);
    const failures = { 'Fn::GetAtt': [logicalId(stack.auditTrail.failures.queue), 'Arn'] };
    expect(rule.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [logicalId(stack.auditTrail.consumer.function), 'Arn'] },
        DeadLetterConfig: { Arn: failures },
      }),
    ]);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(stack.auditTrail.consumer.function) },
      DestinationConfig: { OnFailure: { Destination: failures } },
    });
    const env = props(logicalId(stack.auditTrail.consumer.function)).Environment.Variables;
    expect(env.TABLE_NAME).toEqual({ Ref: logicalId(stack.data.table) });
    expect(env.CLAIM_CHECK_BUCKET).toEqual({ Ref: logicalId(stack.claimCheck.bucket) });
  });
});

describe('duplicates and merges', () => {
  const ruleTargets = (rule: string, consumer: string, failures: string) => {
    expect(props(rule).Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [consumer, 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [failures, 'Arn'] } },
      }),
    ]);
  };

  it('sends contact.merged and company.merged to the movers, with the table actions they use and no more', () => {
    const { rule, consumer, failures } = stack.mergeChildren;
    expect(props(logicalId(rule)).EventPattern).toEqual({
      source: ['crm.contacts', 'crm.companies'],
      'detail-type': ['contact.merged', 'company.merged'],
    });
    ruleTargets(logicalId(rule), logicalId(consumer.function), logicalId(failures.queue));
    const dynamo = statementsOf(consumer).filter((s) => JSON.stringify(s.Action).includes('dynamodb:'));
    expect(dynamo.flatMap((s) => s.Action).sort()).toEqual(
      [
        'dynamodb:ConditionCheckItem',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
      ].sort(),
    );
  });

  it('sends every contact and company change to the candidates consumer, which only reads and writes table items', () => {
    const { rule, consumer, failures } = stack.duplicateCandidates;
    const types = Object.keys(CATALOG).filter((t) => t.startsWith('contact.') || t.startsWith('company.'));
    expect(props(logicalId(rule)).EventPattern['detail-type'].sort()).toEqual(types.sort());
    ruleTargets(logicalId(rule), logicalId(consumer.function), logicalId(failures.queue));
    const dynamo = statementsOf(consumer).filter((s) => JSON.stringify(s.Action).includes('dynamodb:'));
    expect(dynamo.flatMap((s) => s.Action).sort()).toEqual(
      ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'].sort(),
    );
    for (const s of dynamo) expect(s.Resource).toEqual({ 'Fn::GetAtt': [logicalId(stack.data.table), 'Arn'] });
  });
});

describe('claim checks', () => {
  it('keep large event values in a private, encrypted, TLS-only bucket that outlives the bus archive', () => {
    const id = logicalId(stack.claimCheck.bucket);
    const bucket = resources[id]!;
    expect(bucket).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    const p = props(id);
    expect(p.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    expect(p.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(p.VersioningConfiguration).toBeUndefined();
    expect(p.BucketName).toBeUndefined();
    const [rule] = p.LifecycleConfiguration.Rules;
    expect(rule).toMatchObject({ Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } });
    const archiveId = ofType('AWS::Events::Archive')[0]![0];
    // A replayed archived event still finds its claim checks.
    expect(rule.ExpirationInDays).toBeGreaterThan(props(archiveId).RetentionDays);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: id },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.hasOutput('ClaimCheckBucketName', { Value: { Ref: id } });
  });
});

describe('mail', () => {
  const bucketArn = () => ({ 'Fn::GetAtt': [logicalId(stack.mail.bucket), 'Arn'] });

  it('stores inbound mail in a private, encrypted, access-logged bucket that expires objects', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        LifecycleConfiguration: { Rules: [{ ExpirationInDays: 90, Status: 'Enabled' }] },
        LoggingConfiguration: Match.objectLike({ DestinationBucketName: Match.anyValue() }),
      }),
    });
    expect(props(logicalId(stack.mail.bucket)).VersioningConfiguration).toBeUndefined();
  });

  it('lets SES of this account write under inbound/ only, over TLS only', () => {
    const policy = ofType('AWS::S3::BucketPolicy').find(
      ([id]) => props(id).Bucket.Ref === logicalId(stack.mail.bucket),
    )!;
    const statements = props(policy[0]).PolicyDocument.Statement as Array<Statement & { Principal: unknown }>;
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'ses.amazonaws.com' },
        Action: 's3:PutObject',
        Resource: { 'Fn::Join': ['', [bucketArn(), '/inbound/*']] },
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });

  it('has a receipt rule storing to S3 then invoking the inbound function', () => {
    template.resourceCountIs('AWS::SES::ReceiptRuleSet', 1);
    template.hasResourceProperties('AWS::SES::ReceiptRule', {
      Rule: {
        Enabled: true,
        ScanEnabled: true,
        TlsPolicy: 'Require',
        Recipients: ['support@example.com', 'example.org'],
        Actions: [
          { S3Action: { BucketName: { Ref: logicalId(stack.mail.bucket) }, ObjectKeyPrefix: 'inbound/' } },
          {
            LambdaAction: {
              FunctionArn: { 'Fn::GetAtt': [logicalId(stack.mail.inbound.function), 'Arn'] },
              InvocationType: 'Event',
            },
          },
        ],
      },
    });
  });

  it('activates the rule set through a custom resource, since recipients are configured', () => {
    const [[, activation]] = ofType('Custom::AWS') as [[string, CfnResource]];
    const p = activation.Properties as Props;
    expect(JSON.stringify(p.Create)).toContain('setActiveReceiptRuleSet');
    expect(JSON.parse(p.Delete)).toMatchObject({ action: 'setActiveReceiptRuleSet', parameters: {} });
  });

  it('verifies the sender identity and exports it', () => {
    template.hasResourceProperties('AWS::SES::EmailIdentity', { EmailIdentity: 'crm@example.com' });
    template.hasOutput('SenderEmail', { Value: 'crm@example.com' });
  });
});

describe('leads', () => {
  it('sends lead, form and activity events to the scoring consumer, failures to its alarmed queue', () => {
    const rule = props(logicalId(stack.leads.rule));
    expect(rule.EventPattern).toEqual({ 'detail-type': [...SCORING_EVENTS] });
    expect(rule.Targets[0].Arn).toEqual({ 'Fn::GetAtt': [logicalId(stack.leads.scoring.function), 'Arn'] });
    expect(rule.Targets[0].DeadLetterConfig.Arn).toEqual({
      'Fn::GetAtt': [logicalId(stack.leads.failures.queue), 'Arn'],
    });
  });

  it('lets the scoring consumer only read and update table items, and manage its own decay schedules', () => {
    const statements = statementsOf(stack.leads.scoring);
    const table = { 'Fn::GetAtt': [logicalId(stack.data.table), 'Arn'] };
    expect(statements.find((s) => actionsOf(s).includes('dynamodb:GetItem'))).toMatchObject({
      Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      Resource: table,
    });
    const dynamo = statements.flatMap(actionsOf).filter((a) => a.startsWith('dynamodb:'));
    expect(dynamo.sort()).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    const schedules = statements.find((s) => actionsOf(s).includes('scheduler:CreateSchedule'))!;
    expect(actionsOf(schedules).sort()).toEqual(['scheduler:CreateSchedule', 'scheduler:UpdateSchedule']);
    expect(JSON.stringify(schedules.Resource)).toContain('/lead-score-*');
    const pass = statements.find((s) => actionsOf(s).includes('iam:PassRole'))!;
    expect(pass.Resource).toEqual({ 'Fn::GetAtt': [logicalId(stack.leads.schedulerRole), 'Arn'] });
    expect(pass.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
  });

  it('lets the scheduler role only invoke the scoring consumer', () => {
    const role = logicalId(stack.leads.schedulerRole);
    const statements = ofType('AWS::IAM::Policy')
      .filter(([id]) => (props(id).Roles as Array<{ Ref: string }>).some((r) => r.Ref === role))
      .flatMap(([id]) => props(id).PolicyDocument.Statement as Statement[]);
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: { 'Fn::GetAtt': [logicalId(stack.leads.scoring.function), 'Arn'] },
      },
    ]);
  });

  it('lets only the public form function send mail, from the verified sender', () => {
    const sends = crmFunctions().filter(({ fn }) =>
      statementsOf(fn).some((s) => actionsOf(s).includes('ses:SendEmail')),
    );
    // (and the SLA timer and the email templates' test send, whose own grants are checked under theirs)
    expect(sends.map((f) => f.name)).toEqual(['formSubmissions', 'emailTemplates', 'sla-timer']);
    const env = props(logicalId(stack.api.functions.formSubmissions.function)).Environment.Variables;
    expect(env.SENDER_EMAIL).toBe('crm@example.com');
    expect(env.TENANT_RATE_LIMIT).toBeDefined();
  });
});

describe('outputs', () => {
  it('exports what clients and operators need', () => {
    const outputs = Object.keys(template.toJSON().Outputs ?? {});
    expect(outputs).toEqual(
      expect.arrayContaining([
        'ApiUrl',
        'UserPoolId',
        'UserPoolClientId',
        'EventBusName',
        'TableName',
        'InboundBucketName',
      ]),
    );
    template.hasOutput('TableName', { Value: { Ref: logicalId(stack.data.table) } });
    template.hasOutput('UserPoolClientId', { Value: { Ref: logicalId(stack.auth.client) } });
    template.hasOutput('FunctionLogGroupName', { Value: { Ref: logicalId(functionLogGroup(stack)) } });
  });
});

describe('reminders', () => {
  const groupArn = () => ({
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':scheduler:',
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        `:schedule/${stack.stackName}-task-reminders/*`,
      ],
    ],
  });

  it('has one schedule group for task reminders', () => {
    template.resourcePropertiesCountIs(
      'AWS::Scheduler::ScheduleGroup',
      { Name: `${stack.stackName}-task-reminders` },
      1,
    );
  });

  it("lets Scheduler, for this account's reminder schedules, invoke only the reminder function", () => {
    const role = props(logicalId(stack.reminders.schedulerRole));
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: {
            'aws:SourceArn': [groupArn(), { 'Fn::GetAtt': [stack.getLogicalId(stack.reminders.group), 'Arn'] }],
          },
        },
      },
    ]);
    const statements = ofType('AWS::IAM::Policy')
      .filter(([id]) =>
        (props(id).Roles as Array<{ Ref: string }>).some((r) => r.Ref === logicalId(stack.reminders.schedulerRole)),
      )
      .flatMap(([id]) => props(id).PolicyDocument.Statement as Statement[]);
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: { 'Fn::GetAtt': [logicalId(stack.reminders.reminder.function), 'Arn'] },
      },
    ]);
  });

  it('lets the schedule consumer manage schedules of that group only, pass only that role, and read the table', () => {
    const statements = statementsOf(stack.reminders.schedules).filter(
      (s) => !actionsOf(s).some((a) => a.startsWith('logs:') || a.startsWith('sqs:')),
    );
    expect(statements).toEqual([
      { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: { 'Fn::GetAtt': [logicalId(stack.data.table), 'Arn'] } },
      {
        Effect: 'Allow',
        Action: [
          'scheduler:CreateSchedule',
          'scheduler:DeleteSchedule',
          'scheduler:GetSchedule',
          'scheduler:UpdateSchedule',
        ],
        Resource: groupArn(),
      },
      {
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: { 'Fn::GetAtt': [logicalId(stack.reminders.schedulerRole), 'Arn'] },
        Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      },
    ]);
  });

  it('lets the reminder read and put items, and send mail only from the sender identity', () => {
    const statements = statementsOf(stack.reminders.reminder).filter(
      (s) => !actionsOf(s).some((a) => a.startsWith('logs:') || a.startsWith('sqs:')),
    );
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        Resource: { 'Fn::GetAtt': [logicalId(stack.data.table), 'Arn'] },
      },
      {
        Effect: 'Allow',
        Action: 'ses:SendEmail',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':ses:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':identity/crm@example.com',
            ],
          ],
        },
        Condition: { StringEquals: { 'ses:FromAddress': 'crm@example.com' } },
      },
    ]);
    expect(props(logicalId(stack.reminders.reminder.function)).Environment.Variables.SENDER_EMAIL).toBe(
      'crm@example.com',
    );
  });

  it('sends task changes (and claim-checked activity changes) to the schedule consumer', () => {
    const rule = props(logicalId(stack.reminders.rule));
    expect(rule.EventPattern).toEqual({
      source: ['crm.activities'],
      'detail-type': ['activity.created', 'activity.updated', 'activity.deleted'],
      detail: { $or: [{ record: { type: ['task'] } }, { record: { type: [{ exists: false }] } }] },
    });
    expect(rule.Targets).toHaveLength(1);
    expect(rule.Targets[0].Arn).toEqual({ 'Fn::GetAtt': [logicalId(stack.reminders.schedules.function), 'Arn'] });
  });
});

describe('tickets by email', () => {
  const tableArn = () => ({ 'Fn::GetAtt': [logicalId(stack.data.table), 'Arn'] });
  const own = (fn: Parameters<typeof statementsOf>[0]) =>
    statementsOf(fn).filter((s) => !actionsOf(s).some((a) => a.startsWith('logs:') || a.startsWith('sqs:')));
  const objectsUnder = (bucket: { node: { defaultChild?: unknown } }, prefix: string) => ({
    'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(bucket), 'Arn'] }, `/${prefix}*`]],
  });

  it('sends email.received to the intake and queued replies (or claim checks) to the sender', () => {
    expect(props(logicalId(stack.ticketMail.intake.rule)).EventPattern).toEqual({
      source: ['crm.mail'],
      'detail-type': ['email.received'],
    });
    expect(props(logicalId(stack.ticketMail.sender.rule)).EventPattern).toEqual({
      source: ['crm.tickets'],
      'detail-type': ['ticket.message_added'],
      detail: {
        $or: [
          { record: { delivery: { status: ['queued'] } } },
          { record: { $claimCheck: { key: [{ exists: true }] } } },
          { $claimCheck: { key: [{ exists: true }] } },
        ],
      },
    });
  });

  /** Each statement as sorted actions over its resources (CDK merges statements that share actions). */
  const grants = (fn: Parameters<typeof statementsOf>[0]) =>
    own(fn).map((s) => ({
      actions: [...actionsOf(s)].sort(),
      resources: Array.isArray(s.Resource) ? s.Resource : [s.Resource],
    }));

  it('lets the intake use the table, read inbound mail under inbound/ and write ticket files under tickets/ only', () => {
    expect(grants(stack.ticketMail.intake.consumer)).toEqual([
      {
        actions: [
          'dynamodb:ConditionCheckItem',
          'dynamodb:DeleteItem',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:Query',
          'dynamodb:UpdateItem',
        ],
        resources: [tableArn()],
      },
      { actions: ['s3:GetObject'], resources: [objectsUnder(stack.mail.bucket, 'inbound/')] },
      { actions: ['s3:GetObject', 's3:PutObject'], resources: [objectsUnder(stack.attachments.bucket, 'tickets/')] },
    ]);
    const env = props(logicalId(stack.ticketMail.intake.consumer.function)).Environment.Variables;
    expect(env).toMatchObject({ INBOUND_PREFIX: 'inbound/', MAIL_DOMAIN: 'crm.local' });
  });

  it('lets the sender read and update messages, read files and claim checks, and send mail (no other SES action)', () => {
    expect(grants(stack.ticketMail.sender.consumer)).toEqual([
      { actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], resources: [tableArn()] },
      {
        actions: ['s3:GetObject'],
        resources: [
          objectsUnder(stack.attachments.bucket, 'tickets/'),
          objectsUnder(stack.claimCheck.bucket, 'events/'),
        ],
      },
      {
        actions: ['ses:SendEmail', 'ses:SendRawEmail'],
        resources: [
          {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':ses:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                ':identity/*',
              ],
            ],
          },
        ],
      },
    ]);
    const tickets = props(logicalId(stack.api.functions.tickets.function)).Environment.Variables;
    expect(tickets.MAIL_DOMAIN).toBe('crm.local');
  });
});

describe('ticket SLA', () => {
  const groupArn = () => ({
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':scheduler:',
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        `:schedule/${stack.stackName}-ticket-sla/*`,
      ],
    ],
  });
  const withoutLogsAndQueues = (statements: Statement[]) =>
    statements.filter((s) => !actionsOf(s).some((a) => a.startsWith('logs:') || a.startsWith('sqs:')));

  it('has its own schedule group, and lets Scheduler invoke only the SLA timer', () => {
    template.resourcePropertiesCountIs('AWS::Scheduler::ScheduleGroup', { Name: `${stack.stackName}-ticket-sla` }, 1);
    const role = props(logicalId(stack.ticketSla.schedulerRole));
    expect(role.AssumeRolePolicyDocument.Statement[0].Condition.ArnLike['aws:SourceArn']).toEqual([
      groupArn(),
      { 'Fn::GetAtt': [stack.getLogicalId(stack.ticketSla.group), 'Arn'] },
    ]);
    const statements = ofType('AWS::IAM::Policy')
      .filter(([id]) =>
        (props(id).Roles as Array<{ Ref: string }>).some((r) => r.Ref === logicalId(stack.ticketSla.schedulerRole)),
      )
      .flatMap(([id]) => props(id).PolicyDocument.Statement as Statement[]);
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: { 'Fn::GetAtt': [logicalId(stack.ticketSla.timer.function), 'Arn'] },
      },
    ]);
  });

  it("lets the consumer manage only its group's schedules, pass only the Scheduler role, and read/update the table", () => {
    expect(withoutLogsAndQueues(statementsOf(stack.ticketSla.consumer))).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Resource: { 'Fn::GetAtt': [logicalId(stack.data.table), 'Arn'] },
      },
      {
        Effect: 'Allow',
        Action: [
          'scheduler:CreateSchedule',
          'scheduler:DeleteSchedule',
          'scheduler:GetSchedule',
          'scheduler:UpdateSchedule',
        ],
        Resource: groupArn(),
      },
      {
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: { 'Fn::GetAtt': [logicalId(stack.ticketSla.schedulerRole), 'Arn'] },
        Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      },
    ]);
  });

  it('lets the timer read and write tickets and outcomes, and mail only from the sender', () => {
    const statements = withoutLogsAndQueues(statementsOf(stack.ticketSla.timer));
    expect(statements[0]).toEqual({
      Effect: 'Allow',
      Action: ['dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
      Resource: { 'Fn::GetAtt': [logicalId(stack.data.table), 'Arn'] },
    });
    expect(statements[1]).toMatchObject({
      Action: 'ses:SendEmail',
      Condition: { StringEquals: { 'ses:FromAddress': 'crm@example.com' } },
    });
    expect(statements).toHaveLength(2);
  });

  it('sends ticket changes to the consumer', () => {
    const rule = props(logicalId(stack.ticketSla.rule));
    expect(rule.EventPattern).toEqual({
      source: ['crm.tickets'],
      'detail-type': ['ticket.created', 'ticket.updated', 'ticket.deleted'],
    });
    expect(rule.Targets[0].Arn).toEqual({ 'Fn::GetAtt': [logicalId(stack.ticketSla.consumer.function), 'Arn'] });
  });
});

describe('ticket routing', () => {
  it('starts the state machine on ticket.created with the ids only, through a role, with retries and a DLQ', () => {
    const routing = stack.ticketRouting;
    const rule = props(logicalId(routing.rule));
    expect(rule.EventBusName).toEqual({ Ref: logicalId(stack.events.bus) });
    expect(rule.EventPattern).toEqual({ source: ['crm.tickets'], 'detail-type': ['ticket.created'] });
    const [target] = rule.Targets as Props[];
    expect(target).toMatchObject({
      Arn: { Ref: logicalId(routing.stateMachine) },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(routing.failures.queue), 'Arn'] } },
      RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 24 * 3600 },
      InputTransformer: {
        InputPathsMap: { 'detail-tenantId': '$.detail.tenantId', 'detail-entityId': '$.detail.entityId' },
      },
    });
    // The target's role may start this state machine and nothing else.
    const roleId = (target!.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const statements = ofType('AWS::IAM::Policy')
      .filter(([id]) => (props(id).Roles as Array<{ Ref: string }>).some((r) => r.Ref === roleId))
      .flatMap(([id]) => props(id).PolicyDocument.Statement as Statement[]);
    expect(statements).toEqual([
      { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: logicalId(routing.stateMachine) } },
    ]);
  });

  it('is Route → Assign → Apply with retries on transient errors and a Catch of everything into Fallback', () => {
    const machine = props(logicalId(stack.ticketRouting.stateMachine));
    const parts = machine.DefinitionString['Fn::Join'][1] as unknown[];
    // References (the function's ARN) sit inside JSON strings of the definition.
    const text = parts.map((p) => (typeof p === 'string' ? p : '<ref>')).join('');
    const definition = JSON.parse(text) as { StartAt: string; States: Record<string, Props> };
    expect(definition.StartAt).toBe('Route');
    for (const name of ['Route', 'Assign', 'Apply']) {
      const state = definition.States[name]!;
      expect(state.Retry[0]).toMatchObject({
        ErrorEquals: expect.arrayContaining(['Lambda.ServiceException']),
        BackoffRate: 2,
      });
      expect(state.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Fallback' }]);
    }
    expect(definition.States.Fallback!.Catch).toBeUndefined();
    expect(machine.LoggingConfiguration).toMatchObject({ Level: 'ALL' });
  });

  it('lets the steps function only read and write table items (no query, no delete), and alarms on failed executions', () => {
    const dynamo = statementsOf(stack.ticketRouting.steps).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('dynamodb:')),
    );
    expect(dynamo).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Resource: { 'Fn::GetAtt': [logicalId(stack.data.table), 'Arn'] },
      },
    ]);
    const alarm = props(logicalId(stack.ticketRouting.failedAlarm));
    expect(alarm).toMatchObject({ ComparisonOperator: 'GreaterThanThreshold', Threshold: 0 });
    expect(JSON.stringify(alarm.Metrics)).toContain('ExecutionsFailed');
  });
});

describe('segments', () => {
  const definitionOf = (machine: Props) => {
    const parts = machine.DefinitionString['Fn::Join'][1] as unknown[];
    const text = parts.map((p) => (typeof p === 'string' ? p : '<ref>')).join('');
    return JSON.parse(text) as { StartAt: string; States: Record<string, Props> };
  };

  it('starts the backfill on a new evaluation of a segment, with the ids only, retries and a DLQ', () => {
    const segments = stack.segments;
    const rule = props(logicalId(segments.backfillRule));
    expect(rule.EventBusName).toEqual({ Ref: logicalId(stack.events.bus) });
    expect(rule.EventPattern).toEqual({
      source: ['crm.segments'],
      'detail-type': ['segment.created', 'segment.updated', 'segment.restored'],
      detail: { $or: [{ changes: { evaluation: { new: [{ exists: true }] } } }, { changedFields: ['evaluation'] }] },
    });
    const [target] = rule.Targets as Props[];
    expect(target).toMatchObject({
      Arn: { Ref: logicalId(segments.stateMachine) },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(segments.backfillFailures.queue), 'Arn'] } },
      RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 24 * 3600 },
      InputTransformer: {
        InputPathsMap: { 'detail-tenantId': '$.detail.tenantId', 'detail-entityId': '$.detail.entityId' },
      },
    });
  });

  it('is Start → Page in a loop, each retried on transient errors and caught into MarkFailed', () => {
    const machine = props(logicalId(stack.segments.stateMachine));
    expect(machine.StateMachineType).toBe('STANDARD');
    expect(machine.LoggingConfiguration).toMatchObject({ Level: 'ALL' });
    const definition = definitionOf(machine);
    expect(definition.StartAt).toBe('Start');
    for (const name of ['Start', 'Page']) {
      const state = definition.States[name]!;
      expect(state.Retry[0]).toMatchObject({ ErrorEquals: expect.arrayContaining(['Lambda.ServiceException']) });
      expect(state.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'MarkFailed' }]);
      // The execution's name is the run that owns the progress.
      expect(state.Parameters['run.$']).toBe('$$.Execution.Name');
    }
    expect(definition.States.Start!.Next).toBe('Claimed?');
    expect(definition.States.Page!.Next).toBe('More?');
    expect(definition.States['More?']!.Choices).toEqual([
      { Variable: '$.decision', StringEquals: 'page', Next: 'Page' },
    ]);
    expect(definition.States.MarkFailed!.Next).toBe('Failed');
  });

  it('gives the steps and the consumer item actions and their Queries only, and Scheduler only StartExecution', () => {
    const table = { 'Fn::GetAtt': [logicalId(stack.data.table), 'Arn'] };
    const gsi4 = { 'Fn::Join': ['', [table, '/index/gsi4']] };
    const items = [
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ];
    const dynamo = (fn: Parameters<typeof statementsOf>[0]) =>
      statementsOf(fn).filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo(stack.segments.steps)).toEqual([
      { Effect: 'Allow', Action: items, Resource: table },
      { Effect: 'Allow', Action: 'dynamodb:Query', Resource: [table, gsi4] },
    ]);
    expect(dynamo(stack.segments.consumer)).toEqual([
      { Effect: 'Allow', Action: items, Resource: table },
      { Effect: 'Allow', Action: 'dynamodb:Query', Resource: gsi4 },
    ]);
    const role = logicalId(stack.segments.schedulerRole);
    const statements = ofType('AWS::IAM::Policy')
      .filter(([id]) => (props(id).Roles as Array<{ Ref: string }>).some((r) => r.Ref === role))
      .flatMap(([id]) => props(id).PolicyDocument.Statement as Statement[]);
    expect(statements).toEqual([
      { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: logicalId(stack.segments.stateMachine) } },
    ]);
    const consumerRule = props(logicalId(stack.segments.consumerRule));
    expect(consumerRule.EventPattern['detail-type']).toEqual(
      expect.arrayContaining(['contact.merged', 'email.opened']),
    );
  });
});

describe('drip sequences', () => {
  const definitionOf = (id: string) => {
    const parts = props(id).DefinitionString['Fn::Join'][1] as unknown[];
    // References (the function's ARN) sit inside JSON strings of the definition.
    const text = parts.map((p) => (typeof p === 'string' ? p : '<ref>')).join('');
    return JSON.parse(text) as { StartAt: string; States: Record<string, Props> };
  };

  it('is Step → Done? → Wait until $.waitUntil → Step, on ids only, retrying transient errors, logging ALL', () => {
    const id = logicalId(stack.sequences.stateMachine);
    const definition = definitionOf(id);
    expect(definition.StartAt).toBe('Step');
    expect(definition.States.Step!.Parameters).toEqual({
      'tenantId.$': '$.tenantId',
      'sequenceId.$': '$.sequenceId',
      'contactId.$': '$.contactId',
      'run.$': '$.run',
    });
    expect(definition.States.Step!.Retry[0].ErrorEquals).toEqual(expect.arrayContaining(['Lambda.ServiceException']));
    expect(definition.States.Step!.Retry[1]).toMatchObject({
      ErrorEquals: [
        'TooManyRequestsException',
        'LimitExceededException',
        'ThrottlingException',
        'SendingPausedException',
      ],
      IntervalSeconds: 30,
    });
    expect(definition.States['Done?']!.Choices).toEqual([{ Variable: '$.done', BooleanEquals: true, Next: 'Done' }]);
    expect(definition.States.Wait).toMatchObject({ Type: 'Wait', TimestampPath: '$.waitUntil', Next: 'Step' });
    expect(props(id)).toMatchObject({ StateMachineType: 'STANDARD', LoggingConfiguration: { Level: 'ALL' } });
  });

  it('catches a Step error past its retries into RecordFailure (the enrolment ends failed), then Fail', () => {
    const definition = definitionOf(logicalId(stack.sequences.stateMachine));
    expect(definition.States.Step!.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' },
    ]);
    expect(definition.States.RecordFailure).toMatchObject({
      Type: 'Task',
      Parameters: {
        'tenantId.$': '$.tenantId',
        'sequenceId.$': '$.sequenceId',
        'contactId.$': '$.contactId',
        'run.$': '$.run',
        'error.$': '$.error',
      },
      Next: 'Failed',
    });
    expect(definition.States.RecordFailure!.Retry[0].ErrorEquals).toEqual(
      expect.arrayContaining(['Lambda.ServiceException']),
    );
    expect(definition.States.Failed).toMatchObject({ Type: 'Fail', Error: 'SequenceEnrollmentFailed' });
  });

  it('routes enrolment, sequence and form events to the triggers and exit events to the exits consumer', () => {
    expect(props(logicalId(stack.sequences.triggerRule)).EventPattern).toEqual({
      'detail-type': [
        'sequence.enrollment_created',
        'sequence.updated',
        'form.submitted',
        'lead.updated',
        'segment.member.added',
      ],
    });
    expect(props(logicalId(stack.sequences.exitRule)).EventPattern).toEqual({
      'detail-type': ['email.received', 'contact.updated', 'deal.won'],
    });
    const starts = statementsOf(stack.sequences.triggers).filter((s) => actionsOf(s).includes('states:StartExecution'));
    expect(starts).toEqual([
      { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: logicalId(stack.sequences.stateMachine) } },
    ]);
  });

  it('lets the steps function read and write items (no query, no batch) and send only through the marketing set', () => {
    const statements = statementsOf(stack.sequences.steps);
    const dynamo = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo).toEqual([
      {
        Effect: 'Allow',
        Action: [
          'dynamodb:ConditionCheckItem',
          'dynamodb:DeleteItem',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
        ],
        Resource: { 'Fn::GetAtt': [logicalId(stack.data.table), 'Arn'] },
      },
    ]);
    const ses = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('ses:')));
    expect(ses).toHaveLength(1);
    expect(actionsOf(ses[0]!)).toEqual(['ses:SendEmail']);
    expect(JSON.stringify(ses[0]!.Resource)).toContain(':identity/crm.local');
    expect(JSON.stringify(ses[0]!.Resource)).toContain(`:configuration-set/${stack.stackName}-marketing"`);
    expect(ses[0]!.Condition).toEqual({ StringLike: { 'ses:FromAddress': '*@crm.local' } });
    expect(props(logicalId(stack.api.functions.sequences.function)).Environment.Variables.MARKETING_MAIL_DOMAIN).toBe(
      'crm.local',
    );
    const exits = statementsOf(stack.sequences.exits).flatMap(actionsOf);
    expect(exits.filter((a) => a.startsWith('dynamodb:')).sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
  });
});

describe('email templates', () => {
  it('lets the test send use only SendEmail on the mail domain identity, from an address in that domain', () => {
    const fn = stack.api.functions.emailTemplates;
    const sends = statementsOf(fn).filter((s) => actionsOf(s).some((a) => a.startsWith('ses:')));
    expect(sends).toEqual([
      {
        Effect: 'Allow',
        Action: 'ses:SendEmail',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':ses:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':identity/crm.local',
            ],
          ],
        },
        Condition: { StringLike: { 'ses:FromAddress': '*@crm.local' } },
      },
    ]);
    expect(props(logicalId(fn.function)).Environment.Variables.MARKETING_MAIL_DOMAIN).toBe('crm.local');
  });
});

describe('email tracking', () => {
  it("has the stack's own marketing configuration set publishing every sending event to the default bus", () => {
    const [[setId, set]] = ofType('AWS::SES::ConfigurationSet') as [[string, CfnResource]];
    // Named after the stack: configuration set names are unique per account and region.
    expect(set.Properties?.Name).toBe(`${stack.stackName}-marketing`);
    expect(marketingConfigurationSetName(stack.stackName)).toBe(`${stack.stackName}-marketing`);
    expect(() => marketingConfigurationSetName('S'.repeat(60))).toThrow(/too long/);
    const destinations = ofType('AWS::SES::ConfigurationSetEventDestination');
    expect(destinations).toHaveLength(1);
    const destination = props(destinations[0]![0]);
    expect(destination.ConfigurationSetName).toEqual({ Ref: setId });
    expect(destination.EventDestination.Enabled).toBe(true);
    expect(destination.EventDestination.MatchingEventTypes.sort()).toEqual(
      [
        // CloudFormation's names (SES v2's SEND, RENDERING_FAILURE...).
        'send',
        'delivery',
        'bounce',
        'complaint',
        'open',
        'click',
        'reject',
        'renderingFailure',
        'deliveryDelay',
      ].sort(),
    );
    // SES publishes to the default bus only.
    expect(JSON.stringify(destination.EventDestination.EventBridgeDestination.EventBusArn)).toContain(
      'event-bus/default',
    );
  });

  it('routes aws.ses sending events on the default bus to the consumer, failures to its alarmed queue', () => {
    const rule = props(logicalId(stack.emailTracking.rule));
    expect(rule.EventBusName).toBe('default');
    expect(rule.EventPattern.source).toEqual(['aws.ses']);
    // Not `Email Sent`: the sender records its sends (TRACKED_DETAIL_TYPES).
    expect(rule.EventPattern['detail-type'].sort()).toEqual(
      [
        'Email Delivered',
        'Email Bounced',
        'Email Complaint Received',
        'Email Opened',
        'Email Clicked',
        'Email Rejected',
        'Email Rendering Failed',
        'Email Delivery Delayed',
      ].sort(),
    );
    expect(rule.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [logicalId(stack.emailTracking.consumer.function), 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(stack.emailTracking.failures.queue), 'Arn'] } },
      }),
    ]);
  });

  it('lets the consumer touch only ledgers and stats, suppressions, timeline links and engagement, no query or delete', () => {
    const table = { 'Fn::GetAtt': [logicalId(stack.data.table), 'Arn'] };
    const dynamo = statementsOf(stack.emailTracking.consumer).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('dynamodb:')),
    );
    const leading = (patterns: string[]) => ({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': patterns } });
    // The patterns as the entities derive them, e.g. ${$}crm#tenantId_*#campaignId_* for ledgers and stats.
    expect(entityKeyPattern('campaignStats')).toBe(entityKeyPattern('campaignRecipient'));
    expect(entityKeyPattern('campaignRecipient')).toBe('$crm#tenantId_*#campaignId_*');
    expect(dynamo).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Resource: table,
        Condition: leading([entityKeyPattern('campaignRecipient', true)]),
      },
      {
        Effect: 'Allow',
        Action: 'dynamodb:PutItem',
        Resource: table,
        Condition: leading([entityKeyPattern('suppression', true), entityKeyPattern('timelineLink', true)]),
      },
      {
        Effect: 'Allow',
        Action: 'dynamodb:UpdateItem',
        Resource: table,
        Condition: leading([entityKeyPattern('contactEngagement', true)]),
      },
    ]);
    expect(
      statementsOf(stack.emailTracking.consumer)
        .flatMap(actionsOf)
        .filter((a) => !a.startsWith('dynamodb:')),
    ).not.toContain('events:PutEvents');
  });
});

describe('campaigns', () => {
  const definitionOf = (machine: Props) => {
    const parts = machine.DefinitionString['Fn::Join'][1] as unknown[];
    const text = parts.map((p) => (typeof p === 'string' ? p : '<ref>')).join('');
    return JSON.parse(text) as { StartAt: string; States: Record<string, Props> };
  };

  it('is Start → SendBatch (looped while not done) → Finish, with retries, every task caught into Fail', () => {
    const machine = props(logicalId(stack.campaigns.stateMachine));
    expect(machine.StateMachineType).toBe('STANDARD');
    const definition = definitionOf(machine);
    expect(definition.StartAt).toBe('Start');
    // The execution's name goes to Start (who owns the run); everything else carries ids only.
    expect(definition.States.Start!.Parameters).toEqual({
      step: 'start',
      state: {
        'tenantId.$': '$.tenantId',
        'campaignId.$': '$.campaignId',
        'run.$': '$.run',
        'execution.$': '$$.Execution.Name',
      },
    });
    expect(definition.States.SendBatch!.Parameters).toEqual({ step: 'sendBatch', 'state.$': '$' });
    for (const name of ['Start', 'SendBatch', 'Finish']) {
      const state = definition.States[name]!;
      expect(state.Retry[0].ErrorEquals).toEqual(expect.arrayContaining(['CampaignSendInterrupted']));
      expect(state.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Fail' }]);
    }
    expect(definition.States['Done?']!.Choices).toEqual([
      { Variable: '$.done', BooleanEquals: false, Next: 'SendBatch' },
      { Variable: '$.outcome', StringEquals: 'finished', Next: 'Finish' },
    ]);
    expect(definition.States.Fail!.Next).toBe('Send failed');
    expect(definition.States.Fail!.Parameters).toMatchObject({
      step: 'fail',
      state: { 'execution.$': '$$.Execution.Name' },
    });
  });

  it('keeps one schedule per campaign in its own group, started through a role that may only start the send', () => {
    const rule = props(logicalId(stack.campaigns.rule));
    expect(rule.EventPattern).toEqual({
      source: ['crm.campaigns'],
      'detail-type': ['campaign.created', 'campaign.updated', 'campaign.deleted'],
    });
    const env = props(logicalId(stack.campaigns.schedules.function)).Environment.Variables;
    expect(env.CAMPAIGN_STATE_MACHINE_ARN).toEqual({ Ref: logicalId(stack.campaigns.stateMachine) });
    const roleId = logicalId(stack.campaigns.schedulerRole);
    const statements = ofType('AWS::IAM::Policy')
      .filter(([id]) => (props(id).Roles as Array<{ Ref: string }>).some((r) => r.Ref === roleId))
      .flatMap(([id]) => props(id).PolicyDocument.Statement as Statement[]);
    expect(statements).toEqual([
      { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: logicalId(stack.campaigns.stateMachine) } },
    ]);
    const consumerActions = statementsOf(stack.campaigns.schedules).flatMap(actionsOf);
    expect(consumerActions).toEqual(
      expect.arrayContaining(['dynamodb:GetItem', 'scheduler:CreateSchedule', 'iam:PassRole']),
    );
    expect(consumerActions.filter((a) => a.startsWith('dynamodb:'))).toEqual(['dynamodb:GetItem']);
  });

  it('lets the sender send only from the mail domain through the marketing configuration set, at the SES rate', () => {
    const sends = statementsOf(stack.campaigns.steps).filter((s) => actionsOf(s).some((a) => a.startsWith('ses:')));
    expect(sends).toHaveLength(1);
    expect(sends[0]).toMatchObject({
      Action: 'ses:SendEmail',
      Condition: { StringLike: { 'ses:FromAddress': '*@crm.local' } },
    });
    expect(JSON.stringify(sends[0]!.Resource)).toContain(':identity/crm.local');
    expect(JSON.stringify(sends[0]!.Resource)).toContain(`:configuration-set/${stack.stackName}-marketing"`);
    const env = props(logicalId(stack.campaigns.steps.function)).Environment.Variables;
    expect(env).toMatchObject({
      SES_MAX_SEND_RATE: '14',
      MARKETING_MAIL_DOMAIN: 'crm.local',
      MARKETING_CONFIGURATION_SET: `${stack.stackName}-marketing`,
    });
    const dynamo = statementsOf(stack.campaigns.steps).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('dynamodb:')),
    );
    expect(dynamo.flatMap(actionsOf).sort()).toEqual(
      [
        'dynamodb:BatchGetItem',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ].sort(),
    );
    const alarm = props(logicalId(stack.campaigns.failedAlarm));
    expect(alarm).toMatchObject({ ComparisonOperator: 'GreaterThanThreshold', Threshold: 0 });
  });
});

describe('scheduler', () => {
  it('gives every schedule group one execution role, trusted only from this account and that group', () => {
    const groups = ofType('AWS::Scheduler::ScheduleGroup');
    expect(groups.map(([, g]) => (g.Properties as Props).Name).sort()).toEqual(
      ['campaigns', 'lead-scoring', 'segment-sweeps', 'task-reminders', 'ticket-sla'].map(
        (purpose) => `${stack.stackName}-${purpose}`,
      ),
    );
    const schedulerRoles = ofType('AWS::IAM::Role').filter(([id]) =>
      JSON.stringify(props(id).AssumeRolePolicyDocument).includes('scheduler.amazonaws.com'),
    );
    expect(schedulerRoles).toHaveLength(groups.length);
    const trusted = new Set<string>();
    for (const [id] of schedulerRoles) {
      const statements = props(id).AssumeRolePolicyDocument.Statement as Statement[];
      expect(statements, id).toHaveLength(1);
      const [statement] = statements as [Statement & { Principal: unknown }];
      expect(statement.Principal, id).toEqual({ Service: 'scheduler.amazonaws.com' });
      const condition = statement.Condition as Props;
      expect(condition.StringEquals, id).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
      const [schedules, group] = condition.ArnLike['aws:SourceArn'] as [Props, Props];
      const groupId = group['Fn::GetAtt'][0] as string;
      expect(group, id).toEqual({ 'Fn::GetAtt': [groupId, 'Arn'] });
      expect(resources[groupId]!.Type, id).toBe('AWS::Scheduler::ScheduleGroup');
      // The schedules of that group only: arn:<partition>:scheduler:<region>:<account>:schedule/<group name>/*.
      const name = (props(groupId).Name as string).replace(/^.*$/, (n) => n);
      const parts = JSON.stringify(schedules['Fn::Join'][1]);
      expect(parts, id).toContain(':scheduler:');
      expect(
        parts.includes(`:schedule/${name}/*`) || parts.includes(`":schedule/",{"Ref":"${groupId}"},"/*"`),
        `${id}: ${parts}`,
      ).toBe(true);
      trusted.add(groupId);
    }
    expect(trusted.size).toBe(groups.length);
  });
});
