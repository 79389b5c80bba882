import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { isOwnHost, readRequestBody, sendAwsJson } from './aws-http.ts';
import type { TemplateResolver } from './template.ts';
import type { LocalService } from './types.ts';

/**
 * A local Cognito Identity Provider for the template's user pools: exactly the admin actions the CRM uses
 * (shared/users/identity.ts) over the JSON 1.1 protocol the SDK speaks (`X-Amz-Target:
 * AWSCognitoIdentityProviderService.<Action>`), on 127.0.0.1. Pools and their groups come from the template
 * (AWS::Cognito::UserPool, AWS::Cognito::UserPoolGroup); users are kept per pool in `<dataDir>/cognito/<pool>.json`,
 * written whole (fsync + rename) before a change is acknowledged. It does not sign anyone in: the local issuer
 * mints tokens (`npm run token -- --user`) for the users kept here.
 *
 * Why not an npm emulator: `cognito-local` (the only maintained one) pulls in aws-sdk v2 (end of support, ~90 MB),
 * express and its own JWT signer; the CRM needs eight admin actions and already has an issuer.
 */

export const COGNITO_TARGET_PREFIX = 'AWSCognitoIdentityProviderService.';

interface PoolConfig {
  id: string;
  /** Attributes that may be used as the user name (Cognito's UsernameAttributes), e.g. ['email']. */
  usernameAttributes: string[];
  /** Custom attributes declared in the schema, without the `custom:` prefix, and whether each may change. */
  customAttributes: Record<string, { mutable: boolean }>;
  groups: Record<string, { description?: string; createdAt: number }>;
}

export interface CognitoUser {
  /** The user name Cognito assigned: the `sub` when sign-in uses an alias such as email. */
  username: string;
  attributes: Record<string, string>;
  enabled: boolean;
  status: 'FORCE_CHANGE_PASSWORD' | 'CONFIRMED';
  groups: string[];
  createdAt: number;
  modifiedAt: number;
}

interface PoolState {
  users: Record<string, CognitoUser>;
}

class CognitoError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 128 * 1024;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

export interface LocalCognitoOptions {
  /** Pools and groups come from the template. */
  resolver?: TemplateResolver;
  /** Extra pools (tests without a template): id -> groups and custom attributes. */
  pools?: Array<{ id: string; groups: string[]; customAttributes?: string[]; usernameAttributes?: string[] }>;
  /** Where users are kept (`<dataDir>/cognito/`); without it they live in memory. */
  dataDir?: string;
  port?: number;
  log?: (line: string) => void;
}

export class LocalCognito implements LocalService {
  readonly name = 'cognito-idp';
  endpoint = '';
  private readonly pools = new Map<string, PoolConfig>();
  private readonly state = new Map<string, PoolState>();
  private readonly server: Server;
  /** Changes are applied and saved one at a time, so a save never races another change of the same pool. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly options: LocalCognitoOptions) {
    this.server = createServer((req, res) => void this.handle(req, res));
    const resolver = options.resolver;
    for (const [logicalId] of resolver?.resourcesOfType('AWS::Cognito::UserPool') ?? []) {
      const props = resolver!.properties(logicalId);
      const schema = (props.Schema ?? []) as Array<{ Name: string; Mutable?: boolean }>;
      this.pools.set(resolver!.ref(logicalId), {
        id: resolver!.ref(logicalId),
        usernameAttributes: (props.UsernameAttributes ?? []) as string[],
        customAttributes: Object.fromEntries(schema.map((s) => [s.Name, { mutable: s.Mutable !== false }])),
        groups: {},
      });
    }
    for (const [logicalId] of resolver?.resourcesOfType('AWS::Cognito::UserPoolGroup') ?? []) {
      const props = resolver!.properties(logicalId) as { UserPoolId: string; GroupName: string; Description?: string };
      const pool = this.pools.get(props.UserPoolId);
      if (!pool) throw new Error(`group ${props.GroupName} names user pool ${props.UserPoolId}, not in the template`);
      pool.groups[props.GroupName] = {
        ...(props.Description ? { description: props.Description } : {}),
        createdAt: nowSeconds(),
      };
    }
    for (const pool of options.pools ?? []) {
      this.pools.set(pool.id, {
        id: pool.id,
        usernameAttributes: pool.usernameAttributes ?? ['email'],
        customAttributes: Object.fromEntries((pool.customAttributes ?? []).map((a) => [a, { mutable: false }])),
        groups: Object.fromEntries(pool.groups.map((g) => [g, { createdAt: nowSeconds() }])),
      });
    }
  }

  static async start(options: LocalCognitoOptions = {}): Promise<LocalCognito> {
    const cognito = new LocalCognito(options);
    for (const id of cognito.pools.keys()) cognito.state.set(id, await cognito.load(id));
    await new Promise<void>((resolve, reject) => {
      cognito.server.once('error', reject);
      cognito.server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    cognito.endpoint = `http://127.0.0.1:${(cognito.server.address() as AddressInfo).port}`;
    return cognito;
  }

  /** The pools this endpoint serves (their ids, as the template's `Ref` gives them). */
  poolIds(): string[] {
    return [...this.pools.keys()];
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.queue.catch(() => undefined);
  }

