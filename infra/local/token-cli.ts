/**
 * `npm run token -- --tenant T --user <userId or email> [--ttl 8h] [--data-dir .data]`: a token for a user of the
 * local user pool (invited with POST /v1/users), with that user's roles; refused for an unknown, another tenant's or
 * a disabled user.
 * `npm run token -- --tenant T --roles admin,sales [--user U] [--email E] [--ttl 8h]`: a token with the roles given,
 * for any subject (bootstrapping the first admin, who has no user yet).
 * Prints a JWT minted with the same key the running local cloud verifies against.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { LocalCloudFile } from './cloud.ts';
import { mintUserToken, UserTokenRefused } from './cognito-token.ts';
import { LocalIssuer, localCloudInfoPath, readLocalCloudInfo } from './issuer.ts';

const USAGE = [
  'usage: npm run token -- --tenant <tenantId> --user <userId or email> [--ttl 8h]   (a user of the local pool)',
  '       npm run token -- --tenant <tenantId> --roles <role,role> [--user <id>] [--email <e>] [--ttl 8h]',
].join('\n');

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      tenant: { type: 'string' },
      roles: { type: 'string' },
      user: { type: 'string' },
      email: { type: 'string' },
      ttl: { type: 'string', default: '8h' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.tenant || (values.roles === undefined && values.user === undefined)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const projectRoot = join(import.meta.dirname, '..', '..');
  const dataDir = resolve(values['data-dir'] ?? join(projectRoot, '.data'));
  const info = await readLocalCloudInfo(dataDir);
  if (!info) {
    process.stderr.write(`no ${localCloudInfoPath(dataDir)}: start the local cloud first (npm start)\n`);
    return 1;
  }
  const issuer = await LocalIssuer.create({ dataDir, issuerUrl: info.issuerUrl });
  // A bare number is seconds; anything else is a span such as 8h or 30m.
  const expiresIn = /^\d+$/.test(values.ttl) ? Number(values.ttl) : values.ttl;
  if (values.roles === undefined) {
    const { aws, userPoolId } = info as Partial<LocalCloudFile>;
    const cognitoEndpoint = aws?.endpoints.AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER;
    if (!cognitoEndpoint || !userPoolId) {
      process.stderr.write('the running local cloud has no user pool endpoint: restart it (npm start)\n');
      return 1;
    }
    try {
      const token = await mintUserToken({
        issuer,
        audience: info.audience,
        cognitoEndpoint,
        userPoolId,
        tenantId: values.tenant,
        user: values.user!,
        expiresIn,
      });
      process.stdout.write(`${token}\n`);
      return 0;
    } catch (error) {
      const message =
        error instanceof UserTokenRefused
          ? error.message
          : `cannot read the user from the local Cognito at ${cognitoEndpoint} (is npm start running?): ${(error as Error).message}`;
      process.stderr.write(`${message}\n`);
      return 1;
    }
  }
  const roles = values.roles
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const token = await issuer.mint({
    tenantId: values.tenant,
    userId: values.user,
    email: values.email,
    roles,
    audience: info.audience,
    expiresIn,
  });
  process.stdout.write(`${token}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
