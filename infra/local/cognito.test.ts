import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminDisableUserCommand,
  AdminEnableUserCommand,
  AdminGetUserCommand,
  AdminListGroupsForUserCommand,
  AdminRemoveUserFromGroupCommand,
  CognitoIdentityProviderClient,
  InitiateAuthCommand,
  ResourceNotFoundException,
  UserNotFoundException,
  UsernameExistsException,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCognito } from './cognito.ts';
import { mintUserToken } from './cognito-token.ts';
import { LOCAL_CREDENTIALS } from './dynamodb-local.ts';
import { LocalIssuer } from './issuer.ts';

const POOL = 'AuthUserPool';
let dataDir: string;
let cognito: LocalCognito;
let client: CognitoIdentityProviderClient;

const start = (dir: string) =>
  LocalCognito.start({
    dataDir: dir,
    pools: [{ id: POOL, groups: ['admin', 'sales'], customAttributes: ['tenantId'], usernameAttributes: ['email'] }],
  });

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'cognito-'));
  cognito = await start(dataDir);
  client = new CognitoIdentityProviderClient({
    endpoint: cognito.endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
});

afterAll(async () => {
  client.destroy();
  await cognito.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const create = (email: string, tenantId = 'acme') =>
  client.send(
    new AdminCreateUserCommand({
      UserPoolId: POOL,
      Username: email,
      UserAttributes: [
        { Name: 'email', Value: email },
        { Name: 'custom:tenantId', Value: tenantId },
      ],
    }),
  );

describe('the local Cognito, through the AWS SDK', () => {
  it('creates a user whose user name is its sub, found by sub or by email', async () => {
    const { User } = await create('ada@example.com');
    const sub = User?.Attributes?.find((a) => a.Name === 'sub')?.Value;
    expect(sub).toMatch(/^[0-9a-f-]{36}$/);
    expect(User).toMatchObject({ Username: sub, Enabled: true, UserStatus: 'FORCE_CHANGE_PASSWORD' });
    for (const name of [sub!, 'ada@example.com', 'ADA@example.com']) {
      const got = await client.send(new AdminGetUserCommand({ UserPoolId: POOL, Username: name }));
      expect(got.Username).toBe(sub);
      expect(got.UserAttributes).toContainEqual({ Name: 'custom:tenantId', Value: 'acme' });
    }
  });

  it('refuses an email already in the pool, an unknown attribute, pool or group with the SDK error types', async () => {
    await create('grace@example.com');
    await expect(create('Grace@example.com', 'other')).rejects.toBeInstanceOf(UsernameExistsException);
    await expect(
      client.send(
        new AdminCreateUserCommand({
          UserPoolId: POOL,
          Username: 'x@example.com',
          UserAttributes: [{ Name: 'custom:role', Value: 'admin' }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(
      client.send(new AdminGetUserCommand({ UserPoolId: 'nope', Username: 'grace@example.com' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(
      client.send(new AdminGetUserCommand({ UserPoolId: POOL, Username: 'nobody@example.com' })),
    ).rejects.toBeInstanceOf(UserNotFoundException);
    await expect(
      client.send(
        new AdminAddUserToGroupCommand({ UserPoolId: POOL, Username: 'grace@example.com', GroupName: 'root' }),
      ),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('adds and removes groups, disables and enables, and keeps it all across a restart', async () => {
    const { User } = await create('linus@example.com');
    const username = User!.Username!;
    const ref = { UserPoolId: POOL, Username: username };
    await client.send(new AdminAddUserToGroupCommand({ ...ref, GroupName: 'sales' }));
    await client.send(new AdminAddUserToGroupCommand({ ...ref, GroupName: 'admin' }));
    await client.send(new AdminAddUserToGroupCommand({ ...ref, GroupName: 'admin' }));
    await client.send(new AdminRemoveUserFromGroupCommand({ ...ref, GroupName: 'sales' }));
    await client.send(new AdminDisableUserCommand(ref));
    expect((await client.send(new AdminGetUserCommand(ref))).Enabled).toBe(false);
    await client.send(new AdminEnableUserCommand(ref));
    await client.send(new AdminDisableUserCommand(ref));

    const saved = JSON.parse(await readFile(join(dataDir, 'cognito', `${POOL}.json`), 'utf8'));
    expect(saved.users[username]).toMatchObject({ enabled: false, groups: ['admin'] });

    const again = await start(dataDir);
    const other = new CognitoIdentityProviderClient({
      endpoint: again.endpoint,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      expect((await other.send(new AdminGetUserCommand(ref))).Enabled).toBe(false);
      const groups = await other.send(new AdminListGroupsForUserCommand({ ...ref, Limit: 60 }));
      expect(groups.Groups?.map((g) => g.GroupName)).toEqual(['admin']);
    } finally {
      other.destroy();
      await again.stop();
    }
  });

  it('pages groups and refuses actions it does not implement', async () => {
    const { User } = await create('paged@example.com');
    const ref = { UserPoolId: POOL, Username: User!.Username! };
    await client.send(new AdminAddUserToGroupCommand({ ...ref, GroupName: 'admin' }));
    await client.send(new AdminAddUserToGroupCommand({ ...ref, GroupName: 'sales' }));
    const first = await client.send(new AdminListGroupsForUserCommand({ ...ref, Limit: 1 }));
    expect(first.Groups?.map((g) => g.GroupName)).toEqual(['admin']);
    const second = await client.send(
      new AdminListGroupsForUserCommand({ ...ref, Limit: 1, NextToken: first.NextToken }),
    );
    expect(second.Groups?.map((g) => g.GroupName)).toEqual(['sales']);
    expect(second.NextToken).toBeUndefined();
    await expect(
      client.send(new InitiateAuthCommand({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: 'c', AuthParameters: {} })),
    ).rejects.toMatchObject({ name: 'UnknownOperationException' });
  });

  it('refuses a request addressed by another host name (DNS rebinding)', async () => {
    const url = new URL(cognito.endpoint);
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: url.port,
          method: 'POST',
          path: '/',
          headers: { host: 'evil.example', 'x-amz-target': 'AWSCognitoIdentityProviderService.AdminGetUser' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ UserPoolId: POOL, Username: 'ada@example.com' }));
    });
    expect(status).toBe(403);
  });

  it('mints a token for a pool user with their sub, email and groups; refuses unknown, other-tenant and disabled users', async () => {
    const issuer = await LocalIssuer.create({ dataDir, issuerUrl: 'http://127.0.0.1:1' });
    const { User } = await create('token@example.com');
    const sub = User!.Username!;
    await client.send(new AdminAddUserToGroupCommand({ UserPoolId: POOL, Username: sub, GroupName: 'sales' }));
    const options = { issuer, audience: 'app', cognitoEndpoint: cognito.endpoint, userPoolId: POOL, tenantId: 'acme' };
    for (const user of [sub, 'token@example.com']) {
      const claims = await issuer.verify(await mintUserToken({ ...options, user }), 'app');
      expect(claims).toMatchObject({
        sub,
        email: 'token@example.com',
        'custom:tenantId': 'acme',
        'cognito:groups': ['sales'],
      });
    }
    await expect(mintUserToken({ ...options, user: 'nobody@example.com' })).rejects.toThrow(/no user nobody/);
    await expect(mintUserToken({ ...options, tenantId: 'globex', user: sub })).rejects.toThrow(/does not belong/);
    await client.send(new AdminDisableUserCommand({ UserPoolId: POOL, Username: sub }));
    await expect(mintUserToken({ ...options, user: sub })).rejects.toThrow(/disabled/);
  });
});
