import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isOwnHost, readRequestBody } from './aws-http.ts';
import type { TemplateResolver } from './template.ts';
import type { LocalService } from './types.ts';

/**
 * A local AWS STS for the tenant-scoped credentials of the API functions: AssumeRole (with session Tags and
 * TransitiveTagKeys) and GetCallerIdentity, over the Query protocol the SDK speaks (form-encoded POST, XML reply), on
 * 127.0.0.1. It refuses roles that are not in the template and, for a role whose trust policy asks for request tags
 * (`aws:RequestTag/<key>`), a call without them; it allows only the tag keys the trust policy lists. It returns
 * temporary credentials and records each session. It does not evaluate the role's permissions: DynamoDB Local ignores
 * credentials, so tenant isolation by IAM is proven offline by the policy simulator (infra/tenant-isolation.test.ts).
 */

export interface LocalStsOptions {
  /** Roles come from the template's AWS::IAM::Role resources. */
  resolver?: TemplateResolver;
  /** Extra (or, without a resolver, the only) assumable roles: ARN -> trust policy document. */
  roles?: Record<string, unknown>;
  port?: number;
  now?: () => Date;
  log?: (line: string) => void;
}

/** One AssumeRole the local STS granted. */
export interface StsSession {
  roleArn: string;
  roleSessionName: string;
  tags: Record<string, string>;
  transitiveTagKeys: string[];
  accessKeyId: string;
  expiration: Date;
  /** The access key that signed the AssumeRole call, when it was signed. */
  callerAccessKeyId?: string;
}

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const LOCAL_ACCOUNT = '000000000000';
/** Sessions kept for inspection (tests, the AWS CLI's view of what happened); older ones are forgotten. */
const MAX_RECORDED_SESSIONS = 1000;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

class StsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface TrustRequirements {
  /** Tag keys the trust policy conditions on (`aws:RequestTag/<key>`): a call must pass each. */
  requiredTags: string[];
  /** Tag keys allowed by a `ForAllValues:StringEquals` on `aws:TagKeys`, when the trust policy has one. */
  allowedTagKeys?: string[];
  /** Whether any trust statement allows sts:TagSession (needed to pass tags at all). */
  allowsTagSession: boolean;
}

type Statement = { Effect?: string; Action?: string | string[]; Condition?: Record<string, Record<string, unknown>> };

function trustRequirements(policy: unknown): TrustRequirements {
  const statements = ((policy as { Statement?: Statement[] } | undefined)?.Statement ?? []).filter(
    (s) => s.Effect === 'Allow',
  );
  const requiredTags = new Set<string>();
  let allowedTagKeys: string[] | undefined;
  let allowsTagSession = false;
  for (const statement of statements) {
    const actions = Array.isArray(statement.Action) ? statement.Action : [statement.Action];
    if (actions.includes('sts:TagSession')) allowsTagSession = true;
    for (const [operator, conditions] of Object.entries(statement.Condition ?? {})) {
      for (const [key, value] of Object.entries(conditions)) {
        const tag = /^aws:RequestTag\/(.+)$/.exec(key)?.[1];
        if (tag && !(operator === 'Null' && String(value) === 'true')) requiredTags.add(tag);
        if (key === 'aws:TagKeys' && operator.startsWith('ForAllValues:')) {
          allowedTagKeys = (Array.isArray(value) ? value : [value]).map(String);
        }
      }
    }
  }
  return { requiredTags: [...requiredTags], ...(allowedTagKeys ? { allowedTagKeys } : {}), allowsTagSession };
}

/** `Prefix.member.N` (and `Prefix.member.N.Field`) of a Query-protocol form, in order. */
function members(form: URLSearchParams, prefix: string): Array<Record<string, string>> {
  const byIndex = new Map<number, Record<string, string>>();
  for (const [name, value] of form) {
    const match = new RegExp(`^${prefix}\\.member\\.(\\d+)(?:\\.(\\w+))?$`).exec(name);
    if (!match) continue;
    const index = Number(match[1]);
    const entry = byIndex.get(index) ?? {};
    entry[match[2] ?? ''] = value;
    byIndex.set(index, entry);
  }
  return [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, entry]) => entry);
}

const xmlEscape = (text: string) =>
  text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

