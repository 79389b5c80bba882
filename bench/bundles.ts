import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { PROJECT_ROOT } from '../infra/constructs/crm-function.ts';
import type { LocalFunction } from '../infra/local/lambda-runtime.ts';
import { median, round } from './load.ts';

const run = promisify(execFile);

/** The project's Node (the `node` devDependency: Node 24, as the functions' runtime), not whatever is on PATH. */
const NODE = join(PROJECT_ROOT, 'node_modules', '.bin', 'node');

export interface BundleMeasure {
  function: string;
  logicalId: string;
  entry: string;
  bytes: number;
  /** The bundle gzipped (zlib's default level): roughly what the deployment package weighs. */
  gzipBytes: number;
  initMs: number[];
  initMedianMs: number;
  /** The @aws-sdk packages the bundle imports (external: Lambda's runtime provides them). */
  sdkPackages: string[];
  /** Importing those packages alone, in the same kind of fresh process: the part of init that is not our bundle. */
  sdkInitMs: number[];
  sdkInitMedianMs: number;
}

/** The handler module the bundle was built from: the one source under functions/ its source map names. */
export function entryOf(fn: LocalFunction): string {
  const map = JSON.parse(readFileSync(join(fn.assetPath, 'index.mjs.map'), 'utf8')) as { sources: string[] };
  const entries = map.sources
    .map((s) => relative(PROJECT_ROOT, resolve(fn.assetPath, s)))
    .filter((s) => s.startsWith('functions/') && !s.includes('node_modules'));
  if (entries.length !== 1) throw new Error(`${fn.name}: expected one functions/ source, found ${entries.join(', ')}`);
  return entries[0]!;
}

/**
 * Module init: imports the bundle in a fresh Node process with the function's environment and times the import
 * alone (what Lambda's INIT phase spends on our code). Every AWS endpoint points at a closed port on 127.0.0.1, so
 * even a stray call at init could not leave the machine.
 */
async function initOnce(fn: LocalFunction, region: string, sdkOnly?: string[]): Promise<number> {
  const script = sdkOnly
    ? 'const t0 = performance.now();' +
      'await Promise.all(JSON.parse(process.env.BENCH_SDK).map((s) => import(s)));' +
      'process.stdout.write(JSON.stringify({ ms: performance.now() - t0 }));' +
      'process.exit(0);'
    : 'const t0 = performance.now();' +
      'const mod = await import(process.env.BENCH_MODULE_URL);' +
      'const ms = performance.now() - t0;' +
      "if (typeof mod.handler !== 'function') throw new Error('no handler export');" +
      'process.stdout.write(JSON.stringify({ ms }));' +
      'process.exit(0);';
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    ...fn.environment,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_SESSION_TOKEN: 'local',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    LAMBDA_TASK_ROOT: fn.assetPath,
    BENCH_MODULE_URL: pathToFileURL(join(fn.assetPath, 'index.mjs')).href,
    BENCH_SDK: JSON.stringify(sdkOnly ?? []),
  };
  const { stdout } = await run(NODE, ['--input-type=module', '-e', script], {
    cwd: PROJECT_ROOT,
    env,
    timeout: 30_000,
  });
  return (JSON.parse(stdout) as { ms: number }).ms;
}

export async function measureBundle(fn: LocalFunction, region: string, runs: number): Promise<BundleMeasure> {
  const file = join(fn.assetPath, 'index.mjs');
  const imports = readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*["'](@aws-sdk\/[\w-]+)["']/g);
  const sdkPackages = [...new Set([...imports].map((m) => m[1]!))];
  const initMs: number[] = [];
  const sdkInitMs: number[] = [];
  // Interleaved, so load from elsewhere on the machine weighs on both alike.
  for (let i = 0; i < runs; i++) {
    initMs.push(round(await initOnce(fn, region), 1));
    sdkInitMs.push(round(await initOnce(fn, region, sdkPackages), 1));
  }
  return {
    function: fn.logicalId.replace(/Function[0-9A-F]{8}$/, ''),
    logicalId: fn.logicalId,
    entry: entryOf(fn),
    bytes: statSync(file).size,
    gzipBytes: gzipSync(readFileSync(file)).length,
    initMs,
    initMedianMs: median(initMs),
    sdkPackages: sdkPackages.sort(),
    sdkInitMs,
    sdkInitMedianMs: median(sdkInitMs),
  };
}

export function bundledFunctions(functions: LocalFunction[]): LocalFunction[] {
  return functions.filter((fn) => fn.runtime.startsWith('nodejs') && existsSync(join(fn.assetPath, 'index.mjs')));
}

export interface PackageShare {
  name: string;
  bytes: number;
  share: number;
}

/** Groups an input path of the metafile: a package under node_modules, else the project folder it sits in. */
function packageOf(input: string): string {
  const parts = input.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at >= 0) {
    const name = parts[at + 1] ?? '?';
    return name.startsWith('@') ? `${name}/${parts[at + 2]}` : name;
  }
  return `(project) ${parts[0]}/`;
}

/**
 * Re-bundles an entry with the options CrmFunction gives NodejsFunction (ESM, minified, node24, module-first main
 * fields, the require banner, @aws-sdk external) and reads esbuild's metafile: bytes each package puts in the output.
 */
export async function packageBreakdown(entry: string) {
  const result = await build({
    entryPoints: [join(PROJECT_ROOT, entry)],
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    minify: true,
    sourcemap: true,
    mainFields: ['module', 'main'],
    banner: { js: "import { createRequire } from 'node:module';const require = createRequire(import.meta.url);" },
    external: ['@aws-sdk/*'],
    outfile: join(PROJECT_ROOT, '.data', 'bench-metafile', 'index.mjs'),
    write: false,
    metafile: true,
    logLevel: 'error',
  });
  const [, output] = Object.entries(result.metafile.outputs).find(([path]) => path.endsWith('index.mjs'))!;
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const name = packageOf(input);
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
  }
  const total = output.bytes;
  const packages: PackageShare[] = [...byPackage]
    .map(([name, bytes]) => ({ name, bytes, share: round(bytes / total, 3) }))
    .sort((a, b) => b.bytes - a.bytes);
  return { outputBytes: total, packages };
}
