import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { type LocalCloudFile, localCloudEnvPath, persistentAssemblyDir } from '../infra/local/cloud.ts';
import { localCloudInfoPath } from '../infra/local/issuer.ts';
import { makeContact } from './support/factories.ts';
import { type NpmStarted, npmStartEnv, npmStart as startNpm, waitForGroupExit } from './support/npm-start.ts';

/**
 * `npm start` as a user runs it: the real `npm start` command in its own process group, data kept across restarts,
 * Ctrl-C (SIGINT to the whole group, as a terminal sends it) leaves nothing listening.
 */
const TSX = join(process.cwd(), 'node_modules', '.bin', 'tsx');
const children: ChildProcess[] = [];
let dataDir = '';

type Started = NpmStarted;
const npmStart = (env: Record<string, string>) => startNpm(env, children);

/**
 * Ctrl-C in the terminal: SIGINT to the whole process group (npm, tsx, the cloud, DynamoDB Local's JVM). Waits until
 * every process of the group has exited, then checks the cloud said it stopped, and nothing failed while stopping.
 */
async function ctrlC(started: Started): Promise<void> {
  const pgid = started.child.pid!;
  const npmExited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    started.child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  process.kill(-pgid, 'SIGINT');
  // npm itself ends on SIGINT (as in a terminal) or passes on its child's exit code.
  const npm = await npmExited;
  expect(npm.code === 0 || npm.signal === 'SIGINT', JSON.stringify(npm)).toBe(true);
  // npm has exited; its children (tsx, node, java) may take a moment longer.
  await waitForGroupExit(pgid, 10_000);
  expect(started.output()).toContain('SIGINT: stopping the local cloud...');
  expect(started.output()).not.toMatch(/stop failed/);
}

const portClosed = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });

/** Every port the running cloud printed or wrote: API, SMTP, SES web UI and each AWS endpoint (DynamoDB Local too). */
function portsOf(file: LocalCloudFile, printed: string): number[] {
  const urls = [file.apiUrl, file.issuerUrl, ...Object.values(file.aws.endpoints)];
  const ports = urls.map((url) => Number(new URL(url).port));
  for (const match of printed.matchAll(/(?:https?|smtp):\/\/127\.0\.0\.1:(\d+)/g)) ports.push(Number(match[1]));
  return [...new Set(ports)].sort();
}

/** KEY=value lines of the env file, as `export $(grep -v '^#' file)` would set them. */
function parseEnvFile(text: string): Record<string, string> {
  const entries = text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const eq = line.indexOf('=');
      return [line.slice(0, eq), line.slice(eq + 1)] as const;
    });
  return Object.fromEntries(entries);
}

