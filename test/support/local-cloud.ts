import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalCloud, startLocalCloud } from '../../infra/local/cloud.ts';
import { prebuiltAssembly } from './assembly.ts';

/**
 * A throwaway local cloud (in-memory database, temp data dir) for whole-stack tests; stop() removes its data dir. It
 * runs the run's one synthesized app (test/support/assembly.ts) instead of synthesizing its own.
 */
export async function startTestCloud(): Promise<LocalCloud> {
  const dataDir = await mkdtemp(join(tmpdir(), 'crm-cloud-'));
  // CRM_TEST_LOG=1 shows the local cloud's log (function output, deliveries) while debugging a test.
  const log = process.env.CRM_TEST_LOG ? (line: string) => console.log(line) : undefined;
  let cloud: LocalCloud;
  try {
    cloud = await startLocalCloud({
      dataDir,
      persist: false,
      waitTimeScale: 0,
      prebuilt: await prebuiltAssembly(),
      ...(log ? { log } : {}),
    });
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const stop = cloud.stop;
  return {
    ...cloud,
    stop: async () => {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` returns a value (or the time runs out): for results that trail a write (events). */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function api(cloud: LocalCloud, token?: string) {
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${cloud.apiUrl}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back and assert on it
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, body: json, text };
  };
}
