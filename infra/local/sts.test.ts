import { request } from 'node:http';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSts } from './sts.ts';
import { TemplateResolver } from './template.ts';

const ROLE = 'arn:aws:iam::000000000000:role/TenantAccess';
const UNTAGGED_ROLE = 'arn:aws:iam::000000000000:role/Plain';
const tenantTrust = {
  Statement: [
    {
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::000000000000:role/Fn' },
      Action: ['sts:AssumeRole', 'sts:TagSession'],
      Condition: {
        StringLike: { 'aws:RequestTag/tenantId': '?*' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': ['tenantId'] },
      },
    },
  ],
};
const plainTrust = { Statement: [{ Effect: 'Allow', Principal: { Service: 'x' }, Action: 'sts:AssumeRole' }] };

let sts: LocalSts;
let client: STSClient;
const NOW = new Date('2026-01-01T00:00:00Z');

beforeAll(async () => {
  sts = await LocalSts.start({ roles: { [ROLE]: tenantTrust, [UNTAGGED_ROLE]: plainTrust }, now: () => NOW });
  client = new STSClient({
    endpoint: sts.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'caller-key', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client.destroy();
  await sts.stop();
});

const assume = (input: Partial<ConstructorParameters<typeof AssumeRoleCommand>[0]>) =>
  client.send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 'tenant-acme', ...input }));
const refusal = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error as { name: string; message: string; $metadata: { httpStatusCode?: number } };
  }
  throw new Error('expected a refusal');
};

describe('local STS AssumeRole (Query protocol, as the SDK sends it)', () => {
  it('returns temporary credentials for a tagged session and records it', async () => {
    const out = await assume({
      DurationSeconds: 900,
      Tags: [{ Key: 'tenantId', Value: 'acme' }],
      TransitiveTagKeys: ['tenantId'],
    });
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(out.Credentials?.SecretAccessKey).toBeTruthy();
    expect(out.Credentials?.SessionToken).toBeTruthy();
    expect(out.Credentials?.Expiration?.toISOString()).toBe('2026-01-01T00:15:00.000Z');
    expect(out.AssumedRoleUser?.Arn).toBe('arn:aws:sts::000000000000:assumed-role/TenantAccess/tenant-acme');
    expect(sts.sessionsTagged('tenantId', 'acme')).toEqual([
      {
        roleArn: ROLE,
        roleSessionName: 'tenant-acme',
        tags: { tenantId: 'acme' },
        transitiveTagKeys: ['tenantId'],
        accessKeyId: out.Credentials!.AccessKeyId!,
        expiration: out.Credentials!.Expiration!,
        callerAccessKeyId: 'caller-key',
      },
    ]);
  });

  it('issues different credentials per session', async () => {
    const a = await assume({ Tags: [{ Key: 'tenantId', Value: 'beta' }] });
    const b = await assume({ Tags: [{ Key: 'tenantId', Value: 'beta' }] });
    expect(a.Credentials!.AccessKeyId).not.toBe(b.Credentials!.AccessKeyId);
    expect(sts.sessionsTagged('tenantId', 'beta')).toHaveLength(2);
  });

  it('refuses a role that is not in the template', async () => {
    const error = await refusal(
      assume({ RoleArn: 'arn:aws:iam::000000000000:role/Nope', Tags: [{ Key: 'tenantId', Value: 'a' }] }),
    );
    expect(error.name).toBe('AccessDenied');
    expect(error.$metadata.httpStatusCode).toBe(403);
  });

  it('refuses a tenant role session without the tenantId tag, or with other tags', async () => {
    const before = sts.sessions.length;
    expect((await refusal(assume({}))).name).toBe('AccessDenied');
    expect((await refusal(assume({ Tags: [{ Key: 'tenantId', Value: '' }] }))).name).toBe('AccessDenied');
    const extra = await refusal(
      assume({
        Tags: [
          { Key: 'tenantId', Value: 'acme' },
          { Key: 'role', Value: 'admin' },
        ],
      }),
    );
    expect(extra.name).toBe('AccessDenied');
    expect(extra.message).toMatch(/requires session tags tenantId and allows only tenantId/);
    expect(sts.sessions.length).toBe(before);
  });

  it('refuses tags on a role whose trust policy does not allow sts:TagSession, but assumes it untagged', async () => {
    const tagged = assume({ RoleArn: UNTAGGED_ROLE, Tags: [{ Key: 'tenantId', Value: 'acme' }] });
    expect((await refusal(tagged)).message).toMatch(/sts:TagSession/);
    const plain = await assume({ RoleArn: UNTAGGED_ROLE });
    expect(plain.Credentials?.AccessKeyId).toBeTruthy();
  });

  it('validates the session name, the duration, tag keys and transitive keys', async () => {
    const tags = [{ Key: 'tenantId', Value: 'acme' }];
    expect((await refusal(assume({ RoleSessionName: 'a b', Tags: tags }))).name).toBe('ValidationError');
    expect((await refusal(assume({ DurationSeconds: 60, Tags: tags }))).name).toBe('ValidationError');
    const duplicate = [...tags, { Key: 'TENANTID', Value: 'x' }];
    expect((await refusal(assume({ Tags: duplicate }))).name).toBe('InvalidParameterValue');
    const transitive = await refusal(assume({ Tags: tags, TransitiveTagKeys: ['other'] }));
    expect(transitive.name).toBe('InvalidParameterValue');
  });

  it('answers GetCallerIdentity for the AWS CLI', async () => {
    const identity = await client.send(new GetCallerIdentityCommand({}));
    expect(identity).toMatchObject({ Account: '000000000000', UserId: 'caller-key' });
  });

  it('refuses requests addressed by another host name (DNS rebinding)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(sts.endpoint);
      const req = request(
        { host: '127.0.0.1', port: url.port, method: 'POST', path: '/', headers: { host: 'evil.example' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end('Action=GetCallerIdentity&Version=2011-06-15');
    });
    expect(status).toBe(403);
  });
});

describe('local STS from a template', () => {
  it('knows every AWS::IAM::Role of the template by its ARN, with its trust policy', async () => {
    const resolver = new TemplateResolver({
      Resources: {
        FnRole: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: plainTrust } },
        Tenant: {
          Type: 'AWS::IAM::Role',
          Properties: {
            AssumeRolePolicyDocument: {
              Statement: [
                {
                  ...tenantTrust.Statement[0],
                  Principal: { AWS: { 'Fn::GetAtt': ['FnRole', 'Arn'] } },
                },
              ],
            },
          },
        },
      },
    });
    const local = await LocalSts.start({ resolver });
    const c = new STSClient({
      endpoint: local.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'k', secretAccessKey: 's' },
      maxAttempts: 1,
    });
    try {
      const arn = resolver.getAtt('Tenant', 'Arn');
      const ok = await c.send(
        new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'tenant-t1', Tags: [{ Key: 'tenantId', Value: 't1' }] }),
      );
      expect(ok.Credentials?.AccessKeyId).toBeTruthy();
      const untagged = await refusal(c.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'tenant-t1' })));
      expect(untagged.name).toBe('AccessDenied');
    } finally {
      c.destroy();
      await local.stop();
    }
  });
});
