import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { persistentAssemblyDir } from '../infra/local/cloud.ts';
import { freePort } from '../infra/local/dynamodb-local.ts';
import { makeContact } from './support/factories.ts';

/** `npm start` as a user runs it: a real process, data kept across restarts, Ctrl-C leaves nothing listening. */
const TSX = join(process.cwd(), 'node_modules', '.bin', 'tsx');
const children: ChildProcess[] = [];
let dataDir = '';

async function start(env: Record<string, string>): Promise<{ child: ChildProcess; apiUrl: string; token: string }> {
  const child = spawn(TSX, ['infra/local/main.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${output}`)), 150_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const api = /API\s+(http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(output);
      const token = /\n\n(eyJ[\w-]+\.[\w-]+\.[\w-]+)\n/.exec(output);
      if (api && token) {
        clearTimeout(timer);
        resolve({ child, apiUrl: api[1]!, token: token[1]! });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}:\n${output}`));
    });
  });
}

async function interrupt(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  return exited;
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

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (dataDir) {
    await rm(dataDir, { recursive: true, force: true });
    await rm(persistentAssemblyDir(dataDir), { recursive: true, force: true });
  }
});

describe('npm start', () => {
  it('keeps data across a restart, stops cleanly on Ctrl-C, and mints tokens with npm run token', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'crm-start-'));
    const [port, smtp, ses] = [await freePort(), await freePort(), await freePort()];
    const env = { CRM_DATA_DIR: dataDir, PORT: String(port), SMTP_PORT: String(smtp), SES_PORT: String(ses) };

    const first = await start(env);
    const created = await fetch(`${first.apiUrl}/v1/contacts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${first.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(makeContact({ firstName: 'Persistent' })),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };

    expect(await interrupt(first.child)).toBe(0);
    for (const p of [port, smtp, ses]) expect(await portClosed(p)).toBe(true);

    const second = await start(env);
    const { stdout } = await promisify(execFile)(
      TSX,
      ['infra/local/token-cli.ts', '--tenant', 'demo', '--roles', 'readonly', '--data-dir', dataDir],
      { env: process.env },
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

    expect(await interrupt(second.child)).toBe(0);
    expect(await portClosed(port)).toBe(true);
  }, 400_000);
});
