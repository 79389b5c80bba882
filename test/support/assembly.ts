import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inject } from 'vitest';
import { localSynthOptions, persistentAssemblyDir } from '../../infra/local/cloud.ts';
import { adoptSynth } from '../../infra/local/synth-cache.ts';
import type { CfnTemplate } from '../../infra/local/types.ts';
import { synthesize } from '../../infra/synth.ts';

/** Long enough for a synth with bundling on a loaded 2-core machine (minutes there), plus the cloud's own start. */
export const CLOUD_START_TIMEOUT_MS = 900_000;

export interface Prebuilt {
  template: CfnTemplate;
  assemblyDir: string;
}

let mine: Promise<{ templatePath: string; assemblyDir: string }> | undefined;

/**
 * The run's one synthesized app (template and bundles) for every local cloud the tests start: synthesizing with
 * bundling costs a minute or more per start, and the app does not change during a run. The first worker that needs it
 * takes the lock (an exclusive mkdir) and synthesizes; the others wait for its `ready.json` (or `failed.txt`).
 * globalSetup removes the folder at the end. Each call returns a fresh copy of the template, which the cloud may change.
 */
export async function prebuiltAssembly(): Promise<Prebuilt> {
  mine ??= locate(inject('assemblyCacheDir'));
  const { templatePath, assemblyDir } = await mine;
  return { template: JSON.parse(await readFile(templatePath, 'utf8')) as CfnTemplate, assemblyDir };
}

async function locate(cacheDir: string): Promise<{ templatePath: string; assemblyDir: string }> {
  const ready = join(cacheDir, 'ready.json');
  const failed = join(cacheDir, 'failed.txt');
  await mkdir(cacheDir, { recursive: true });
  let owner = false;
  try {
    await mkdir(join(cacheDir, 'lock'));
    owner = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  if (owner) {
    try {
      const { template, assemblyDir } = await synthesize(localSynthOptions(join(cacheDir, 'assembly')));
      const found = { templatePath: join(cacheDir, 'template.json'), assemblyDir };
      await writeFile(found.templatePath, JSON.stringify(template));
      await writeFile(`${ready}.tmp`, JSON.stringify(found));
      await rename(`${ready}.tmp`, ready);
      return found;
    } catch (error) {
      await writeFile(failed, String((error as Error).stack ?? error));
      throw error;
    }
  }
  const deadline = Date.now() + CLOUD_START_TIMEOUT_MS;
  for (;;) {
    const found = await readFile(ready, 'utf8').catch(() => undefined);
    if (found) return JSON.parse(found) as { templatePath: string; assemblyDir: string };
    const error = await readFile(failed, 'utf8').catch(() => undefined);
    if (error) throw new Error(`the run's synth failed in another worker:\n${error}`);
    if (Date.now() > deadline) throw new Error(`no synthesized app in ${cacheDir} after ${CLOUD_START_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where the run's synthesized app is built once (test/support/assembly.ts); removed by globalSetup. */
    assemblyCacheDir: string;
  }
}

/**
 * Gives `npm start` on `dataDir` the test run's one prebuilt app as its last synth, so it starts without
 * synthesizing (test/npm-start.test.ts alone lets npm start synthesize, and checks the restart reuses it).
 */
export async function reusePrebuiltApp(dataDir: string): Promise<void> {
  const { assemblyDir } = await prebuiltAssembly();
  await adoptSynth(assemblyDir, localSynthOptions(persistentAssemblyDir(dataDir)));
}
