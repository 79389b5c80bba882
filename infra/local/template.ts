import type { CfnResource, CfnTemplate } from './types.ts';

/** The pretend account and region every local ARN is built with. */
export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_REGION = 'us-east-1';

const NO_VALUE = Symbol('AWS::NoValue');

/**
 * Resolves CloudFormation intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::If,
 * Fn::FindInMap) against local physical names, so the local cloud can read the synthesized template as AWS would.
 */
export class TemplateResolver {
  readonly region: string;
  readonly account: string;

  constructor(
    readonly template: CfnTemplate & { Mappings?: Record<string, Record<string, Record<string, unknown>>> },
    options: { region?: string; account?: string; parameters?: Record<string, string> } = {},
  ) {
    this.region = options.region ?? LOCAL_REGION;
    this.account = options.account ?? LOCAL_ACCOUNT;
    this.parameters = options.parameters ?? {};
  }

  private readonly parameters: Record<string, string>;
  /** Where each HTTP API listens locally: what `Fn::GetAtt [api, ApiEndpoint]` resolves to (see setApiEndpoint). */
  private readonly apiEndpoints = new Map<string, string>();

  /** Records an HTTP API's local URL, before anything that refers to its endpoint (a function's env) is resolved. */
  setApiEndpoint(logicalId: string, url: string): void {
    this.apiEndpoints.set(logicalId, url);
  }

  resource(logicalId: string): CfnResource {
    const resource = this.template.Resources[logicalId];
    if (!resource) throw new Error(`template has no resource ${logicalId}`);
    return resource;
  }

  /** Logical ids of every resource of a CloudFormation type, e.g. 'AWS::Lambda::Function'. */
  resourcesOfType(type: string): Array<[string, CfnResource]> {
    return Object.entries(this.template.Resources).filter(([, r]) => r.Type === type);
  }

  /** The resource's properties with every intrinsic resolved. */
  properties(logicalId: string): Record<string, unknown> {
    return (this.resolve(this.resource(logicalId).Properties ?? {}) as Record<string, unknown>) ?? {};
  }

  /** Physical name that `Ref` returns for a resource (its name, id or URL, per type). */
  ref(logicalId: string): string {
    if (logicalId === 'AWS::Region') return this.region;
    if (logicalId === 'AWS::AccountId') return this.account;
    if (logicalId === 'AWS::Partition') return 'aws';
    if (logicalId === 'AWS::URLSuffix') return 'amazonaws.com';
    if (logicalId === 'AWS::StackName') return 'local';
    if (logicalId === 'AWS::StackId') return `arn:aws:cloudformation:${this.region}:${this.account}:stack/local/local`;
    const parameter = this.template.Parameters?.[logicalId];
    if (parameter) return String(this.parameters[logicalId] ?? parameter.Default ?? '');
    const resource = this.resource(logicalId);
    const props = (resource.Properties ?? {}) as Record<string, unknown>;
    const named = (key: string): string => {
      const value = props[key] === undefined ? undefined : this.resolve(props[key]);
      return typeof value === 'string' && value ? value : logicalId;
    };
    switch (resource.Type) {
      case 'AWS::Lambda::Function':
        return named('FunctionName');
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable':
        return named('TableName');
      case 'AWS::Events::EventBus':
        return named('Name');
      case 'AWS::S3::Bucket':
        return named('BucketName').toLowerCase();
      case 'AWS::SQS::Queue':
        return `http://127.0.0.1/${this.account}/${named('QueueName')}`;
      case 'AWS::StepFunctions::StateMachine':
        return this.arn('states', `stateMachine:${named('StateMachineName')}`);
      case 'AWS::SNS::Topic':
        return this.arn('sns', named('TopicName'));
      case 'AWS::IAM::Role':
        return named('RoleName');
      case 'AWS::Logs::LogGroup':
        return named('LogGroupName');
      case 'AWS::Scheduler::ScheduleGroup':
        return named('Name');
      case 'AWS::SES::ConfigurationSet':
        return named('Name');
      default:
        return logicalId;
    }
  }

  /** What `Fn::GetAtt [logicalId, attribute]` returns. */
  getAtt(logicalId: string, attribute: string): string {
    const resource = this.resource(logicalId);
    const name = this.ref(logicalId);
    switch (`${resource.Type}.${attribute}`) {
      case 'AWS::Lambda::Function.Arn':
        return this.arn('lambda', `function:${name}`);
      case 'AWS::DynamoDB::Table.Arn':
        return this.arn('dynamodb', `table/${name}`);
      case 'AWS::DynamoDB::Table.StreamArn':
        return this.arn('dynamodb', `table/${name}/stream/local`);
      case 'AWS::Events::EventBus.Arn':
        return this.arn('events', `event-bus/${name}`);
      case 'AWS::Events::EventBus.Name':
        return name;
      case 'AWS::Events::Rule.Arn':
        return this.arn('events', `rule/${name}`);
      case 'AWS::Events::Archive.Arn':
        return this.arn('events', `archive/${name}`);
      case 'AWS::SQS::Queue.Arn':
        return this.arn('sqs', name.split('/').pop() ?? logicalId);
      case 'AWS::SQS::Queue.QueueName':
        return name.split('/').pop() ?? logicalId;
      case 'AWS::S3::Bucket.Arn':
        return `arn:aws:s3:::${name}`;
      case 'AWS::StepFunctions::StateMachine.Arn':
        return name;
      case 'AWS::StepFunctions::StateMachine.Name':
        return name.split(':').pop() ?? logicalId;
      case 'AWS::IAM::Role.Arn':
        return `arn:aws:iam::${this.account}:role/${name}`;
      case 'AWS::Logs::LogGroup.Arn':
        return this.arn('logs', `log-group:${name}:*`);
      case 'AWS::SNS::Topic.TopicArn':
        return name;
      case 'AWS::Scheduler::ScheduleGroup.Arn':
        return this.arn('scheduler', `schedule-group/${name}`);
      case 'AWS::Cognito::UserPool.Arn':
        return this.arn('cognito-idp', `userpool/${name}`);
      case 'AWS::ApiGatewayV2::Api.ApiEndpoint':
        return this.apiEndpoints.get(logicalId) ?? `https://${name}.execute-api.${this.region}.amazonaws.com`;
      default:
        return this.arn('local', `${logicalId}/${attribute}`);
    }
  }