  private file(poolId: string): string | undefined {
    return this.options.dataDir ? join(this.options.dataDir, 'cognito', `${poolId}.json`) : undefined;
  }

  private async load(poolId: string): Promise<PoolState> {
    const file = this.file(poolId);
    if (!file) return { users: {} };
    try {
      return JSON.parse(await readFile(file, 'utf8')) as PoolState;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { users: {} };
      throw error;
    }
  }

  private async save(poolId: string): Promise<void> {
    const file = this.file(poolId);
    if (!file) return;
    await mkdir(join(file, '..'), { recursive: true });
    const tmp = `${file}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(JSON.stringify(this.state.get(poolId)));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
    const dir = await open(join(file, '..'), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (!isOwnHost(req.headers.host, (this.server.address() as AddressInfo).port)) {
        throw new CognitoError('NotAuthorizedException', 'Address this endpoint as 127.0.0.1 or localhost.', 403);
      }
      const target = String(req.headers['x-amz-target'] ?? '');
      if (req.method !== 'POST' || !target.startsWith(COGNITO_TARGET_PREFIX)) {
        throw new CognitoError('UnknownOperationException', 'POST an AWSCognitoIdentityProviderService action.');
      }
      const text = await readRequestBody(req, MAX_BODY_BYTES);
      if (text === undefined) throw new CognitoError('InvalidParameterException', 'The request is too large.');
      let input: Record<string, unknown>;
      try {
        input = JSON.parse(text || '{}') as Record<string, unknown>;
      } catch {
        throw new CognitoError('SerializationException', 'The request body is not JSON.');
      }
      if (typeof input !== 'object' || input === null || Array.isArray(input)) {
        throw new CognitoError('SerializationException', 'The request body must be a JSON object.');
      }
      const action = target.slice(COGNITO_TARGET_PREFIX.length);
      const run = () => this.dispatch(action, input);
      // Serialised: each change is applied and on disk before the next one starts (and before it is answered).
      const result = this.queue.then(run, run);
      this.queue = result.catch(() => undefined);
      sendAwsJson(res, 200, await result, { contentType: 'application/x-amz-json-1.1' });
    } catch (error) {
      const e =
        error instanceof CognitoError
          ? error
          : new CognitoError('InternalErrorException', (error as Error).message, 500);
      if (e.status >= 500) this.options.log?.(`cognito-idp: ${e.type}: ${e.message}`);
      sendAwsJson(
        res,
        e.status,
        { __type: e.type, message: e.message },
        { contentType: 'application/x-amz-json-1.1', errorType: e.type },
      );
    }
  }

  private async dispatch(action: string, input: Record<string, unknown>): Promise<unknown> {
    switch (action) {
      case 'AdminCreateUser':
        return this.adminCreateUser(input);
      case 'AdminGetUser': {
        const { user } = this.findUser(input);
        return {
          Username: user.username,
          UserAttributes: attributeList(user.attributes),
          UserCreateDate: user.createdAt,
          UserLastModifiedDate: user.modifiedAt,
          Enabled: user.enabled,
          UserStatus: user.status,
        };
      }
      case 'AdminListGroupsForUser': {
        const { pool, user } = this.findUser(input);
        const limit = optionalLimit(input.Limit);
        const start = input.NextToken === undefined ? 0 : Number(stringParam(input, 'NextToken'));
        if (!Number.isInteger(start) || start < 0)
          throw new CognitoError('InvalidParameterException', 'Bad NextToken.');
        const page = user.groups.slice(start, start + limit);
        return {
          Groups: page.map((name) => ({
            GroupName: name,
            UserPoolId: pool.id,
            ...(pool.groups[name]?.description ? { Description: pool.groups[name].description } : {}),
            CreationDate: pool.groups[name]?.createdAt,
            LastModifiedDate: pool.groups[name]?.createdAt,
          })),
          ...(start + limit < user.groups.length ? { NextToken: String(start + limit) } : {}),
        };
      }
      case 'AdminAddUserToGroup':
      case 'AdminRemoveUserFromGroup': {
        const { pool, user } = this.findUser(input);
        const group = stringParam(input, 'GroupName');
        if (!pool.groups[group]) throw new CognitoError('ResourceNotFoundException', 'Group not found.');
        const without = user.groups.filter((g) => g !== group);
        user.groups = action === 'AdminAddUserToGroup' ? [...without, group] : without;
        return this.changed(pool.id, user);
      }
      case 'AdminDisableUser':
      case 'AdminEnableUser': {
        const { pool, user } = this.findUser(input);
        user.enabled = action === 'AdminEnableUser';
        return this.changed(pool.id, user);
      }
      default:
        throw new CognitoError(
          'UnknownOperationException',
          `The local Cognito does not implement ${action}; it has the admin actions the CRM uses.`,
        );
    }
  }

  private async changed(poolId: string, user: CognitoUser): Promise<Record<string, never>> {
    user.modifiedAt = nowSeconds();
    await this.save(poolId);
    return {};
  }

  private poolOf(input: Record<string, unknown>): PoolConfig {
    const id = stringParam(input, 'UserPoolId');
    const pool = this.pools.get(id);
    if (!pool) throw new CognitoError('ResourceNotFoundException', `User pool ${id} does not exist.`);
    return pool;
  }

  /** A user by user name (the sub) or by an alias attribute (email), as the admin actions accept. */
  private findUser(input: Record<string, unknown>): { pool: PoolConfig; user: CognitoUser } {
    const pool = this.poolOf(input);
    const name = stringParam(input, 'Username');
    const user = lookup(this.state.get(pool.id)!, pool, name);
    if (!user) throw new CognitoError('UserNotFoundException', 'User does not exist.');
    return { pool, user };
  }

  private async adminCreateUser(input: Record<string, unknown>): Promise<unknown> {
    const pool = this.poolOf(input);
    const state = this.state.get(pool.id)!;
    const name = stringParam(input, 'Username');
    const given = input.UserAttributes ?? [];
    if (!Array.isArray(given)) throw new CognitoError('InvalidParameterException', 'UserAttributes must be a list.');
    const attributes: Record<string, string> = {};
    for (const entry of given as Array<{ Name?: unknown; Value?: unknown }>) {
      if (typeof entry?.Name !== 'string' || typeof entry.Value !== 'string') {
        throw new CognitoError('InvalidParameterException', 'Each attribute needs a Name and a string Value.');
      }
      const custom = /^custom:(.+)$/.exec(entry.Name)?.[1];
      if (custom !== undefined && !pool.customAttributes[custom]) {
        throw new CognitoError(
          'InvalidParameterException',
          `Attributes did not conform to the schema: ${entry.Name}: Attribute does not exist in the schema.`,
        );
      }
      attributes[entry.Name] = entry.Value;
    }
    if (pool.usernameAttributes.includes('email')) {
      if (!EMAIL.test(name)) {
        throw new CognitoError('InvalidParameterException', 'Username should be an email.');
      }
      if (attributes.email !== undefined && attributes.email.toLowerCase() !== name.toLowerCase()) {
        throw new CognitoError('InvalidParameterException', 'The email attribute must match the Username.');
      }
      attributes.email = name;
    }
    if (lookup(state, pool, name)) {
      throw new CognitoError('UsernameExistsException', 'An account with the given email already exists.');
    }
    if (input.MessageAction !== undefined && input.MessageAction !== 'SUPPRESS' && input.MessageAction !== 'RESEND') {
      throw new CognitoError('InvalidParameterException', 'MessageAction must be SUPPRESS or RESEND.');
    }
    if (input.MessageAction === 'RESEND') throw new CognitoError('UserNotFoundException', 'User does not exist.');
    const sub = randomUUID();
    const now = nowSeconds();
    const user: CognitoUser = {
      username: pool.usernameAttributes.length > 0 ? sub : name,
      attributes: { sub, ...attributes },
      enabled: true,
      status: 'FORCE_CHANGE_PASSWORD',
      groups: [],
      createdAt: now,
      modifiedAt: now,
    };
    state.users[user.username] = user;
    await this.save(pool.id);
    return {
      User: {
        Username: user.username,
        Attributes: attributeList(user.attributes),
        UserCreateDate: now,
        UserLastModifiedDate: now,
        Enabled: true,
        UserStatus: user.status,
      },
    };
  }
}

function lookup(state: PoolState, pool: PoolConfig, name: string): CognitoUser | undefined {
  const direct = state.users[name];
  if (direct) return direct;
  const folded = name.toLowerCase();
  return Object.values(state.users).find((u) =>
    pool.usernameAttributes.some((attribute) => u.attributes[attribute]?.toLowerCase() === folded),
  );
}

function stringParam(input: Record<string, unknown>, name: string): string {
  const value = input[name];
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) {
    throw new CognitoError('InvalidParameterException', `${name} is required (a non-empty string).`);
  }
  return value;
}

function optionalLimit(value: unknown): number {
  if (value === undefined) return 60;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 60) {
    throw new CognitoError('InvalidParameterException', 'Limit must be an integer from 1 to 60.');
  }
  return value;
}

const attributeList = (attributes: Record<string, string>) =>
  Object.entries(attributes).map(([Name, Value]) => ({ Name, Value }));

const nowSeconds = () => Math.floor(Date.now() / 1000);
