import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PROJECT_ROOT } from '../infra/constructs/crm-function.ts';
import { DynamoDbLocal } from '../infra/local/dynamodb-local.ts';

/** Where a test run's temp files go: inside the project (git-ignored), one folder per run, removed at the end. */
export const RUN_TEMP_PARENT = join(PROJECT_ROOT, '.data', 'tmp');

/**
 * One in-memory DynamoDB Local for the whole test run. Suites create their own uniquely named tables in it
 * (see test/support/table.ts), so they never share data and may run in parallel.
 *
 * The run also gets its own temp dir: TMPDIR points every worker (and whatever they start: Chromium, tsx, CDK) at a
 * fresh folder, so the system temp dir is never touched and other processes' files there cannot disturb the check.
 * At the end that folder must be empty: anything a test left behind fails the run, by name.
 */
export default async function setup({ provide }: { provide: (key: string, value: unknown) => void }) {
  await mkdir(RUN_TEMP_PARENT, { recursive: true });
  const runTemp = await mkdtemp(join(RUN_TEMP_PARENT, 'run-'));
  const previous = { TMPDIR: process.env.TMPDIR, NODE_DISABLE_COMPILE_CACHE: process.env.NODE_DISABLE_COMPILE_CACHE };
  process.env.TMPDIR = runTemp;
  // CDK bundles with `npx esbuild`, and npm turns on Node's compile cache, a folder in the temp dir it never removes.
  process.env.NODE_DISABLE_COMPILE_CACHE = '1';
  const dynamo = await DynamoDbLocal.start();
  provide('dynamoEndpoint', dynamo.endpoint);
  // The run's synthesized app, built by the first local cloud that needs it (test/support/assembly.ts). Inside the
  // project, as every local cloud's assembly is: the bundles resolve @aws-sdk/* from node_modules.
  const assemblyCacheDir = join(PROJECT_ROOT, '.data', 'cdk.out', `test-run-${basename(runTemp).slice('run-'.length)}`);
  provide('assemblyCacheDir', assemblyCacheDir);
  return async () => {
    await dynamo.stop();
    await rm(assemblyCacheDir, { recursive: true, force: true });
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    const leftovers = await readdir(runTemp);
    await rm(runTemp, { recursive: true, force: true });
    if (leftovers.length > 0) {
      throw new Error(`tests left these behind in the temp dir (clean them up): ${leftovers.sort().join(', ')}`);
    }
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}
