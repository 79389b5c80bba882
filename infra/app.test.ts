import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { CachePolicy, OriginRequestPolicy } from 'aws-cdk-lib/aws-cloudfront';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildCrmApp, EDGE_STACK_ID, readCrmContext, STACK_ID } from './app.ts';
import { MANAGED_RULE_GROUPS } from './constructs/edge.ts';
import type { CfnTemplate } from './local/types.ts';
import { createCrmApp, type SynthesizedStack, synthesize } from './synth.ts';

/** An App without an outdir makes a `cdk.out*` folder in the temp dir and never removes it: give it one, then remove it. */
const contextOf = (context: Record<string, unknown>) => {
  const outdir = mkdtempSync(join(tmpdir(), 'crm-context-'));
  try {
    return readCrmContext(new App({ context, outdir }));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
};

describe('context parameters', () => {
  it('default to a local origin and moderate throttling, with no mail addresses', () => {
    expect(contextOf({})).toEqual({
      allowedOrigins: ['http://localhost:3000'],
      throttleRateLimit: 100,
      throttleBurstLimit: 200,
      edgeProtection: false,
      edgeRateLimit: 1000,
      tenantRateLimit: 50,
      sesMaxSendRate: 14,
    });
  });

  it('accept comma lists and numbers as the CLI passes them (strings), or as cdk.json holds them', () => {
    const context = contextOf({
      allowedOrigins: 'https://app.example.com, http://localhost:5173',
      inboundRecipients: 'support@example.com,.mail.example.org',
      senderEmail: 'crm@example.com',
      throttleRateLimit: '20',
      throttleBurstLimit: 40,
      edgeProtection: 'true',
      edgeRateLimit: '500',
      tenantRateLimit: '2.5',
      sesMaxSendRate: '40',
    });
    expect(context).toEqual({
      allowedOrigins: ['https://app.example.com', 'http://localhost:5173'],
      inboundRecipients: ['support@example.com', '.mail.example.org'],
      senderEmail: 'crm@example.com',
      throttleRateLimit: 20,
      throttleBurstLimit: 40,
      edgeProtection: true,
      edgeRateLimit: 500,
      tenantRateLimit: 2.5,
      sesMaxSendRate: 40,
    });
    expect(contextOf({ edgeProtection: true }).edgeProtection).toBe(true);
    expect(contextOf({ edgeProtection: 'false' }).edgeProtection).toBe(false);
    expect(contextOf({ allowedOrigins: ['https://a.example.com'] }).allowedOrigins).toEqual(['https://a.example.com']);
  });

  it('fail fast naming every bad parameter', () => {
    const read = () =>
      contextOf({
        allowedOrigins: 'https://app.example.com/path',
        senderEmail: 'not-an-address',
        inboundRecipients: 'support@',
        throttleRateLimit: '-1',
        throttleBurstLimit: 'lots',
        edgeProtection: 'yes',
        edgeRateLimit: '5',
        tenantRateLimit: '0',
      });
    expect(read).toThrow(/invalid CDK context/);
    for (const name of [
      'allowedOrigins',
      'senderEmail',
      'inboundRecipients',
      'throttleRateLimit',
      'throttleBurstLimit',
      'edgeProtection',
      'edgeRateLimit',
      'tenantRateLimit',
    ]) {
      expect(read).toThrow(new RegExp(`${name}(\\.\\d+)?:`));
    }
  });
});

describe('synthesize() with the default context', () => {
  let outdir: string;
  let result: SynthesizedStack;
  let template: CfnTemplate;
  const noise: string[] = [];

  beforeAll(async () => {
    outdir = mkdtempSync(join(tmpdir(), 'crm-synth-test-'));
    const capture = (chunk: unknown) => {
      noise.push(String(chunk));
      return true;
    };
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    try {
      result = await synthesize({ outdir, bundle: false });
    } finally {
      stderr.mockRestore();
      stdout.mockRestore();
    }
    template = result.template;
  });

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  const ofType = (type: string) => Object.values(template.Resources).filter((r) => r.Type === type);

  it('is silent and names the stack and the assembly', () => {
    expect(noise).toEqual([]);
    expect(result.stackName).toBe(STACK_ID);
    expect(result.assemblyDir).toBe(outdir);
  });

  it('keeps asset metadata on every function, for the local cloud', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions) expect(fn.Metadata?.['aws:asset:path']).toBeTypeOf('string');
  });

  it('creates the receipt rule set but does not activate it without inbound recipients', () => {
    expect(ofType('AWS::SES::ReceiptRule')).toHaveLength(1);
    const rule = ofType('AWS::SES::ReceiptRule')[0]!.Properties as { Rule: Record<string, unknown> };
    expect(rule.Rule.Recipients).toBeUndefined();
    expect(ofType('Custom::AWS')).toEqual([]);
  });

  it('adds no sender identity or output without senderEmail', () => {
    expect(ofType('AWS::SES::EmailIdentity')).toEqual([]);
    expect(template.Outputs?.SenderEmail).toBeUndefined();
  });

  it('puts nothing in front of the API by default: no CloudFront, no WAF, no edge output', () => {
    const types = Object.values(template.Resources).map((r) => r.Type);
    expect(types.filter((t) => t.startsWith('AWS::CloudFront::') || t.startsWith('AWS::WAFv2::'))).toEqual([]);
    expect(template.Outputs?.EdgeApiUrl).toBeUndefined();
  });

  it('allows the local origin and throttles with the defaults', () => {
    const api = ofType('AWS::ApiGatewayV2::Api')[0]!.Properties as {
      Body: { 'x-amazon-apigateway-cors': { allowOrigins: string[] } };
    };
    expect(api.Body['x-amazon-apigateway-cors'].allowOrigins).toEqual(['http://localhost:3000']);
    const stage = ofType('AWS::ApiGatewayV2::Stage')[0]!.Properties as { DefaultRouteSettings: unknown };
    expect(stage.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
  });
});

