import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { TemplateResolver } from './template.ts';
import type { InvocationType, Invoker, LocalService } from './types.ts';

/** A Lambda function of the template, as the local runtime runs it. */
export interface LocalFunction {
  logicalId: string;
  name: string;
  arn: string;
  /** Absolute path of the bundled code directory (the CDK asset). */
  assetPath: string;
  handler: string;
  runtime: string;
  timeoutSeconds: number;
  memorySize: number;
  /** The template's resolved Environment.Variables (without the runtime's own variables). */
  environment: Record<string, string>;
}

/** What `AWS::Lambda::EventInvokeConfig` says about a function's asynchronous invocations. */
export interface AsyncInvokeConfig {
  /** Retries after the first failed attempt (Lambda's default is 2). */
  maximumRetryAttempts: number;
  onFailure?: string;
}

/** An asynchronous invocation that failed every attempt: what Lambda sends to the on-failure destination. */
export interface AsyncFailure {
  functionName: string;
  event: unknown;
  attempts: number;
  error: { errorType: string; errorMessage: string };
  destination?: string;
}

export interface LambdaRuntimeOptions {
  resolver: TemplateResolver;
  /** The cdk.out dir the template came from; `aws:asset:path` is relative to it. */
  assemblyDir: string;
  /** Extra env for every function, e.g. AWS_ENDPOINT_URL_DYNAMODB or fake credentials. */
  environment?: Record<string, string>;
  log?: (message: string) => void;
  /** Delay before the first async retry (doubling after); Lambda waits minutes, which locally only hides errors. */
  asyncRetryDelayMs?: number;
}

/** A failed invocation, carrying the error payload Lambda's Invoke API would return (FunctionError: Unhandled). */
export class LambdaError extends Error {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: string[];

  constructor(
    payload: { errorType: string; errorMessage: string; trace?: string[] },
    readonly functionName?: string,
  ) {
    super(payload.errorMessage);
    this.name = 'LambdaError';
    this.errorType = payload.errorType;
    this.errorMessage = payload.errorMessage;
    this.trace = payload.trace ?? [];
  }

  /** The JSON body Lambda returns for a function error. */
  toPayload(): { errorType: string; errorMessage: string; trace: string[] } {
    return { errorType: this.errorType, errorMessage: this.errorMessage, trace: this.trace };
  }
}

// Lambda's synchronous invocation payload limits (request and response).
const MAX_SYNC_PAYLOAD = 6 * 1024 * 1024;
// Lambda gives on-demand init its own 10 s, apart from the function timeout.
const INIT_TIMEOUT_MS = 10_000;

/**
 * Runs inside each worker (one per function, like a warm Lambda container). Plain CommonJS, evaluated as is: the
 * worker loads the *bundled* code, so it needs no TypeScript loader.
 */
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');
const { existsSync } = require('node:fs');
const path = require('node:path');
const { assetPath, handler: spec, functionName, memorySize, logGroupName, logStreamName } = workerData;

if (/--enable-source-maps/.test(process.env.NODE_OPTIONS || '')) process.setSourceMapsEnabled(true);

