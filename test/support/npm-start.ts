import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** The project's root: `npm start` runs there, as a user types it. */
export const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

export interface NpmStarted {
  child: ChildProcess;
  apiUrl: string;
  token: string;
  /** Everything it printed so far. */
  output: () => string;
}

/**
 * Runs the real `npm start` in its own process group (so one signal reaches npm, tsx, node and the DynamoDB Local
 * JVM, as a terminal's Ctrl-C does) and resolves once it has printed the API URL, the dev token and its ready line.
 * The child is pushed to `children` first, so the caller can stop it even if start-up fails.
 */
export function npmStart(env: Record<string, string>, children: ChildProcess[]): Promise<NpmStarted> {
  const child = spawn('npm', ['start'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  let output = '';
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${output}`)), 150_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const api = /API\s+(http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(output);
      const token = /\n\n(eyJ[\w-]+\.[\w-]+\.[\w-]+)\n/.exec(output);
      if (api && token && output.includes('Ctrl-C stops everything.')) {
        clearTimeout(timer);
        resolve({ child, apiUrl: api[1]!, token: token[1]!, output: () => output });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}:\n${output}`));
    });
  });
}

/**
 * A free port below Linux's ephemeral range (32768-60999). The tests restart `npm start` on the same ports (after a
 * kill -9 too); a port the kernel hands out for outgoing connections (what `listen(0)` picks from) could be taken by
 * another process's connection meanwhile, and the restart would fail with EADDRINUSE.
 */
async function freeStablePort(): Promise<number> {
  for (;;) {
    const candidate = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(candidate, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return candidate;
  }
}

/**
 * The environment for `npm start` on free ports with its data in `dataDir`. tsx keeps a folder in the temp dir, so
 * the children get one inside the data dir (`<dataDir>/tmp`), removed with it.
 */
export async function npmStartEnv(dataDir: string): Promise<Record<string, string>> {
  const ports = new Set<number>();
  while (ports.size < 4) ports.add(await freeStablePort());
  const [port, smtp, ses, forms] = [...ports] as [number, number, number, number];
  const childTmp = join(dataDir, 'tmp');
  await mkdir(childTmp, { recursive: true });
  return {
    CRM_DATA_DIR: dataDir,
    PORT: String(port),
    SMTP_PORT: String(smtp),
    SES_PORT: String(ses),
    FORMS_PORT: String(forms),
    TMPDIR: childTmp,
  };
}

/** Resolves once no process of the group is left (npm's children: tsx, node, the JVM); throws after `timeoutMs`. */
export async function waitForGroupExit(pgid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`processes of group ${pgid} still running after ${timeoutMs} ms`);
}