  arn(service: string, resource: string): string {
    const account = service === 's3' ? '' : this.account;
    return `arn:aws:${service}:${this.region}:${account}:${resource}`;
  }

  /** Resolves every intrinsic inside a value; `AWS::NoValue` removes the key it stands in. */
  resolve(value: unknown): unknown {
    const result = this.resolveInner(value);
    return result === NO_VALUE ? undefined : result;
  }

  private resolveInner(value: unknown): unknown {
    if (Array.isArray(value)) {
      return value.map((v) => this.resolveInner(v)).filter((v) => v !== NO_VALUE);
    }
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [key, arg] = entries[0] as [string, unknown];
      const intrinsic = this.intrinsic(key, arg);
      if (intrinsic.matched) return intrinsic.value;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) {
      const resolved = this.resolveInner(v);
      if (resolved !== NO_VALUE) out[k] = resolved;
    }
    return out;
  }

  private intrinsic(key: string, arg: unknown): { matched: boolean; value?: unknown } {
    switch (key) {
      case 'Ref':
        if (arg === 'AWS::NoValue') return { matched: true, value: NO_VALUE };
        return { matched: true, value: this.ref(String(arg)) };
      case 'Fn::GetAtt': {
        const [id, attr] = Array.isArray(arg) ? arg : String(arg).split('.');
        return { matched: true, value: this.getAtt(String(id), String(attr)) };
      }
      case 'Fn::Join': {
        const [sep, parts] = arg as [string, unknown[]];
        const resolved = this.resolveInner(parts) as unknown[];
        return { matched: true, value: resolved.map((p) => String(p)).join(sep) };
      }
      case 'Fn::Select': {
        const [index, list] = arg as [unknown, unknown];
        const resolved = this.resolveInner(list) as unknown[];
        return { matched: true, value: resolved[Number(this.resolveInner(index))] };
      }
      case 'Fn::Split': {
        const [sep, source] = arg as [string, unknown];
        return { matched: true, value: String(this.resolveInner(source)).split(sep) };
      }
      case 'Fn::Sub':
        return { matched: true, value: this.sub(arg) };
      case 'Fn::If': {
        const [condition, whenTrue, whenFalse] = arg as [string, unknown, unknown];
        return { matched: true, value: this.resolveInner(this.condition(condition) ? whenTrue : whenFalse) };
      }
      case 'Fn::FindInMap': {
        const [map, top, second] = this.resolveInner(arg) as [string, string, string];
        return { matched: true, value: this.template.Mappings?.[map]?.[top]?.[second] };
      }
      case 'Fn::GetAZs':
        return { matched: true, value: [`${this.region}a`, `${this.region}b`, `${this.region}c`] };
      case 'Fn::Base64':
        return { matched: true, value: Buffer.from(String(this.resolveInner(arg))).toString('base64') };
      default:
        return { matched: false };
    }
  }

  private sub(arg: unknown): string {
    const [text, variables] = Array.isArray(arg) ? (arg as [string, Record<string, unknown>]) : [String(arg), {}];
    return text.replace(/\$\{([^}!][^}]*)\}/g, (_match, name: string) => {
      if (variables && name in variables) return String(this.resolveInner(variables[name]));
      if (name.includes('.') && !name.startsWith('AWS::')) {
        const [id, attr] = name.split('.', 2) as [string, string];
        return this.getAtt(id, attr);
      }
      return this.ref(name);
    });
  }

  /** Evaluates a template condition (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition). */
  condition(name: string): boolean {
    return this.evaluate(this.template.Conditions?.[name]);
  }

  private evaluate(expr: unknown): boolean {
    if (typeof expr === 'boolean') return expr;
    const [key, arg] = Object.entries((expr ?? {}) as Record<string, unknown>)[0] ?? [];
    switch (key) {
      case 'Fn::Equals': {
        const [a, b] = this.resolveInner(arg) as [unknown, unknown];
        return String(a) === String(b);
      }
      case 'Fn::Not':
        return !this.evaluate((arg as unknown[])[0]);
      case 'Fn::And':
        return (arg as unknown[]).every((e) => this.evaluate(e));
      case 'Fn::Or':
        return (arg as unknown[]).some((e) => this.evaluate(e));
      case 'Condition':
        return this.condition(String(arg));
      default:
        throw new Error(`unsupported condition ${JSON.stringify(expr)}`);
    }
  }
}
