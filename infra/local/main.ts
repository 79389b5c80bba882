import { relative, resolve } from 'node:path';
import { localCloudEnvPath, startLocalCloud } from './cloud.ts';
import { localCloudInfoPath } from './issuer.ts';
import { ensureSystemDeps } from './system-deps.ts';

/**
 * `npm start`: the whole CRM on this machine, state under .data/ (kept across restarts). Ctrl-C stops everything.
 */
const dataDir = resolve(process.env.CRM_DATA_DIR ?? '.data');
const apiPort = Number(process.env.PORT ?? 4000);
const verbose = process.argv.includes('--verbose');

// DynamoDB Local runs on Java: install it when this machine allows, otherwise stop with the command to run.
if (!ensureSystemDeps(['java'])) process.exit(1);

console.log('Starting the local cloud (synthesizing the CDK app, starting DynamoDB Local)...');
const cloud = await startLocalCloud({
  dataDir,
  persist: true,
  apiPort,
  formsApiPort: Number(process.env.FORMS_PORT ?? 4001),
  smtpPort: Number(process.env.SMTP_PORT ?? 2525),
  sesPort: Number(process.env.SES_PORT ?? 8005),
  log: verbose ? (line) => console.log(line) : (line) => /fail|error|gave up/i.test(line) && console.error(line),
});
console.log(
  cloud.appReused
    ? 'The CDK app is unchanged since the last start: its synth was reused.'
    : 'Synthesized the CDK app (the next start reuses it while nothing changes).',
);
const shown = (file: string) => relative(process.cwd(), file) || file;
const envFile = shown(localCloudEnvPath(dataDir));
const token = await cloud.token({ tenantId: 'demo', roles: ['admin'], userId: 'dev-admin', email: 'admin@demo.local' });

console.log(`
CRM local cloud is running.

  API        ${cloud.apiUrl}/v1
  Docs       ${cloud.docsUrl}
  OpenAPI    ${cloud.apiUrl}/v1/openapi.json
  Web forms  ${cloud.formsApiUrl}/v1/forms/{publicKey}/submissions   (public web-to-lead API)
  Sent mail  ${cloud.sesWebUiUrl}   (SES outbound, local)
  Outbox     ${shown(cloud.ses.outbox.file ?? '')}   (every send; POST ${cloud.ses.injectUrl} injects SES events)
  Inbound    smtp://127.0.0.1:${cloud.smtpPort}   (mail to a declared mailbox becomes email.received)
  Data       ${dataDir}

AWS CLI and SDKs (also in ${shown(localCloudInfoPath(dataDir))}; load them with: export $(grep -v '^#' ${envFile})):

${Object.entries(cloud.info.environment)
  .map(([name, value]) => `  ${name}=${value}`)
  .join('\n')}

Dev token (tenant "demo", role admin, valid 8 hours; an invited user's: npm run token -- --tenant demo --user <email>):

${token}

Try:  curl -H "authorization: Bearer $TOKEN" ${cloud.apiUrl}/v1/contacts
      export $(grep -v '^#' ${envFile}) && aws dynamodb list-tables && aws s3 ls
Ctrl-C stops everything.
`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the local cloud...`);
  await cloud.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
