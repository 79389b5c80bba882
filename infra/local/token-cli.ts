/**
 * `npm run token -- --tenant T --roles admin,sales [--user U] [--email E] [--ttl 8h] [--data-dir .data]`
 * Prints a JWT minted with the same key the running local cloud verifies against.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalIssuer, localCloudInfoPath, readLocalCloudInfo } from './issuer.ts';

const USAGE = 'usage: npm run token -- --tenant <tenantId> --roles <role,role> [--user <id>] [--email <e>] [--ttl 8h]';

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
  if (!values.tenant || values.roles === undefined) {
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
  const roles = values.roles
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  // A bare number is seconds; anything else is a span such as 8h or 30m.
  const ttl = /^\d+$/.test(values.ttl) ? Number(values.ttl) : values.ttl;
  const token = await issuer.mint({
    tenantId: values.tenant,
    userId: values.user,
    email: values.email,
    roles,
    audience: info.audience,
    expiresIn: ttl,
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