function serialize(error) {
  if (error instanceof Error) {
    const trace = String(error.stack || '').split('\n');
    return { errorType: error.name || 'Error', errorMessage: error.message, trace };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

function named(name, message) {
  const error = new Error(message);
  error.name = name;
  return error;
}

async function load() {
  const dot = spec.lastIndexOf('.');
  const modulePath = dot > 0 ? spec.slice(0, dot) : spec;
  const exportPath = dot > 0 ? spec.slice(dot + 1) : 'handler';
  const base = path.resolve(assetPath, modulePath);
  const file = ['.mjs', '.js', '.cjs'].map((ext) => base + ext).find((f) => existsSync(f));
  if (!file) throw named('Runtime.ImportModuleError', "Error: Cannot find module '" + modulePath + "'");
  const mod = await import(pathToFileURL(file).href);
  let fn = mod;
  for (const key of exportPath.split('.')) fn = fn == null ? undefined : (fn[key] ?? (fn.default && fn.default[key]));
  if (typeof fn !== 'function') throw named('Runtime.HandlerNotFound', spec + ' is undefined or not exported');
  return fn;
}

const loaded = load();
loaded.then(
  () => parentPort.postMessage({ type: 'ready' }),
  (error) => parentPort.postMessage({ type: 'init-error', error: serialize(error) }),
);

parentPort.on('message', async (message) => {
  const { requestId, event, deadline, invokedFunctionArn } = message;
  try {
    const fn = await loaded;
    const context = {
      awsRequestId: requestId,
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn,
      memoryLimitInMB: String(memorySize),
      logGroupName,
      logStreamName,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done() {},
      fail() {},
      succeed() {},
    };
    const input = JSON.parse(event);
    let result;
    if (fn.length >= 3) {
      // Callback-style handler (older runtimes): settle on the callback or the returned promise.
      result = await new Promise((resolve, reject) => {
        const returned = fn(input, context, (error, value) => (error ? reject(error) : resolve(value)));
        if (returned && typeof returned.then === 'function') returned.then(resolve, reject);
      });
    } else {
      result = await fn(input, context);
    }
    let json;
    try {
      json = JSON.stringify(result);
    } catch (error) {
      throw named('Runtime.SerializationError', error.message);
    }
    parentPort.postMessage({ type: 'result', requestId, result: json === undefined ? 'null' : json });
  } catch (error) {
    parentPort.postMessage({ type: 'error', requestId, error: serialize(error) });
  }
});
`;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  started: number;
}

/** One warm "container": a worker with the function's module loaded. */
class Container {
  readonly pending = new Map<string, Pending>();
  readonly ready: Promise<void>;
  dead = false;

  constructor(
    readonly worker: Worker,
    readonly startedAt: number,
    ready: Promise<void>,
  ) {
    this.ready = ready;
  }
}

/**
 * The local Lambda service: runs each `AWS::Lambda::Function` of the template in its own worker thread, with its own
 * environment, so module-level config is isolated per function. Workers are created on first invoke and kept warm.
 * One worker serves all of a function's concurrent invocations (local traffic is light); a timeout or crash recycles
 * the worker, failing whatever else it was running.
 */
export class LambdaRuntime implements Invoker, LocalService {
  readonly name = 'lambda';
  private readonly byLogicalId = new Map<string, LocalFunction>();
  private readonly byName = new Map<string, LocalFunction>();
  private readonly containers = new Map<string, Container>();
  private readonly log: (message: string) => void;
  private stopped = false;
  /** Async invocations that failed every attempt, as sent to their on-failure destination (kept for inspection). */
  readonly asyncFailures: AsyncFailure[] = [];
  private readonly asyncConfig = new Map<string, AsyncInvokeConfig>();
  /** opts.environment plus what updateEnvironment() changed since. */
  private extraEnvironment: Record<string, string>;

  private constructor(private readonly opts: LambdaRuntimeOptions) {
    this.log = opts.log ?? ((m) => process.stdout.write(`${m}\n`));
    this.extraEnvironment = { ...opts.environment };
    const { resolver } = opts;
    for (const [logicalId, resource] of resolver.resourcesOfType('AWS::Lambda::Function')) {
      const props = resolver.properties(logicalId);
      const variables = ((props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
        {}) as Record<string, unknown>;
      const fn: LocalFunction = {
        logicalId,
        name: resolver.ref(logicalId),
        arn: resolver.getAtt(logicalId, 'Arn'),
        assetPath: assetPathOf(opts.assemblyDir, resource.Metadata, props.Code),
        handler: String(props.Handler ?? 'index.handler'),
        runtime: String(props.Runtime ?? ''),
        timeoutSeconds: Number(props.Timeout ?? 3),
        memorySize: Number(props.MemorySize ?? 128),
        environment: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, String(v)])),
      };
      this.byLogicalId.set(logicalId, fn);
      this.byName.set(fn.name, fn);
    }
    for (const [logicalId] of resolver.resourcesOfType('AWS::Lambda::EventInvokeConfig')) {
      const props = resolver.properties(logicalId) as {
        FunctionName?: string;
        MaximumRetryAttempts?: number;
        DestinationConfig?: { OnFailure?: { Destination?: string } };
      };
      const onFailure = props.DestinationConfig?.OnFailure?.Destination;
      this.asyncConfig.set(String(props.FunctionName), {
        maximumRetryAttempts: Number(props.MaximumRetryAttempts ?? 2),
        ...(onFailure ? { onFailure } : {}),
      });
    }
  }

  static async start(opts: LambdaRuntimeOptions): Promise<LambdaRuntime> {
    return new LambdaRuntime(opts);
  }

  /**
   * Changes the extra environment of every function, as Lambda's UpdateFunctionConfiguration does: warm containers
   * are retired once their in-flight invocations finish, and the next invoke starts one with the new variables.
   */
  async updateEnvironment(variables: Record<string, string>): Promise<void> {
    this.extraEnvironment = { ...this.extraEnvironment, ...variables };
    const retiring = [...new Set(this.containers.values())];
    this.containers.clear();
    await Promise.all(
      retiring.map(async (container) => {
        while (container.pending.size > 0) await new Promise((r) => setTimeout(r, 10));
        container.dead = true;
        await container.worker.terminate().catch(() => undefined);
      }),
    );
  }

  /** Every function of the template. */
  functions(): LocalFunction[] {
    return [...this.byLogicalId.values()];
  }

  has(functionRef: string): boolean {
    return this.lookup(functionRef) !== undefined;
  }

  /** Resolves an ARN (also versioned or alias ARNs), a name (optionally `name:qualifier`) or a logical id. */
  lookup(functionRef: string): LocalFunction | undefined {
    let name = functionRef;
    if (functionRef.startsWith('arn:')) {
      // arn:aws:lambda:region:account:function:name[:qualifier]
      name = functionRef.split(':')[6] ?? '';
    } else if (functionRef.includes(':')) {
      const parts = functionRef.split(':');
      // account:function:name[:qualifier] (partial ARN) or name:qualifier
      name = (parts[1] === 'function' ? parts[2] : parts[0]) ?? '';
    }
    return this.byName.get(name) ?? this.byLogicalId.get(name);
  }

  async invoke(
    functionRef: string,
    event: unknown,
    invocationType: InvocationType = 'RequestResponse',
  ): Promise<unknown> {
    const fn = this.lookup(functionRef);
    if (!fn) {
      throw new LambdaError({
        errorType: 'ResourceNotFoundException',
        errorMessage: `Function not found: ${functionRef}`,
      });
    }
    const invokedArn = functionRef.startsWith('arn:') ? functionRef : fn.arn;
    if (invocationType === 'Event') {
      // Accepted at once, as Lambda answers 202; retried and then sent to the on-failure destination in the background.
      void this.runAsync(fn, event, invokedArn);
      return undefined;
    }
    return this.run(fn, event, invokedArn);
  }

  /** Lambda's asynchronous invocation: the first attempt, then EventInvokeConfig's retries, then on-failure. */
  private async runAsync(fn: LocalFunction, event: unknown, invokedArn: string): Promise<void> {
    const config = this.asyncConfig.get(fn.name) ?? { maximumRetryAttempts: 2 };
    let delay = this.opts.asyncRetryDelayMs ?? 1_000;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.run(fn, event, invokedArn);
        return;
      } catch (error) {
        const e =
          error instanceof LambdaError ? error : new LambdaError({ errorType: 'Error', errorMessage: String(error) });
        this.log(`[${fn.name}] async invocation failed (attempt ${attempt}): ${e.errorType}: ${e.errorMessage}`);
        if (attempt > config.maximumRetryAttempts || this.stopped) {
          this.asyncFailures.push({
            functionName: fn.name,
            event,
            attempts: attempt,
            error: { errorType: e.errorType, errorMessage: e.errorMessage },
            ...(config.onFailure ? { destination: config.onFailure } : {}),
          });
          this.log(
            `[${fn.name}] gave up after ${attempt} attempts; on-failure destination: ${config.onFailure ?? '(none)'}`,
          );
          return;
        }
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.containers.values()];
    this.containers.clear();
    await Promise.all(
      all.map((c) => this.kill(c, { errorType: 'Runtime.ExitError', errorMessage: 'local Lambda runtime stopped' })),
    );
  }

  private async run(fn: LocalFunction, event: unknown, invokedFunctionArn: string): Promise<unknown> {
    if (this.stopped) throw new Error('local Lambda runtime is stopped');
    if (!fn.runtime.startsWith('nodejs')) {
      throw new LambdaError({
        errorType: 'Runtime.Unsupported',
        errorMessage: `${fn.name}: runtime ${fn.runtime || '(none)'} is not supported by the local runtime`,
      });
    }
    const payload = JSON.stringify(event ?? null);
    if (Buffer.byteLength(payload) > MAX_SYNC_PAYLOAD) {
      throw new LambdaError({
        errorType: 'RequestEntityTooLargeException',
        errorMessage: `Request must be smaller than ${MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation`,
      });
    }
    const container = this.container(fn);
    await container.ready;
    if (container.dead) {
      throw new LambdaError({ errorType: 'Runtime.ExitError', errorMessage: 'container stopped before invoke' });
    }
    const requestId = randomUUID();
    const started = Date.now();
    const deadline = started + fn.timeoutSeconds * 1000;
    const json = await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => this.timedOut(fn, container, requestId), fn.timeoutSeconds * 1000);
      container.pending.set(requestId, { resolve, reject, timer, started });
      container.worker.postMessage({ requestId, event: payload, deadline, invokedFunctionArn });
    });
    return JSON.parse(json as string);
  }

  /** The function's warm container, or a fresh one (cold start). */
  private container(fn: LocalFunction): Container {
    const existing = this.containers.get(fn.logicalId);
    if (existing && !existing.dead) return existing;
    if (!existsSync(fn.assetPath)) {
      throw new LambdaError({
        errorType: 'Runtime.ImportModuleError',
        errorMessage: `${fn.name}: code not found at ${fn.assetPath} (synthesize the app first)`,
      });
    }
    const env: Record<string, string> = {
      // Lambda's own variables; fake credentials so the SDK never looks for real ones (no IMDS calls).
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_SESSION_TOKEN: 'local',
      AWS_EC2_METADATA_DISABLED: 'true',
      // No X-Ray here: the functions' Tracer (Tracing ACTIVE in AWS) stays off instead of looking for a daemon.
      POWERTOOLS_TRACE_ENABLED: 'false',
      ...this.extraEnvironment,
      ...fn.environment,
      AWS_REGION: this.opts.resolver.region,
      AWS_DEFAULT_REGION: this.opts.resolver.region,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: logStreamName(),
      AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
      LAMBDA_TASK_ROOT: fn.assetPath,
      _HANDLER: fn.handler,
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      LANG: 'en_US.UTF-8',
    };
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      env,
      // The host's loaders (tsx, vitest) are not wanted in a function's container.
      execArgv: [],
      stdout: true,
      stderr: true,
      workerData: {
        assetPath: fn.assetPath,
        handler: fn.handler,
        functionName: fn.name,
        memorySize: fn.memorySize,
        logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
        logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
      },
      // The function's memory setting caps the heap, so memory-hungry code fails locally too.
      resourceLimits: { maxOldGenerationSizeMb: fn.memorySize },
    });
    worker.unref();
    this.pipe(worker.stdout, fn.name);
    this.pipe(worker.stderr, fn.name);

    let settleReady: (error?: LambdaError) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      settleReady = (error) => (error ? reject(error) : resolve());
    });
    const container = new Container(worker, Date.now(), ready);
    // A failed init must not surface as an unhandled rejection when nobody awaits it yet.
    ready.catch(() => {});
    const initTimer = setTimeout(() => {
      const error = { errorType: 'Sandbox.Timedout', errorMessage: `INIT timed out after ${INIT_TIMEOUT_MS / 1000}s` };
      settleReady(new LambdaError(error, fn.name));
      void this.kill(container, error);
    }, INIT_TIMEOUT_MS);
    initTimer.unref();

    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'ready') {
        clearTimeout(initTimer);
        this.log(`[${fn.name}] INIT Duration: ${Date.now() - container.startedAt} ms`);
        settleReady();
      } else if (message.type === 'init-error') {
        // Like Lambda: the failed init is reported and retried on the next invoke in a fresh container.
        clearTimeout(initTimer);
        this.log(`[${fn.name}] INIT failed: ${message.error.errorType}: ${message.error.errorMessage}`);
        settleReady(new LambdaError(message.error, fn.name));
        void this.kill(container, message.error);
      } else {
        const pending = container.pending.get(message.requestId);
        if (!pending) return;
        container.pending.delete(message.requestId);
        clearTimeout(pending.timer);
        const duration = Date.now() - pending.started;
        this.log(`[${fn.name}] REPORT RequestId: ${message.requestId} Duration: ${duration} ms`);
        if (message.type === 'result') {
          if (message.result.length > MAX_SYNC_PAYLOAD) {
            const errorMessage = `Response payload size exceeded maximum allowed payload size (${MAX_SYNC_PAYLOAD}).`;
            pending.reject(new LambdaError({ errorType: 'Function.ResponseSizeTooLarge', errorMessage }, fn.name));
          } else {
            pending.resolve(message.result);
          }
        } else {
          this.log(`[${fn.name}] ERROR ${message.error.errorType}: ${message.error.errorMessage}`);
          pending.reject(new LambdaError(message.error, fn.name));
        }
      }
    });
    worker.on('error', (error) => {
      // An uncaught exception kills the container, as it ends a Lambda runtime process.
      const payload = {
        errorType: error.name || 'Error',
        errorMessage: error.message,
        trace: String(error.stack ?? '').split('\n'),
      };
      this.log(`[${fn.name}] runtime crashed: ${payload.errorType}: ${payload.errorMessage}`);
      clearTimeout(initTimer);
      settleReady(new LambdaError(payload, fn.name));
      void this.kill(container, payload);
    });
    worker.on('exit', (code) => {
      clearTimeout(initTimer);
      const payload = {
        errorType: 'Runtime.ExitError',
        errorMessage: `Runtime exited with error: exit status ${code}`,
      };
      settleReady(new LambdaError(payload, fn.name));
      this.fail(container, payload);
    });
    this.containers.set(fn.logicalId, container);
    return container;
  }

  private timedOut(fn: LocalFunction, container: Container, requestId: string): void {
    const pending = container.pending.get(requestId);
    if (!pending) return;
    container.pending.delete(requestId);
    const seconds = fn.timeoutSeconds.toFixed(2);
    const errorMessage = `RequestId: ${requestId} Error: Task timed out after ${seconds} seconds`;
    this.log(`[${fn.name}] ${errorMessage}`);
    pending.reject(new LambdaError({ errorType: 'Sandbox.Timedout', errorMessage }, fn.name));
    // The timed-out code may still be running: recycle the container, as Lambda does.
    void this.kill(container, {
      errorType: 'Runtime.ExitError',
      errorMessage: 'container recycled after another invocation timed out',
    });
  }

  /** Marks the container dead (the next invoke starts a fresh one), fails its invocations and ends the worker. */
  private async kill(container: Container, error: { errorType: string; errorMessage: string }): Promise<void> {
    this.fail(container, error);
    await container.worker.terminate().catch(() => undefined);
  }

  private fail(container: Container, error: { errorType: string; errorMessage: string; trace?: string[] }): void {
    container.dead = true;
    for (const [logicalId, c] of this.containers) if (c === container) this.containers.delete(logicalId);
    for (const [requestId, pending] of container.pending) {
      clearTimeout(pending.timer);
      pending.reject(new LambdaError(error));
      container.pending.delete(requestId);
    }
  }

  private pipe(stream: Readable, name: string): void {
    createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
      this.log(`[${name}] ${line}`),
    );
  }
}

type WorkerMessage =
  | { type: 'ready' }
  | { type: 'init-error'; error: { errorType: string; errorMessage: string; trace?: string[] } }
  | { type: 'result'; requestId: string; result: string }
  | { type: 'error'; requestId: string; error: { errorType: string; errorMessage: string; trace?: string[] } };

/** The bundled code dir: `aws:asset:path` metadata, else the `asset.<hash>` dir named by the S3 key. */
function assetPathOf(assemblyDir: string, metadata: Record<string, unknown> | undefined, code: unknown): string {
  const fromMetadata = metadata?.['aws:asset:path'];
  if (typeof fromMetadata === 'string') {
    return isAbsolute(fromMetadata) ? fromMetadata : join(assemblyDir, fromMetadata);
  }
  const key = (code as { S3Key?: unknown } | undefined)?.S3Key;
  const hash = typeof key === 'string' ? key.replace(/\.zip$/, '') : '';
  return join(assemblyDir, `asset.${hash}`);
}

function logStreamName(): string {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/[$LATEST]${randomUUID().replaceAll('-', '')}`;
}
