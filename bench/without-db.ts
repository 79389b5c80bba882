/**
 * The API without a database: the contacts function's bundle called in-process in a child process, DynamoDB
 * answering instantly with responses captured from a real call (see without-db-child.ts). Reported as CPU µs per call
 * and calls per second per core for create, get and list.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../infra/constructs/crm-function.ts';
import type { RunContext } from './common.ts';
import { percentile, round } from './load.ts';
import { printTable } from './report.ts';
import { THROUGHPUT_OPS, type ThroughputOp, type WithoutDatabaseFigure } from './results.ts';
import type { ChildConfig, ChildResult } from './without-db-child.ts';

const CHILD_TIMEOUT_MS = 180_000;

export async function sectionWithoutDatabase(
  ctx: RunContext,
  tenantId: string,
): Promise<Record<ThroughputOp, WithoutDatabaseFigure>> {
  const { cloud, profile } = ctx;
  const fn = cloud.lambda.functions().find((f) => f.logicalId.startsWith('ApiContacts'));
  if (!fn) throw new Error('without a database: no contacts function in the template');
  const config: ChildConfig = {
    bundleUrl: pathToFileURL(join(fn.assetPath, 'index.mjs')).href,
    tenantId,
    ...profile.withoutDatabase,
  };
  const region = cloud.resolver.region;
  // What the local Lambda runtime adds to every function's environment (each service's AWS_ENDPOINT_URL_*), so any
  // other AWS call the handler makes is recorded against the local service too. Not part of its public interface:
  // if it moves, the handler's own environment plus DynamoDB still runs, and an unrecorded call fails loudly.
  const runtimeEnvironment = (cloud.lambda as unknown as { extraEnvironment?: Record<string, string> })
    .extraEnvironment;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    // As the local Lambda runtime gives the function, but with DynamoDB Local directly (the recorded calls).
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_SESSION_TOKEN: 'local',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...runtimeEnvironment,
    ...fn.environment,
    AWS_ENDPOINT_URL_DYNAMODB: cloud.dynamo.endpoint,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    LAMBDA_TASK_ROOT: fn.assetPath,
    BENCH_WITHOUT_DB: JSON.stringify(config),
  };
  const child = fork(join(PROJECT_ROOT, 'bench', 'without-db-child.ts'), [], {
    cwd: PROJECT_ROOT,
    env,
    // BENCH_CPU_PROFILE=1: a V8 CPU profile of the child in .data/bench-profiles/, to see where a call's time goes.
    // Plain Node (it strips the child's types itself): no tsx loader hooks in the process being measured.
    execArgv: [
      '--disable-warning=ExperimentalWarning',
      ...(process.env.BENCH_CPU_PROFILE
        ? ['--cpu-prof', `--cpu-prof-dir=${join(PROJECT_ROOT, '.data', 'bench-profiles')}`]
        : []),
    ],
    // The function's own logs are not wanted here; its errors come back as a message.
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    timeout: CHILD_TIMEOUT_MS,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 4_000) stderr += chunk.toString('utf8');
  });
  const result = await new Promise<ChildResult>((resolve, reject) => {
    let settled = false;
    child.once('message', (message: { result?: ChildResult; error?: string }) => {
      settled = true;
      if (message.result) resolve(message.result);
      else reject(new Error(`without a database: ${message.error}`));
    });
    child.once('exit', (code, signal) => {
      if (!settled)
        reject(new Error(`without a database: the child exited (${code ?? signal}) ${stderr.slice(0, 2_000)}`));
    });
    child.once('error', reject);
  });

  const figures = {} as Record<ThroughputOp, WithoutDatabaseFigure>;
  for (const op of THROUGHPUT_OPS) {
    const r = result.ops[op];
    if (!r || r.calls === 0) throw new Error(`without a database: no calls of ${op}`);
    const sorted = [...r.wallUs].sort((a, b) => a - b);
    const cpuUsPerCall = r.cpuUs / r.calls;
    figures[op] = {
      calls: r.calls,
      wallUsPerCall: round(sorted.reduce((a, b) => a + b, 0) / sorted.length, 1),
      p50Us: round(percentile(sorted, 50), 1),
      cpuUsPerCall: round(cpuUsPerCall, 1),
      callsPerSecondPerCore: round(1e6 / cpuUsPerCall, 0),
    };
  }
  printTable(
    `4. The API without a database (contacts bundle in-process, DynamoDB answering instantly with canned responses; ` +
      `${profile.withoutDatabase.rounds} x ${profile.withoutDatabase.batch} calls per operation)`,
    ['call', 'CPU µs/call', 'calls/s per core', 'wall µs mean', 'wall µs p50', 'DynamoDB requests replayed'],
    THROUGHPUT_OPS.map((op) => [
      op,
      figures[op].cpuUsPerCall,
      figures[op].callsPerSecondPerCore,
      figures[op].wallUsPerCall,
      figures[op].p50Us,
      result.ops[op]!.requestsPerCall,
    ]),
  );
  return figures;
}
