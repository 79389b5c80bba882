import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import * as z from 'zod';
import { CrmEdgeStack } from './constructs/edge.ts';
import { CrmStack } from './crm-stack.ts';

/** The stack's construct id, which is also its CloudFormation stack name. */
export const STACK_ID = 'CrmStack';
/** The us-east-1 stack of the web ACL, with `-c edgeProtection=true`. */
export const EDGE_STACK_ID = 'CrmEdge';

/** `-c flag=true` arrives as a string, cdk.json may hold a boolean: accept both, nothing else. */
const flag = z.preprocess(
  (value) => (value === 'true' ? true : value === 'false' ? false : value),
  z.boolean({ error: 'must be true or false' }),
);

/** `-c key=a,b` arrives as a string, cdk.json may hold an array: accept both. */
const list = <T extends z.ZodType<string>>(item: T) =>
  z.preprocess(
    (value) =>
      typeof value === 'string'
        ? value
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : value,
    z.array(item).min(1),
  );

const origin = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
  } catch {
    return false;
  }
}, 'must be an origin like https://app.example.com (scheme, host and optional port; no path or trailing slash)');

/** An SES recipient condition: an address, a domain, or `.domain` for every subdomain. */
const recipient = z
  .string()
  .regex(/^([^\s@,]+@)?\.?[a-z0-9-]+(\.[a-z0-9-]+)+$/i, 'must be an email address, a domain or .domain');

/** The app's context parameters (`cdk synth -c name=value`, or cdk.json's context). */
export const crmContextSchema = z.object({
  allowedOrigins: list(origin).default(['http://localhost:3000']),
  senderEmail: z.email().optional(),
  inboundRecipients: list(recipient).optional(),
  throttleRateLimit: z.coerce.number().int().positive().max(10_000).default(100),
  throttleBurstLimit: z.coerce.number().int().positive().max(5_000).default(200),
  /** CloudFront + AWS WAF in front of the API (a second stack in us-east-1). */
  edgeProtection: flag.default(false),
  /** WAF rate-based rule: requests per source address per 5 minutes (WAF accepts 10 to 2e9). */
  edgeRateLimit: z.coerce.number().int().min(10).max(2_000_000_000).default(1000),
  /** Requests per second per tenant (a 10-second window: 500 requests by default), beside the stage throttle. */
  tenantRateLimit: z.coerce.number().positive().max(100_000).default(50),
  /** The domain of ticket replies' Message-IDs (`<message.ticket.tenant@mailDomain>`); crm.local by default. */
  mailDomain: z
    .string()
    .regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i, 'must be a domain')
    .optional(),
  /** SES's sending rate for the account (messages per second): campaigns keep to it; 14 by default. */
  sesMaxSendRate: z.coerce.number().positive().max(100_000).default(14),
});
export type CrmContext = z.infer<typeof crmContextSchema>;

/** Reads and validates the context, failing fast with every problem named. */
export function readCrmContext(app: App): CrmContext {
  const raw = Object.fromEntries(
    Object.keys(crmContextSchema.shape).map((key) => [key, app.node.tryGetContext(key) ?? undefined]),
  );
  const parsed = crmContextSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(context)'}: ${i.message}`);
    throw new Error(`invalid CDK context (set with -c name=value):\n${problems.join('\n')}`);
  }
  return parsed.data;
}

/**
 * Adds the CRM stack and the cdk-nag AwsSolutions checks to an app: what `cdk synth` and synthesize() both build.
 * With edgeProtection, also the us-east-1 web ACL stack; both then need a concrete region (cross-region references),
 * which the CDK CLI provides from the AWS profile as CDK_DEFAULT_REGION.
 */
export function buildCrmApp(app: App, env: NodeJS.ProcessEnv = process.env): CrmStack {
  const context = readCrmContext(app);
  let edge: { webAclArn: string } | undefined;
  let placement = {};
  if (context.edgeProtection) {
    const region = env.CDK_DEFAULT_REGION;
    if (!region) {
      throw new Error(
        'edgeProtection needs the target region: run cdk with an AWS profile or region configured (CDK_DEFAULT_REGION).',
      );
    }
    const account = env.CDK_DEFAULT_ACCOUNT;
    const edgeStack = new CrmEdgeStack(app, EDGE_STACK_ID, {
      description: 'CRM API edge protection: AWS WAF web ACL (CLOUDFRONT scope) for the CloudFront distribution',
      env: { region: 'us-east-1', ...(account ? { account } : {}) },
      crossRegionReferences: true,
      rateLimit: context.edgeRateLimit,
    });
    edge = { webAclArn: edgeStack.webAcl.webAcl.attrArn };
    placement = { env: { region, ...(account ? { account } : {}) }, crossRegionReferences: true };
  }
  const stack = new CrmStack(app, STACK_ID, {
    ...placement,
    ...(edge ? { edge } : {}),
    description: 'Serverless CRM backend: HTTP API, DynamoDB single table, EventBridge events, SES inbound mail',
    allowedOrigins: context.allowedOrigins,
    throttle: { rateLimit: context.throttleRateLimit, burstLimit: context.throttleBurstLimit },
    tenantRateLimit: context.tenantRateLimit,
    ...(context.senderEmail ? { senderEmail: context.senderEmail } : {}),
    ...(context.inboundRecipients ? { inboundRecipients: context.inboundRecipients } : {}),
    ...(context.mailDomain ? { mailDomain: context.mailDomain } : {}),
    sesMaxSendRate: context.sesMaxSendRate,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}

/** CDK announces every bundled asset on stderr; synthesis stays silent (`cdk synth`, the local cloud, tests). */
export function withoutBundlingNotices<T>(run: () => T): T {
  const write = process.stderr.write;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) =>
    typeof chunk === 'string' && chunk.startsWith('Bundling asset ')
      ? true
      : Reflect.apply(write, process.stderr, [chunk, ...rest])) as typeof process.stderr.write;
  try {
    return run();
  } finally {
    process.stderr.write = write;
  }
}

/** True when this file is the process's entry point (`tsx infra/app.ts`, as cdk.json runs it), not an import. */
function isEntryPoint(): boolean {
  try {
    return (
      process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
    );
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  try {
    const app = new App();
    withoutBundlingNotices(() => {
      buildCrmApp(app);
      app.synth();
    });
  } catch (error) {
    // The message names the problem; a stack trace of the CDK app would only bury it.
    console.error((error as Error).message);
    process.exitCode = 1;
  }
}
