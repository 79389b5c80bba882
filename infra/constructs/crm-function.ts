import { join } from 'node:path';
import { type CfnResource, type Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import { type IRole, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { type ICommandHooks, LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { type ILogGroup, LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnScheduleGroup, ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';

/** The repository root: entries are given relative to it, and esbuild resolves packages from it. */
export const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

export interface CrmFunctionProps {
  /** Handler module, relative to the project root, e.g. 'functions/http/contacts.ts'. */
  entry: string;
  /** POWERTOOLS_SERVICE_NAME: how logs, traces and metrics name this function. */
  serviceName: string;
  memorySize: number;
  timeout: Duration;
  /** The function's own configuration (what its readConfig schema asks for). */
  environment?: Record<string, string>;
  description?: string;
  /** Shell commands run after esbuild, e.g. to copy static files next to index.mjs (see NodejsFunction hooks). */
  afterBundling?: (inputDir: string, outputDir: string) => string[];
}

/**
 * The one log group every CRM function writes to, made on first use at the stack's root. One group instead of one per
 * function saves a resource per function (CloudFormation allows 500 per stack); Lambda names each stream in a shared
 * group `YYYY/MM/DD/<function name>[$LATEST]<environment id>`, so a function's logs are still found by stream prefix
 * (and each JSON line carries Powertools' `function_name` and `service`).
 */
export function functionLogGroup(scope: Construct): LogGroup {
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild(FUNCTION_LOGS_ID);
  if (existing instanceof LogGroup) return existing;
  return new LogGroup(stack, FUNCTION_LOGS_ID, { retention: RetentionDays.ONE_MONTH });
}
const FUNCTION_LOGS_ID = 'FunctionLogs';

/**
 * One Lambda function as every CRM function is built: Node 24 on arm64, ESM bundle with source maps, logging to the
 * stack's shared function log group, and its own role. The role starts with writing to that log group (an inline
 * policy instead of AWSLambdaBasicExecutionRole, which would allow every log group); callers grant the rest, least
 * privilege.
 */
export class CrmFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  /** The shared group (functionLogGroup): each function's streams are prefixed `YYYY/MM/DD/<function name>`. */
  readonly logGroup: ILogGroup;

  constructor(scope: Construct, id: string, props: CrmFunctionProps) {
    super(scope, id);
    this.logGroup = functionLogGroup(this);
    this.role = new Role(this, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: join(PROJECT_ROOT, props.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      // Tracing off, on purpose: Powertools Tracer (the X-Ray SDK) installs async hooks that cost about 12% of a
      // request's CPU in the bench's profile, and 125 KiB per bundle; active tracing without it would only show
      // Lambda's own segments. Logs (request id, tenant, operation) and EMF metrics are the instruments.
      tracing: Tracing.DISABLED,
      role: this.role,
      logGroup: this.logGroup,
      ...(props.description ? { description: props.description } : {}),
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: 'CRM',
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        minify: true,
        sourceMap: true,
        target: 'node24',
        // Prefer ESM builds of dependencies: smaller bundles, better tree shaking.
        mainFields: ['module', 'main'],
        // CommonJS dependencies bundled into ESM still call require(); give them one.
        banner: "import { createRequire } from 'node:module';const require = createRequire(import.meta.url);",
        // The Lambda Node.js runtime ships AWS SDK v3.
        externalModules: ['@aws-sdk/*'],
        // Synthesis stays quiet unless esbuild fails.
        logLevel: LogLevel.ERROR,
        ...(props.afterBundling ? { commandHooks: afterBundlingOnly(props.afterBundling) } : {}),
      },
    });

    // A stream source adds dynamodb:ListStreams on '*'.
    this.acknowledgeWildcardResource(
      '*',
      'Only dynamodb:ListStreams (stream consumers), which supports no resource-level permissions; infra tests ' +
        "assert no other action is granted on '*'.",
    );
  }

  /**
   * Acknowledges one cdk-nag IAM5 finding (a wildcard in a resource ARN) on this function's policy only, e.g.
   * `${nagArnOf(cfnTable)}/index/*`. Each wildcard resource needs its own acknowledgement and reason.
   */
  acknowledgeWildcardResource(resource: string, reason: string): void {
    Validations.of(this.role.node.findChild('DefaultPolicy')).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${resource}]`,
      reason,
    });
  }

  /**
   * Lets the function keep one-time schedules (`actions` on `schedules`, a group's schedules) and hand them only
   * `schedulerRole`, the role Scheduler assumes to run them.
   */
  grantSchedules(schedules: string, schedulerRole: IRole, actions: string[]): void {
    this.role.addToPrincipalPolicy(new PolicyStatement({ actions, resources: [schedules] }));
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [schedulerRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    );
  }
}

/** A Scheduler schedule group and the role Scheduler assumes to run its schedules (see scheduleGroupWithRole). */
export interface ScheduleGroupWithRole {
  /** The group's CloudFormation resource (for its logical id). */
  group: CfnScheduleGroup;
  /** `<stack name>-<purpose>`: the GroupName the keeping function gives its schedules. */
  groupName: string;
  groupArn: string;
  /** Every schedule of the group: what the keeping function may manage (CrmFunction.grantSchedules). */
  schedulesArn: string;
  /** Trusted by scheduler.amazonaws.com only for this account and this group; callers grant what it may start. */
  role: Role;
}

export interface ScheduleGroupWithRoleProps {
  /** The schedules' use: the group is named `<stack name>-<purpose>`, e.g. 'campaigns'. */
  purpose: string;
  roleDescription: string;
  /** The group's construct id under `scope` (default 'Group'); kept per construct so logical ids do not change. */
  groupId?: string;
  /** Make the group as a bare CfnScheduleGroup (as leads always has) instead of the L2, for the same reason. */
  l1?: boolean;
}

/**
 * The Scheduler setup every one-time-schedule feature shares: a schedule group named after the stack, and the role
 * Scheduler assumes to run its schedules. The role trusts scheduler.amazonaws.com only from this account and with
 * this group's schedules (or the group) as the source, so no other schedule can borrow it (confused deputy).
 * The role is named `SchedulerRole` under `scope`.
 */
export function scheduleGroupWithRole(scope: Construct, props: ScheduleGroupWithRoleProps): ScheduleGroupWithRole {
  const stack = Stack.of(scope);
  const id = props.groupId ?? 'Group';
  const name = `${stack.stackName}-${props.purpose}`;
  let group: CfnScheduleGroup;
  let groupName: string;
  let groupArn: string;
  if (props.l1) {
    group = new CfnScheduleGroup(scope, id, { name });
    groupName = group.ref;
    groupArn = group.attrArn;
  } else {
    const l2 = new ScheduleGroup(scope, id, { scheduleGroupName: name });
    group = l2.node.defaultChild as CfnScheduleGroup;
    groupName = l2.scheduleGroupName;
    groupArn = l2.scheduleGroupArn;
  }
  const schedulesArn = stack.formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `${groupName}/*` });
  const role = new Role(scope, 'SchedulerRole', {
    description: props.roleDescription,
    // Scheduler may give the schedule or its group as the source: allow either, for this group only.
    assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': [schedulesArn, groupArn] },
      },
    }),
  });
  return { group, groupName, groupArn, schedulesArn, role };
}

function afterBundlingOnly(afterBundling: ICommandHooks['afterBundling']): ICommandHooks {
  return { beforeBundling: () => [], beforeInstall: () => [], afterBundling };
}

/**
 * An ARN in the stack's partition, region and account as cdk-nag prints it in finding ids: pseudo parameters as
 * `<AWS::...>` unless the stack's environment made them literal. `rest` is what follows the account, e.g.
 * `schedule/<group>/*`.
 */
export function nagStackArn(stack: Stack, service: string, rest: string): string {
  const shown = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
  const partition = Token.isUnresolved(stack.region) ? '<AWS::Partition>' : stack.partition;
  return `arn:${shown(partition, 'Partition')}:${service}:${shown(stack.region, 'Region')}:${shown(stack.account, 'AccountId')}:${rest}`;
}

/** How cdk-nag prints a resource's `Fn::GetAtt Arn` in finding ids: `<LogicalId.Arn>`. */
export function nagArnOf(resource: CfnResource): string {
  return `<${Stack.of(resource).getLogicalId(resource)}.Arn>`;
}
