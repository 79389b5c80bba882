import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { synthFixture } from '../../test/fixtures/fixture-stack.ts';
import { DurableQueue } from './durable-queue.ts';
import { LambdaError, LambdaRuntime, logStreamName } from './lambda-runtime.ts';
import { TemplateResolver } from './template.ts';
import type { CfnTemplate } from './types.ts';

interface EchoBody {
  event: Record<string, unknown>;
  context: Record<string, unknown>;
  env: Record<string, string | undefined>;
  greeting: string;
  instanceId: string;
  invocations: number;
}

let runtime: LambdaRuntime;
let assemblyDir: string;
let fixtureTemplate: CfnTemplate;
const logs: string[] = [];
const body = (result: unknown) => JSON.parse((result as { body: string }).body) as EchoBody;
const idOf = (prefix: string) => runtime.functions().find((f) => f.logicalId.startsWith(prefix))!;

beforeAll(async () => {
  const fixture = synthFixture();
  assemblyDir = fixture.assemblyDir;
  fixtureTemplate = fixture.template;
  runtime = await LambdaRuntime.start({
    resolver: new TemplateResolver(fixture.template),
    assemblyDir,
    environment: { EXTRA: 'from-options', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1' },
    log: (m) => logs.push(m),
    asyncRetryDelayMs: 10,
  });
});

afterAll(async () => {
  await runtime?.stop();
  if (assemblyDir) rmSync(assemblyDir, { recursive: true, force: true });
});

describe('LambdaRuntime', () => {
  it('lists every function of the template with its bundled code', () => {
    const fns = runtime.functions();
    expect(fns.map((f) => f.logicalId.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'EchoFn',
      'OtherFn',
      'SlowFn',
      'ThrowFn',
    ]);
    for (const fn of fns) {
      expect(fn.arn).toBe(`arn:aws:lambda:us-east-1:000000000000:function:${fn.name}`);
      expect(existsSync(fn.assetPath)).toBe(true);
      expect(fn.handler).toBe('index.handler');
    }
    expect(idOf('SlowFn').timeoutSeconds).toBe(1);
  });

  it('accepts an ARN, versioned and alias ARNs, a name, name:qualifier and a logical id', async () => {
    const echo = idOf('EchoFn');
    for (const ref of [echo.arn, `${echo.arn}:7`, `${echo.arn}:live`, echo.name, `${echo.name}:live`, echo.logicalId]) {
      expect(runtime.has(ref)).toBe(true);
    }
    expect(runtime.has('arn:aws:lambda:us-east-1:000000000000:function:nope')).toBe(false);
    const result = body(await runtime.invoke(`${echo.arn}:live`, { hello: 1 }));
    expect(result.event).toEqual({ hello: 1 });
    expect(result.context).toMatchObject({
      functionName: echo.name,
      functionVersion: '$LATEST',
      invokedFunctionArn: `${echo.arn}:live`,
      memoryLimitInMB: '256',
      logGroupName: `/aws/lambda/${echo.name}`,
      callbackWaitsForEmptyEventLoop: true,
    });
    expect(result.context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    const remaining = result.context.remaining as number;
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThanOrEqual(3000);
    await expect(runtime.invoke('nope', {})).rejects.toMatchObject({ errorType: 'ResourceNotFoundException' });
  });

  it('gives each function its own environment and module state, kept warm between invokes', async () => {
    const echo = idOf('EchoFn');
    const other = idOf('OtherFn');
    const a1 = body(await runtime.invoke(echo.name, {}));
    const b = body(await runtime.invoke(other.name, {}));
    const a2 = body(await runtime.invoke(echo.name, {}));
    expect(a1.greeting).toBe('echo-a');
    expect(b.greeting).toBe('echo-b');
    expect(a1.env).toMatchObject({
      GREETING: 'echo-a',
      EXTRA: 'from-options',
      AWS_REGION: 'us-east-1',
      AWS_LAMBDA_FUNCTION_NAME: echo.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    });
    expect(b.env).toMatchObject({ GREETING: 'echo-b', AWS_LAMBDA_FUNCTION_NAME: other.name });
    expect(b.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE).toBe('512');
    // Same bundle, different containers; the warm one keeps its module state.
    expect(b.instanceId).not.toBe(a1.instanceId);
    expect(a2.instanceId).toBe(a1.instanceId);
    expect(a2.invocations).toBe(a1.invocations + 1);
    // The host's environment does not leak into a function.
    expect(process.env.GREETING).toBeUndefined();
  });

  it('applies an environment update to new containers, like UpdateFunctionConfiguration', async () => {
    const echo = idOf('EchoFn');
    const before = body(await runtime.invoke(echo.name, {}));
    await runtime.updateEnvironment({ EXTRA: 'updated' });
    const after = body(await runtime.invoke(echo.name, {}));
    expect(before.env.EXTRA).toBe('from-options');
    expect(after.env.EXTRA).toBe('updated');
    expect(after.instanceId).not.toBe(before.instanceId);
    // The function's own (template) variables still win over the extra ones.
    expect(after.env.GREETING).toBe('echo-a');
    await runtime.updateEnvironment({ EXTRA: 'from-options' });
  });

  it('returns a handler error as Lambda does', async () => {
    const error = await runtime.invoke(idOf('ThrowFn').name, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LambdaError);
    expect((error as LambdaError).toPayload()).toMatchObject({ errorType: 'ValidationFailed', errorMessage: 'boom' });
    expect((error as LambdaError).trace[0]).toContain('boom');
  });

  it('enforces the timeout and recycles the container', async () => {
    const slow = idOf('SlowFn');
    const before = (await runtime.invoke(slow.name, { fast: true })) as { instanceId: string };
    const error = await runtime.invoke(slow.name, {}).catch((e: unknown) => e);
    expect(error).toMatchObject({ errorType: 'Sandbox.Timedout' });
    expect((error as LambdaError).errorMessage).toMatch(/Task timed out after 1\.00 seconds$/);
    const after = (await runtime.invoke(slow.name, { fast: true })) as { instanceId: string };
    expect(after.instanceId).not.toBe(before.instanceId);
  });

  it('fails in-flight invocations when the container crashes, then starts a fresh one', async () => {
    const echo = idOf('EchoFn');
    const before = body(await runtime.invoke(echo.name, {}));
    const error = await runtime
      .invoke(echo.name, { queryStringParameters: { mode: 'crash' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LambdaError);
    expect((error as LambdaError).errorMessage).toContain('uncaught crash');
    const after = body(await runtime.invoke(echo.name, {}));
    expect(after.instanceId).not.toBe(before.instanceId);
    expect(after.invocations).toBe(1);
  });

  it('accepts an Event invocation at once, retries it per EventInvokeConfig, then records the on-failure', async () => {
    const thrower = idOf('ThrowFn');
    await expect(runtime.invoke(thrower.arn, { order: 42 }, 'Event')).resolves.toBeUndefined();
    await vi.waitFor(() => expect(runtime.asyncFailures).toHaveLength(1), { timeout: 45_000 });
    expect(runtime.asyncFailures[0]).toMatchObject({
      functionName: thrower.name,
      event: { order: 42 },
      attempts: 2,
      error: { errorType: 'ValidationFailed' },
      destination: expect.stringMatching(/^arn:aws:sqs:.*ThrowFailures/),
    });
    expect(logs.filter((l) => l.includes('async invocation failed (attempt'))).toHaveLength(2);
  });

  it('runs an async retry when its timer fires, whatever the wall clock says (a timer can fire before Date.now() is due)', async () => {
    // Date.now() stands still while real timers fire: the strongest form of a timer firing "early".
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const before = runtime.asyncFailures.length;
      await runtime.invoke(idOf('ThrowFn').arn, { order: 'clock stands still' }, 'Event');
      await vi.waitFor(() => expect(runtime.asyncFailures).toHaveLength(before + 1), { timeout: 45_000 });
      expect(runtime.asyncFailures.at(-1)).toMatchObject({ event: { order: 'clock stands still' }, attempts: 2 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('forwards function logs', async () => {
    await runtime.invoke(idOf('EchoFn').name, {});
    expect(logs.some((l) => /REPORT RequestId: \S+ Duration: \d+ ms/.test(l))).toBe(true);
  });
});

/** The fixture's template with some properties of the functions whose logical id starts with a prefix changed. */
function withProperties(changes: Record<string, Record<string, unknown>>): TemplateResolver {
  const template = structuredClone(fixtureTemplate);
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const prefix = Object.keys(changes).find((p) => id.startsWith(p));
    if (prefix) resource.Properties = { ...resource.Properties, ...changes[prefix] };
  }
  return new TemplateResolver(template);
}

describe('LambdaRuntime custom log group', () => {
  let shared: LambdaRuntime;
  const sharedLogs: string[] = [];
  const byPrefix = (prefix: string) => shared.functions().find((f) => f.logicalId.startsWith(prefix))!;

  beforeAll(async () => {
    // As the CRM stack has it: functions logging to one shared group (LoggingConfig.LogGroup).
    shared = await LambdaRuntime.start({
      resolver: withProperties({ EchoFn: { LoggingConfig: { LogGroup: 'crm-functions' } } }),
      assemblyDir,
      log: (m) => sharedLogs.push(m),
    });
  });

  afterAll(async () => {
    await shared?.stop();
  });

  it("gives a function the template's log group, and streams named after the function as Lambda does", async () => {
    const echo = byPrefix('EchoFn');
    const other = byPrefix('OtherFn');
    expect(body(await shared.invoke(echo.name, {})).context.logGroupName).toBe('crm-functions');
    expect(body(await shared.invoke(other.name, {})).context.logGroupName).toBe(`/aws/lambda/${other.name}`);
    const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
    const echoStream = logStreamName(echo);
    expect(echoStream.startsWith(`${day}/${echo.name}[$LATEST]`), echoStream).toBe(true);
    expect(echoStream.slice(`${day}/${echo.name}[$LATEST]`.length)).toMatch(/^[0-9a-f]{32}$/);
    expect(logStreamName(other)).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    // The function's output still reaches the local cloud's log.
    expect(sharedLogs.some((l) => l.includes(echo.name) && /REPORT RequestId: \S+/.test(l))).toBe(true);
  });
});

const sleep = (ms: number) => ({ queryStringParameters: { mode: 'sleep', ms: String(ms) } });

describe('LambdaRuntime execution environments', () => {
  let pooled: LambdaRuntime;
  const poolLogs: string[] = [];
  const echo = () => pooled.functions().find((f) => f.logicalId.startsWith('EchoFn'))!;

  beforeAll(async () => {
    pooled = await LambdaRuntime.start({
      // Echo: two environments at most, and a 6 s timeout.
      resolver: withProperties({ EchoFn: { ReservedConcurrentExecutions: 2, Timeout: 6 } }),
      assemblyDir,
      log: (m) => poolLogs.push(m),
      asyncRetryDelayMs: 10,
    });
  });

  afterAll(async () => {
    await pooled?.stop();
  });

  it('reads the reserved concurrency, else the default cap', () => {
    expect(echo().concurrency).toBe(2);
    expect(pooled.functions().find((f) => f.logicalId.startsWith('OtherFn'))!.concurrency).toBe(10);
  });

  it('runs two concurrent invocations of a slow function on two workers', async () => {
    const [a, b] = await Promise.all([pooled.invoke(echo().name, sleep(300)), pooled.invoke(echo().name, sleep(300))]);
    expect(body(a).instanceId).not.toBe(body(b).instanceId);
    // One invocation at a time per worker: each ran exactly one.
    expect([body(a).invocations, body(b).invocations]).toEqual([1, 1]);
    expect(pooled.workers(echo().name)).toBe(2);
    // Both stay warm and are reused.
    const c = body(await pooled.invoke(echo().name, {}));
    expect([body(a).instanceId, body(b).instanceId]).toContain(c.instanceId);
    expect(pooled.workers(echo().name)).toBe(2);
  });

  it('runs queued async invocations as workers free up, never holding another function behind a full one', async () => {
    const reports = (name: string) => poolLogs.filter((l) => l.includes(`[${name}] REPORT RequestId`)).length;
    const other = pooled.functions().find((f) => f.logicalId.startsWith('OtherFn'))!;
    const [echoBefore, otherBefore] = [reports(echo().name), reports(other.name)];
    for (let i = 0; i < 6; i++) await pooled.invoke(echo().name, sleep(1_500), 'Event');
    await pooled.invoke(other.name, {}, 'Event');
    // Echo has two workers: its six take three rounds of 1.5 s; Other's runs at once, not after them.
    await vi.waitFor(() => expect(reports(other.name)).toBe(otherBefore + 1), { timeout: 30_000 });
    expect(reports(echo().name)).toBeLessThan(echoBefore + 6);
    await vi.waitFor(() => expect(reports(echo().name)).toBe(echoBefore + 6), { timeout: 30_000 });
  });

  it('fails only the invocation that timed out; the other worker finishes its own', async () => {
    const starts = () => poolLogs.filter((l) => l.includes(`[${echo().name}] START RequestId`)).length;
    const before = starts();
    let otherSettled = false;
    const timingOut = pooled.invoke(echo().name, sleep(60_000)).catch((e: unknown) => ({ error: e, otherSettled }));
    await vi.waitFor(() => expect(starts()).toBe(before + 1), { timeout: 30_000 });
    // Started 4 s into the first one's 6 s; it runs 5 s, so it is still running when the first one times out, with
    // 3 s of margin for a loaded machine.
    await new Promise((r) => setTimeout(r, 4_000));
    const other = pooled.invoke(echo().name, sleep(5_000)).finally(() => {
      otherSettled = true;
    });
    const failed = (await timingOut) as { error: LambdaError; otherSettled: boolean };
    expect(failed.error).toMatchObject({ errorType: 'Sandbox.Timedout' });
    expect(failed.otherSettled).toBe(false);
    const result = body(await other);
    expect(result.event).toMatchObject(sleep(5_000));
    // Only the timed-out worker was replaced.
    expect(pooled.workers(echo().name)).toBe(1);
  }, 60_000);

  it('holds the cap: a sync invoke beyond it is throttled, an async one waits for a free worker', async () => {
    const reports = () => poolLogs.filter((l) => l.includes(`[${echo().name}] REPORT`)).length;
    const before = reports();
    const busy = [pooled.invoke(echo().name, sleep(1_000)), pooled.invoke(echo().name, sleep(1_000))];
    const error = await pooled.invoke(echo().name, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LambdaError);
    expect(error).toMatchObject({ errorType: 'TooManyRequestsException' });
    await expect(pooled.invoke(echo().arn, { queued: true }, 'Event')).resolves.toBeUndefined();
    expect(pooled.pendingAsync).toBe(1);
    expect(pooled.workers(echo().name)).toBe(2);
    await Promise.all(busy);
    await pooled.asyncIdle();
    expect(pooled.pendingAsync).toBe(0);
    expect(reports()).toBe(before + 3);
    expect(pooled.workers(echo().name)).toBe(2);
  });
});

describe('LambdaRuntime local cap (no reserved concurrency)', () => {
  let capped: LambdaRuntime;
  const echo = () => capped.functions().find((f) => f.logicalId.startsWith('EchoFn'))!;

  beforeAll(async () => {
    capped = await LambdaRuntime.start({
      resolver: withProperties({}),
      assemblyDir,
      log: () => {},
      defaultConcurrency: 2,
    });
  });

  afterAll(async () => {
    await capped?.stop();
  });

  it('queues a sync invoke beyond the local pool instead of throttling it, then runs it on a freed worker', async () => {
    expect(echo()).toMatchObject({ concurrency: 2, reserved: false });
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => capped.invoke(echo().name, sleep(200 + n))));
    // Five answers, none throttled, from at most two execution environments.
    expect(results.map((r) => body(r).event)).toEqual([1, 2, 3, 4, 5].map((n) => sleep(200 + n)));
    expect(new Set(results.map((r) => body(r).instanceId)).size).toBe(2);
    expect(capped.workers(echo().name)).toBe(2);
  });
});

describe('LambdaRuntime cold starts', () => {
  it('initialises at most one container per core at a time, so a burst of cold starts does not time out together', async () => {
    const lines: string[] = [];
    const burst = await LambdaRuntime.start({
      resolver: withProperties({}),
      assemblyDir,
      log: (m) => lines.push(m),
      defaultConcurrency: 12,
    });
    try {
      const name = burst.functions().find((f) => f.logicalId.startsWith('EchoFn'))!.name;
      const results = await Promise.all(Array.from({ length: 12 }, (_, n) => burst.invoke(name, sleep(300 + n))));
      expect(new Set(results.map((r) => body(r).instanceId)).size).toBe(12);
      let running = 0;
      let most = 0;
      for (const line of lines.filter((l) => l.startsWith(`[${name}] INIT`))) {
        running += line.includes('INIT_START') ? 1 : -1;
        most = Math.max(most, running);
      }
      expect(lines.filter((l) => l.includes('INIT_START'))).toHaveLength(12);
      expect(most).toBeLessThanOrEqual(Math.max(2, availableParallelism()));
    } finally {
      await burst.stop();
    }
  });
});

describe('LambdaRuntime async queue', () => {
  // Inside the project's data dir, never the system temp dir.
  const dataDir = join(import.meta.dirname, '..', '..', '.data', `test-lambda-${randomUUID().slice(0, 8)}`);
  const queued = () => DurableQueue.pendingIn(join(dataDir, 'async-invocations'));

  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps an accepted async invocation on disk until it ran, across a restart', async () => {
    // Reserved concurrency 0: every invocation is throttled, so the accepted one can only wait.
    const first = await LambdaRuntime.start({
      resolver: withProperties({ ThrowFn: { ReservedConcurrentExecutions: 0 } }),
      assemblyDir,
      dataDir,
      log: () => {},
    });
    const thrower = first.functions().find((f) => f.logicalId.startsWith('ThrowFn'))!;
    await expect(first.invoke(thrower.name, {})).rejects.toMatchObject({ errorType: 'TooManyRequestsException' });
    await expect(first.invoke(thrower.arn, { order: 7 }, 'Event')).resolves.toBeUndefined();
    expect(await queued()).toHaveLength(1);
    expect((await queued())[0]).toMatchObject({
      functionName: thrower.name,
      event: { order: 7 },
    });
    await first.stop();
    expect(await queued()).toHaveLength(1);

    const second = await LambdaRuntime.start({
      resolver: new TemplateResolver(fixtureTemplate),
      assemblyDir,
      dataDir,
      log: () => {},
      asyncRetryDelayMs: 10,
    });
    try {
      await second.asyncIdle();
      // It ran (and failed, as this function does) with its retries, then went to the on-failure destination.
      expect(second.asyncFailures).toMatchObject([{ functionName: thrower.name, event: { order: 7 }, attempts: 2 }]);
      const onFailure = readFileSync(join(dataDir, 'on-failure.jsonl'), 'utf8').trim().split('\n');
      expect(onFailure.map((line) => JSON.parse(line))).toMatchObject([
        { event: { order: 7 }, destination: expect.stringMatching(/ThrowFailures/) },
      ]);
      expect(await queued()).toEqual([]);
    } finally {
      await second.stop();
    }
  });
});
