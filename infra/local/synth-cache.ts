import { createHash } from 'node:crypto';
import { cp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { PROJECT_ROOT } from '../constructs/crm-function.ts';
import { type SynthesizedStack, type SynthesizeOptions, synthesize } from '../synth.ts';
import type { CfnTemplate } from './types.ts';

/** What the app is built from: its source folders (tests aside) and the files that pin its context and packages. */
const SOURCE_DIRS = ['infra', 'functions', 'shared', 'events'];
const SOURCE_FILES = ['cdk.json', 'package.json', 'package-lock.json', 'tsconfig.json'];
const STAMP = 'local-app.json';

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && !entry.name.endsWith('.test.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/**
 * A hash of everything a synth of the app depends on: every source file (path and content), the pinned context and
 * packages, the synth options, CDK_CONTEXT_JSON (context given through the environment) and the Node version.
 */
export async function appFingerprint(options: SynthesizeOptions, root = PROJECT_ROOT): Promise<string> {
  const files = [
    ...(await Promise.all(SOURCE_DIRS.map((dir) => sourceFiles(join(root, dir))))).flat(),
    ...SOURCE_FILES.map((file) => join(root, file)),
  ].sort();
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ node: process.version, context: options.context ?? {}, bundle: options.bundle }));
  hash.update(process.env.CDK_CONTEXT_JSON ?? '');
  for (const file of files) {
    hash.update(`\0${relative(root, file)}\0`);
    hash.update(await readFile(file).catch(() => Buffer.from('(absent)')));
  }
  return hash.digest('hex');
}

/**
 * npm start's synth, reused across restarts: the assembly in `options.outdir` is used again when its stamp holds the
 * same fingerprint (appFingerprint), and synthesized afresh (with bundling, a minute on a small machine) when any
 * input changed or the stamp is missing. The stamp is written last, so an interrupted synth is never reused.
 */
export async function synthesizeOnce(
  options: SynthesizeOptions,
): Promise<Pick<SynthesizedStack, 'template' | 'assemblyDir'> & { reused: boolean }> {
  const fingerprint = await appFingerprint(options);
  const stamp = join(options.outdir, STAMP);
  const saved = JSON.parse(await readFile(stamp, 'utf8').catch(() => 'null')) as {
    fingerprint: string;
    templateFile: string;
  } | null;
  if (saved?.fingerprint === fingerprint) {
    const template = await readFile(join(options.outdir, saved.templateFile), 'utf8').catch(() => undefined);
    if (template) return { template: JSON.parse(template) as CfnTemplate, assemblyDir: options.outdir, reused: true };
  }
  await rm(stamp, { force: true });
  const synthesized = await synthesize(options);
  await writeStamp(options.outdir, { fingerprint, templateFile: relative(options.outdir, synthesized.templatePath) });
  return { ...synthesized, reused: false };
}

async function writeStamp(outdir: string, content: { fingerprint: string; templateFile: string }): Promise<void> {
  const stamp = join(outdir, STAMP);
  await writeFile(`${stamp}.tmp`, JSON.stringify(content));
  await rename(`${stamp}.tmp`, stamp);
}

/**
 * Makes an assembly synthesized elsewhere from the same sources and options (the test run's one prebuilt app) the
 * last synth of `options.outdir`, so the next start there reuses it instead of synthesizing.
 */
export async function adoptSynth(assemblyDir: string, options: SynthesizeOptions): Promise<void> {
  const templates = (await readdir(assemblyDir)).filter((name) => name.endsWith('.template.json'));
  if (templates.length !== 1) throw new Error(`expected one template in ${assemblyDir}, found ${templates.length}`);
  await rm(options.outdir, { recursive: true, force: true });
  await cp(assemblyDir, options.outdir, { recursive: true });
  await writeStamp(options.outdir, { fingerprint: await appFingerprint(options), templateFile: templates[0]! });
}