const randomKey = (prefix: string) =>
  `${prefix}${Array.from(randomBytes(16), (b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[b % 32]).join('')}`;

export class LocalSts implements LocalService {
  readonly name = 'sts';
  endpoint = '';
  /** Every session granted so far (the latest MAX_RECORDED_SESSIONS), oldest first. */
  readonly sessions: StsSession[] = [];
  private readonly roles = new Map<string, TrustRequirements>();
  private readonly server: Server;
  private readonly now: () => Date;

  private constructor(private readonly options: LocalStsOptions) {
    this.now = options.now ?? (() => new Date());
    const resolver = options.resolver;
    for (const [logicalId, role] of resolver?.resourcesOfType('AWS::IAM::Role') ?? []) {
      const trust = resolver!.resolve(role.Properties?.AssumeRolePolicyDocument);
      this.roles.set(resolver!.getAtt(logicalId, 'Arn'), trustRequirements(trust));
    }
    for (const [arn, trust] of Object.entries(options.roles ?? {})) this.roles.set(arn, trustRequirements(trust));
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(options: LocalStsOptions = {}): Promise<LocalSts> {
    const sts = new LocalSts(options);
    await new Promise<void>((resolve, reject) => {
      sts.server.once('error', reject);
      sts.server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    sts.endpoint = `http://127.0.0.1:${(sts.server.address() as AddressInfo).port}`;
    return sts;
  }

  /** The sessions granted for a role and tag, e.g. sessionsTagged('tenantId', 'acme'). */
  sessionsTagged(key: string, value: string): StsSession[] {
    return this.sessions.filter((s) => s.tags[key] === value);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    try {
      // Only this machine's clients by name: a web page that rebinds a DNS name to 127.0.0.1 gets nothing.
      if (!isOwnHost(req.headers.host, (this.server.address() as AddressInfo).port)) {
        throw new StsError(403, 'AccessDenied', 'Requests must address this endpoint as 127.0.0.1 or localhost.');
      }
      if (req.method !== 'POST' && req.method !== 'GET') throw new StsError(405, 'InvalidAction', 'Use POST.');
      const body = (await readRequestBody(req, 256 * 1024)) ?? '';
      const query = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams;
      const form = new URLSearchParams(req.method === 'POST' ? body : query.toString());
      const callerAccessKeyId = /Credential=([^/,\s]+)\//.exec(req.headers.authorization ?? '')?.[1];
      const action = form.get('Action');
      if (action === 'AssumeRole') {
        this.reply(res, 'AssumeRole', this.assumeRole(form, callerAccessKeyId), requestId);
      } else if (action === 'GetCallerIdentity') {
        const arn = `arn:aws:iam::${LOCAL_ACCOUNT}:user/local`;
        const result = `<Arn>${arn}</Arn><UserId>${xmlEscape(callerAccessKeyId ?? 'anonymous')}</UserId><Account>${LOCAL_ACCOUNT}</Account>`;
        this.reply(res, 'GetCallerIdentity', result, requestId);
      } else {
        throw new StsError(400, 'InvalidAction', `The local STS does not implement ${action ?? '(no Action)'}.`);
      }
    } catch (error) {
      const e = error instanceof StsError ? error : new StsError(500, 'InternalFailure', (error as Error).message);
      this.options.log?.(`sts: ${e.code}: ${e.message}`);
      const xml =
        `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${e.status < 500 ? 'Sender' : 'Receiver'}</Type>` +
        `<Code>${e.code}</Code><Message>${xmlEscape(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
      this.send(res, e.status, xml, requestId);
    }
  }

  private assumeRole(form: URLSearchParams, callerAccessKeyId: string | undefined): string {
    const roleArn = form.get('RoleArn') ?? '';
    const roleSessionName = form.get('RoleSessionName') ?? '';
    if (!SESSION_NAME.test(roleSessionName)) {
      throw new StsError(400, 'ValidationError', 'RoleSessionName must be 2 to 64 characters of [\\w+=,.@-].');
    }
    const duration = Number(form.get('DurationSeconds') ?? 3600);
    if (!Number.isInteger(duration) || duration < 900 || duration > 43_200) {
      throw new StsError(400, 'ValidationError', 'DurationSeconds must be an integer from 900 to 43200.');
    }
    const trust = this.roles.get(roleArn);
    if (!trust) {
      throw new StsError(
        403,
        'AccessDenied',
        `Not authorized to perform sts:AssumeRole on ${roleArn || '(no RoleArn)'}.`,
      );
    }
    const tagMembers = members(form, 'Tags');
    if (tagMembers.length > 50) throw new StsError(400, 'ValidationError', 'At most 50 session tags.');
    const tags: Record<string, string> = {};
    const seen = new Set<string>();
    for (const { Key: key, Value: value } of tagMembers) {
      if (key === undefined || !TAG_KEY.test(key) || value === undefined || !TAG_VALUE.test(value)) {
        throw new StsError(400, 'ValidationError', 'Each session tag needs a valid Key and Value.');
      }
      // Tag keys are case-insensitive in STS.
      if (seen.has(key.toLowerCase())) throw new StsError(400, 'InvalidParameterValue', `Duplicate tag key ${key}.`);
      seen.add(key.toLowerCase());
      tags[key] = value;
    }
    const transitiveTagKeys = members(form, 'TransitiveTagKeys').map((m) => m[''] ?? '');
    const unknownTransitive = transitiveTagKeys.filter((key) => !(key in tags));
    if (unknownTransitive.length > 0) {
      throw new StsError(
        400,
        'InvalidParameterValue',
        `Transitive tag keys must be session tags: ${unknownTransitive}.`,
      );
    }
    if (Object.keys(tags).length > 0 && !trust.allowsTagSession) {
      throw new StsError(403, 'AccessDenied', `Not authorized to perform sts:TagSession on ${roleArn}.`);
    }
    const missing = trust.requiredTags.filter((key) => !(key in tags) || tags[key] === '');
    const unexpected = trust.allowedTagKeys ? Object.keys(tags).filter((k) => !trust.allowedTagKeys!.includes(k)) : [];
    if (missing.length > 0 || unexpected.length > 0) {
      throw new StsError(
        403,
        'AccessDenied',
        `Not authorized to perform sts:AssumeRole on ${roleArn}: the trust policy requires session tags ` +
          `${trust.requiredTags.join(', ')}${trust.allowedTagKeys ? ` and allows only ${trust.allowedTagKeys.join(', ')}` : ''}.`,
      );
    }

    const expiration = new Date(this.now().getTime() + duration * 1000);
    const session: StsSession = {
      roleArn,
      roleSessionName,
      tags,
      transitiveTagKeys,
      accessKeyId: randomKey('ASIA'),
      expiration,
      ...(callerAccessKeyId ? { callerAccessKeyId } : {}),
    };
    this.sessions.push(session);
    if (this.sessions.length > MAX_RECORDED_SESSIONS) this.sessions.shift();
    this.options.log?.(`sts: ${roleSessionName} assumed ${roleArn} with tags ${JSON.stringify(tags)}`);

    const roleName = roleArn.split('/').pop()!;
    return (
      `<AssumedRoleUser><Arn>arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${xmlEscape(roleName)}/${roleSessionName}</Arn>` +
      `<AssumedRoleId>AROA${randomKey('').slice(0, 17)}:${roleSessionName}</AssumedRoleId></AssumedRoleUser>` +
      `<Credentials><AccessKeyId>${session.accessKeyId}</AccessKeyId>` +
      `<SecretAccessKey>${randomBytes(30).toString('base64')}</SecretAccessKey>` +
      `<SessionToken>${randomBytes(96).toString('base64')}</SessionToken>` +
      `<Expiration>${expiration.toISOString()}</Expiration></Credentials>` +
      `<PackedPolicySize>${Object.keys(tags).length}</PackedPolicySize>`
    );
  }

  private reply(res: ServerResponse, action: string, result: string, requestId: string): void {
    const xml =
      `<${action}Response xmlns="${XMLNS}"><${action}Result>${result}</${action}Result>` +
      `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
    this.send(res, 200, xml, requestId);
  }

  private send(res: ServerResponse, status: number, xml: string, requestId: string): void {
    res.writeHead(status, {
      'content-type': 'text/xml',
      'content-length': Buffer.byteLength(xml),
      'x-amzn-requestid': requestId,
    });
    res.end(xml);
  }
}