describe('edge protection (-c edgeProtection=true)', () => {
  let outdir: string;
  let assembly: CloudAssembly;
  let edge: CfnTemplate;
  let main: CfnTemplate;
  let nagFindings: string[];
  const savedRegion = process.env.CDK_DEFAULT_REGION;

  beforeAll(() => {
    process.env.CDK_VALIDATION = 'false';
    process.env.CDK_DEFAULT_REGION = 'eu-west-1';
    outdir = mkdtempSync(join(tmpdir(), 'crm-edge-test-'));
    const built = createCrmApp({ outdir, bundle: false, context: { edgeProtection: 'true', edgeRateLimit: '300' } });
    // cdk-nag runs during synthesis: an unacknowledged finding would throw here.
    assembly = built.app.synth();
    edge = assembly.getStackByName(EDGE_STACK_ID).template as CfnTemplate;
    main = assembly.getStackByName(STACK_ID).template as CfnTemplate;
    nagFindings = new AwsSolutionsChecks()
      .validateScope(built.app)
      .violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath)}`);
  });

  afterAll(() => {
    if (savedRegion === undefined) delete process.env.CDK_DEFAULT_REGION;
    else process.env.CDK_DEFAULT_REGION = savedRegion;
    rmSync(outdir, { recursive: true, force: true });
  });

  // biome-ignore lint/suspicious/noExplicitAny: the assertions read template JSON freely.
  const only = (t: CfnTemplate, type: string): any => {
    const found = Object.values(t.Resources).filter((r) => r.Type === type);
    expect(found, type).toHaveLength(1);
    return found[0]!.Properties;
  };

  it('needs the target region, and says so', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'crm-edge-region-'));
    try {
      expect(() => buildCrmApp(new App({ context: { edgeProtection: 'true' }, outdir }), {})).toThrow(
        /CDK_DEFAULT_REGION/,
      );
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('is cdk-nag clean', () => {
    expect(nagFindings).toEqual([]);
  });

  it('puts the web ACL in its own us-east-1 stack, deployed before the CRM stack in the target region', () => {
    expect(assembly.getStackByName(EDGE_STACK_ID).environment.region).toBe('us-east-1');
    const crm = assembly.getStackByName(STACK_ID);
    expect(crm.environment.region).toBe('eu-west-1');
    expect(crm.dependencies.map((d) => d.id)).toContain(EDGE_STACK_ID);
  });

  it('rate-limits each source address with 429, then applies the AWS managed rule groups', () => {
    const acl = only(edge, 'AWS::WAFv2::WebACL');
    expect(acl.Scope).toBe('CLOUDFRONT');
    expect(acl.DefaultAction).toEqual({ Allow: {} });
    const [rate, ...managed] = acl.Rules;
    expect(rate).toMatchObject({
      Name: 'RateLimitPerSourceIp',
      Priority: 0,
      Statement: { RateBasedStatement: { Limit: 300, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } },
      Action: { Block: { CustomResponse: { ResponseCode: 429, CustomResponseBodyKey: 'rate-limited' } } },
    });
    expect(JSON.parse(acl.CustomResponseBodies['rate-limited'].Content)).toMatchObject({
      status: 429,
      code: 'edge.rate_limited',
    });
    expect(
      managed.map(
        (r: { Statement: { ManagedRuleGroupStatement: { Name: string } } }) =>
          r.Statement.ManagedRuleGroupStatement.Name,
      ),
    ).toEqual([...MANAGED_RULE_GROUPS]);
    for (const rule of managed) expect(rule.OverrideAction, rule.Name).toEqual({ None: {} });
    const common = managed.find((r: { Name: string }) => r.Name === 'AWSManagedRulesCommonRuleSet');
    // The API's own 64 KB body limit applies; the rule set's 8 KB body rule only counts.
    expect(common.Statement.ManagedRuleGroupStatement.RuleActionOverrides).toEqual([
      { Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } },
    ]);
  });

  it('logs every request to an aws-waf-logs-* group, with the Authorization header redacted', () => {
    const logging = only(edge, 'AWS::WAFv2::LoggingConfiguration');
    expect(logging.RedactedFields).toEqual([{ SingleHeader: { Name: 'authorization' } }]);
    expect(only(edge, 'AWS::Logs::LogGroup').LogGroupName).toBe(`aws-waf-logs-${EDGE_STACK_ID}`);
  });

  it('serves the API through CloudFront with that web ACL: HTTPS only, no caching, every header but Host', () => {
    const config = only(main, 'AWS::CloudFront::Distribution').DistributionConfig;
    expect(config.WebACLId).toEqual({
      'Fn::GetStackOutput': expect.objectContaining({ StackName: EDGE_STACK_ID, Region: 'us-east-1' }),
    });
    expect(config.DefaultCacheBehavior).toMatchObject({
      ViewerProtocolPolicy: 'https-only',
      AllowedMethods: expect.arrayContaining(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']),
      CachePolicyId: CachePolicy.CACHING_DISABLED.cachePolicyId,
      OriginRequestPolicyId: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER.originRequestPolicyId,
    });
    const [origin] = config.Origins;
    expect(origin.CustomOriginConfig).toEqual({ OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'] });
    const apiId = Object.entries(main.Resources).find(([, r]) => r.Type === 'AWS::ApiGatewayV2::Api')![0];
    expect(origin.DomainName).toEqual({
      'Fn::Join': ['', [{ Ref: apiId }, '.execute-api.eu-west-1.', { Ref: 'AWS::URLSuffix' }]],
    });
    expect(main.Outputs?.EdgeApiUrl).toBeDefined();
  });

  it('changes nothing else in the CRM stack: the same resources as the default, plus the distribution', () => {
    const defaultOutdir = mkdtempSync(join(tmpdir(), 'crm-edge-default-'));
    try {
      const plain = createCrmApp({ outdir: defaultOutdir, bundle: false });
      const byType = (t: CfnTemplate) => {
        const counts: Record<string, number> = {};
        for (const r of Object.values(t.Resources)) counts[r.Type] = (counts[r.Type] ?? 0) + 1;
        return counts;
      };
      const plainTemplate = plain.app.synth().getStackByName(STACK_ID).template as CfnTemplate;
      expect(byType(main)).toEqual({ ...byType(plainTemplate), 'AWS::CloudFront::Distribution': 1 });
    } finally {
      rmSync(defaultOutdir, { recursive: true, force: true });
    }
  });
});