afterAll(async () => {
  for (const child of children) {
    if (child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  if (dataDir) {
    await rm(dataDir, { recursive: true, force: true });
    await rm(persistentAssemblyDir(dataDir), { recursive: true, force: true });
  }
});

describe('npm start', () => {
  it('runs npm start: writes every AWS endpoint for the CLI and SDKs, keeps data across a restart, Ctrl-C closes every port it printed or wrote', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'crm-start-'));
    const env = await npmStartEnv(dataDir);

    const first = await npmStart(env);
    expect(first.output()).toContain('Synthesized the CDK app');

    // The endpoint file and the printed lines agree, and name every local AWS service.
    const file = JSON.parse(await readFile(localCloudInfoPath(dataDir), 'utf8')) as LocalCloudFile;
    expect(Object.keys(file.aws.endpoints)).toEqual(
      expect.arrayContaining([
        'AWS_ENDPOINT_URL_DYNAMODB',
        'AWS_ENDPOINT_URL_EVENTBRIDGE',
        'AWS_ENDPOINT_URL_SFN',
        'AWS_ENDPOINT_URL_SCHEDULER',
        'AWS_ENDPOINT_URL_S3',
        'AWS_ENDPOINT_URL_SESV2',
      ]),
    );
    for (const url of Object.values(file.aws.endpoints)) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const envFile = parseEnvFile(await readFile(localCloudEnvPath(dataDir), 'utf8'));
    expect(envFile).toEqual(file.environment);
    for (const [name, value] of Object.entries(envFile)) expect(first.output()).toContain(`${name}=${value}`);

    // With only what the file says, the SDK reaches the local DynamoDB and S3.
    const config = {
      region: envFile.AWS_REGION!,
      credentials: { accessKeyId: envFile.AWS_ACCESS_KEY_ID!, secretAccessKey: envFile.AWS_SECRET_ACCESS_KEY! },
    };
    const dynamo = new DynamoDBClient({ ...config, endpoint: envFile.AWS_ENDPOINT_URL_DYNAMODB! });
    const s3 = new S3Client({ ...config, endpoint: envFile.AWS_ENDPOINT_URL_S3! });
    try {
      const { TableNames } = await dynamo.send(new ListTablesCommand({}));
      expect(TableNames?.length).toBeGreaterThan(0);
      const { Buckets } = await s3.send(new ListBucketsCommand({}));
      expect(Buckets?.length).toBeGreaterThan(0);
    } finally {
      dynamo.destroy();
      s3.destroy();
    }

    const created = await fetch(`${first.apiUrl}/v1/contacts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${first.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(makeContact({ firstName: 'Persistent' })),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    // A user invited now is still in the local user pool after the restart.
    const invited = await fetch(`${first.apiUrl}/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${first.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'kept@demo.example', name: 'Kept User', roles: ['support'] }),
    });
    expect(invited.status).toBe(201);

    const ports = portsOf(file, first.output());
    expect(ports).toEqual(expect.arrayContaining([env.PORT, env.SMTP_PORT, env.SES_PORT].map(Number)));
    expect(ports.length).toBeGreaterThanOrEqual(7);
    await ctrlC(first);
    for (const p of ports) expect(await portClosed(p), `port ${p} still open after Ctrl-C`).toBe(true);

    const second = await npmStart(env);
    // Nothing the app is built from changed: the restart reused the first start's synth.
    expect(second.output()).toContain('its synth was reused');
    const { stdout } = await promisify(execFile)(
      TSX,
      ['infra/local/token-cli.ts', '--tenant', 'demo', '--roles', 'readonly', '--data-dir', dataDir],
      { env: { ...process.env, TMPDIR: env.TMPDIR } },
    );
    const readonlyToken = stdout.trim().split('\n').at(-1)!;
    const got = await fetch(`${second.apiUrl}/v1/contacts/${id}`, {
      headers: { authorization: `Bearer ${readonlyToken}` },
    });
    expect(got.status).toBe(200);
    expect(((await got.json()) as { firstName: string }).firstName).toBe('Persistent');
    const denied = await fetch(`${second.apiUrl}/v1/contacts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${readonlyToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(makeContact()),
    });
    expect(denied.status).toBe(403);
    const userToken = await promisify(execFile)(
      TSX,
      ['infra/local/token-cli.ts', '--tenant', 'demo', '--user', 'kept@demo.example', '--data-dir', dataDir],
      { env: { ...process.env, TMPDIR: env.TMPDIR } },
    );
    const me = await fetch(`${second.apiUrl}/v1/me`, {
      headers: { authorization: `Bearer ${userToken.stdout.trim().split('\n').at(-1)!}` },
    });
    expect(await me.json()).toMatchObject({ email: 'kept@demo.example', roles: ['support'], source: 'profile' });

    const secondFile = JSON.parse(await readFile(localCloudInfoPath(dataDir), 'utf8')) as LocalCloudFile;
    const secondPorts = portsOf(secondFile, second.output());
    await ctrlC(second);
    for (const p of secondPorts) expect(await portClosed(p), `port ${p} still open after Ctrl-C`).toBe(true);
  }, 400_000);
});
