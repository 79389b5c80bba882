import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { DurableQueue, QueueFullError } from './durable-queue.ts';
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
  /** How many invocations may run at once: ReservedConcurrentExecutions, else the runtime's default cap. */
  concurrency: number;
  /** Whether `concurrency` is the template's ReservedConcurrentExecutions (beyond it Lambda throttles). */
  reserved: boolean;
  /** The template's resolved Environment.Variables (without the runtime's own variables). */
  environment: Record<string, string>;
  /** LoggingConfig.LogGroup when the function logs to a custom (e.g. shared) group, else Lambda's default group. */
  customLogGroup?: string;
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
  /**
   * Where accepted async invocations are kept until they ran (or went to their on-failure destination), so a crash
   * loses none; without it they are kept in memory.
   */
  dataDir?: string;
  /**
   * Execution environments per function without ReservedConcurrentExecutions (default: CRM_LAMBDA_CONCURRENCY, else
   * 10). This bounds the local machine's memory, not the function: beyond it invocations wait for a free worker (an
   * AWS account's concurrency is far larger), while beyond a reserved concurrency a sync invoke is throttled.
   */
  defaultConcurrency?: number;
}

/** An async invocation accepted and not yet finished, as kept in the queue. */
interface QueuedInvocation {
  functionName: string;
  invokedArn: string;
  event: unknown;
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
const MAX_ASYNC_PAYLOAD = 1024 * 1024;
// Lambda gives on-demand init its own 10 s, apart from the function timeout.
const INIT_TIMEOUT_MS = 10_000;
/** Containers that may initialise at once: one per core (each init is CPU-bound module loading). */
const INIT_CONCURRENCY = Math.max(2, availableParallelism());

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

// The module is loaded when the runtime says so (it lets only a few containers initialise at once).
let loaded;

parentPort.on('message', async (message) => {
  if (message.type === 'init') {
    loaded = load();
    loaded.then(
      () => parentPort.postMessage({ type: 'ready' }),
      (error) => parentPort.postMessage({ type: 'init-error', error: serialize(error) }),
    );
    return;
  }
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

/**
 * One execution environment: a worker with the function's module loaded. Like Lambda's, it runs one invocation at a
 * time (`busy` from the moment a slot is taken until the invocation settles).
 */
class Container {
  readonly pending = new Map<string, Pending>();
  readonly ready: Promise<void>;
  dead = false;
  busy = false;

  /** When its init began (it may wait for a turn first: see LambdaRuntime.initTurn). */
  startedAt = Date.now();

  constructor(
    readonly worker: Worker,
    ready: Promise<void>,
  ) {
    this.ready = ready;
  }
}

/** Lambda's throttling error (HTTP 429 on the Invoke API). */
export function throttled(functionName: string): LambdaError {
  return new LambdaError(
    {
      errorType: 'TooManyRequestsException',
      errorMessage: `Rate Exceeded. (ReservedFunctionConcurrentInvocationLimitExceeded: ${functionName})`,
    },
    functionName,
  );
}

/**
 * The local Lambda service: runs each `AWS::Lambda::Function` of the template in worker threads, with its own
 * environment, so module-level config is isolated per function. As Lambda's execution environments, a worker runs
 * one invocation at a time and is kept warm; a function gets up to its reserved concurrency of them (or the default
 * cap). Beyond it a sync invoke is throttled (TooManyRequestsException) and async invocations wait. A timeout or
 * crash replaces only that worker, failing only its own invocation. Accepted async invocations are journaled under
 * `dataDir` and replayed after a restart.
 */
export class LambdaRuntime implements Invoker, LocalService {
  readonly name = 'lambda';
  private readonly byLogicalId = new Map<string, LocalFunction>();
  private readonly byName = new Map<string, LocalFunction>();
  /** The execution environments of each function (by logical id). */
  private readonly pools = new Map<string, Container[]>();
  private readonly log: (message: string) => void;
  private stopped = false;
  /** Async invocations that failed every attempt, as sent to their on-failure destination (kept for inspection). */
  readonly asyncFailures: AsyncFailure[] = [];
  private readonly asyncConfig = new Map<string, AsyncInvokeConfig>();
  /** opts.environment plus what updateEnvironment() changed since. */
  private extraEnvironment: Record<string, string>;
  /** In-memory state of queued async invocations: attempts so far, and when the next one may start. */
  private readonly asyncState = new Map<string, { attempts: number; notBefore: number; running: boolean }>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly asyncWaiters = new Set<() => void>();
  /** Containers initialising now, and those waiting for their turn (see initTurn). */
  private initsRunning = 0;
  private readonly initsWaiting: Array<() => void> = [];
  /** Sync invocations waiting for a worker of a function at its local cap, first come first served. */
  private readonly workerWaiters = new Map<
    string,
    Array<{ resolve: (c: Container) => void; reject: (e: Error) => void }>
  >();

  private constructor(
    private readonly opts: LambdaRuntimeOptions,
    private readonly queue: DurableQueue<QueuedInvocation>,
  ) {
    this.log = opts.log ?? ((m) => process.stdout.write(`${m}\n`));
    this.extraEnvironment = { ...opts.environment };
    const defaultConcurrency = opts.defaultConcurrency ?? (Number(process.env.CRM_LAMBDA_CONCURRENCY) || 10);
    const { resolver } = opts;
    for (const [logicalId, resource] of resolver.resourcesOfType('AWS::Lambda::Function')) {
      const props = resolver.properties(logicalId);
      const variables = ((props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
        {}) as Record<string, unknown>;
      const reserved = props.ReservedConcurrentExecutions;
      const fn: LocalFunction = {
        logicalId,
        name: resolver.ref(logicalId),
        arn: resolver.getAtt(logicalId, 'Arn'),
        assetPath: assetPathOf(opts.assemblyDir, resource.Metadata, props.Code),
        handler: String(props.Handler ?? 'index.handler'),
        runtime: String(props.Runtime ?? ''),
        timeoutSeconds: Number(props.Timeout ?? 3),
        memorySize: Number(props.MemorySize ?? 128),
        concurrency: reserved === undefined || reserved === null ? defaultConcurrency : Number(reserved),
        reserved: reserved !== undefined && reserved !== null,
        environment: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, String(v)])),
      };
      const customLogGroup = (props.LoggingConfig as { LogGroup?: unknown } | undefined)?.LogGroup;
      if (typeof customLogGroup === 'string' && customLogGroup) fn.customLogGroup = customLogGroup;
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

  /** Starts the runtime; async invocations a previous run accepted but did not finish are run again. */
  static async start(opts: LambdaRuntimeOptions): Promise<LambdaRuntime> {
    const queue = await DurableQueue.open<QueuedInvocation>(
      opts.dataDir ? { dir: join(opts.dataDir, 'async-invocations') } : {},
    );
    const runtime = new LambdaRuntime(opts, queue);
    if (queue.size > 0) runtime.log(`lambda: replaying ${queue.size} accepted async invocation(s)`);
    runtime.pump();
    return runtime;
  }

  /**
   * Changes the extra environment of every function, as Lambda's UpdateFunctionConfiguration does: warm containers
   * are retired once their in-flight invocations finish, and the next invoke starts one with the new variables.
   */
  async updateEnvironment(variables: Record<string, string>): Promise<void> {
    this.extraEnvironment = { ...this.extraEnvironment, ...variables };
    const retiring = [...this.pools.values()].flat();
    this.pools.clear();
    await Promise.all(
      retiring.map(async (container) => {
        while (container.busy && !container.dead) await new Promise((r) => setTimeout(r, 10));
        container.dead = true;
        await container.worker.terminate().catch(() => undefined);
      }),
    );
  }

  /** Every function of the template. */
  functions(): LocalFunction[] {
    return [...this.byLogicalId.values()];
  }

  /** How many execution environments a function has now (busy or warm). */
  workers(functionRef: string): number {
    const fn = this.lookup(functionRef);
    return fn ? (this.pools.get(fn.logicalId) ?? []).filter((c) => !c.dead).length : 0;
  }

  /** Async invocations accepted and not yet finished (queued, running or waiting for a retry). */
  get pendingAsync(): number {
    return this.queue.size;
  }

  /** Resolves once no async invocation is pending. */
  async asyncIdle(): Promise<void> {
    while (this.queue.size > 0) await new Promise<void>((resolve) => this.asyncWaiters.add(resolve));
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
      // Accepted (Lambda answers 202) once it is on disk; it runs when a worker is free, is retried per the
      // EventInvokeConfig, then goes to the on-failure destination. Kept across a stop or a crash.
      const payload = JSON.stringify(event ?? null);
      if (Buffer.byteLength(payload) > MAX_ASYNC_PAYLOAD) {
        throw new LambdaError({
          errorType: 'RequestEntityTooLargeException',
          errorMessage: `Request must be smaller than ${MAX_ASYNC_PAYLOAD} bytes for the InvokeAsync operation`,
        });
      }
      try {
        await this.queue.add([{ functionName: fn.name, invokedArn, event }]);
      } catch (error) {
        if (error instanceof QueueFullError) throw throttled(fn.name);
        throw error;
      }
      this.pump();
      return undefined;
    }
    if (this.stopped) throw new Error('local Lambda runtime is stopped');
    let container = this.acquire(fn);
    if (!container) {
      if (fn.reserved) throw throttled(fn.name);
      container = await this.waitForWorker(fn);
    }
    try {
      return await this.run(fn, container, event, invokedArn);
    } finally {
      this.release(container);
    }
  }

  /** Starts every queued async invocation whose function has a free worker and whose retry delay has passed. */
  private pump(): void {
    if (this.stopped) return;
    const now = Date.now();
    // Functions found without a free worker in this pass: their later invocations wait too. Without it, every pump
    // (one per finished invocation) copied the whole queue and asked for a worker per queued item: O(n²) on the main
    // thread, which held a campaign with a 10,000-event backlog in the queue to ~10 recipients/s.
    const full = new Set<string>();
    for (const [id, item] of this.queue.pending()) {
      if (full.has(item.functionName)) continue;
      let state = this.asyncState.get(id);
      if (!state) {
        state = { attempts: 0, notBefore: 0, running: false };
        this.asyncState.set(id, state);
      }
      if (state.running || state.notBefore > now) continue;
      const fn = this.lookup(item.functionName);
      if (!fn) {
        this.log(`[${item.functionName}] async invocation dropped: the function is no longer in the template`);
        this.settle(this.finishAsync(id));
        continue;
      }
      let container: Container | undefined;
      try {
        container = this.acquire(fn);
      } catch (error) {
        // The code is missing: count it as a failed attempt, like an init failure.
        state.running = true;
        this.settle(this.asyncAttemptDone(id, fn, item, error));
        continue;
      }
      if (!container) {
        full.add(item.functionName);
        continue;
      }
      state.running = true;
      const acquired = container;
      this.settle(
        this.run(fn, acquired, item.event, item.invokedArn).then(
          () => {
            this.release(acquired);
            return this.finishAsync(id);
          },
          (error: unknown) => {
            this.release(acquired);
            return this.asyncAttemptDone(id, fn, item, error);
          },
        ),
      );
    }
  }

  private settle(work: Promise<void>): void {
    work.catch((error: unknown) => this.log(`lambda: async invocation bookkeeping failed: ${String(error)}`));
  }

  /** Lambda's asynchronous retries: EventInvokeConfig's MaximumRetryAttempts, then the on-failure destination. */
  private async asyncAttemptDone(id: string, fn: LocalFunction, item: QueuedInvocation, error: unknown) {
    const state = this.asyncState.get(id);
    if (!state) return;
    state.running = false;
    // Stopping kills running workers: that invocation stays queued for the next start.
    if (this.stopped) return;
    state.attempts++;
    const config = this.asyncConfig.get(fn.name) ?? { maximumRetryAttempts: 2 };
    const e =
      error instanceof LambdaError ? error : new LambdaError({ errorType: 'Error', errorMessage: String(error) });
    this.log(`[${fn.name}] async invocation failed (attempt ${state.attempts}): ${e.errorType}: ${e.errorMessage}`);
    if (state.attempts > config.maximumRetryAttempts) {
      const failure: AsyncFailure = {
        functionName: fn.name,
        event: item.event,
        attempts: state.attempts,
        error: { errorType: e.errorType, errorMessage: e.errorMessage },
        ...(config.onFailure ? { destination: config.onFailure } : {}),
      };
      this.asyncFailures.push(failure);
      if (this.asyncFailures.length > 1000) this.asyncFailures.shift();
      this.log(
        `[${fn.name}] gave up after ${state.attempts} attempts; on-failure destination: ${config.onFailure ?? '(none)'}`,
      );
      // The destination is not emulated: its messages are appended to a file beside the queue, so none is lost.
      if (this.queue.dir) {
        await mkdir(this.queue.dir, { recursive: true });
        await appendFile(join(this.queue.dir, '..', 'on-failure.jsonl'), `${JSON.stringify(failure)}\n`);
      }
      await this.finishAsync(id);
      return;
    }
    const delay = (this.opts.asyncRetryDelayMs ?? 1_000) * 2 ** (state.attempts - 1);
    state.notBefore = Date.now() + delay;
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      // Due now: a timer may fire a millisecond before Date.now() reaches notBefore, and pump() would then skip it
      // with nothing left to wake it.
      state.notBefore = 0;
      this.pump();
    }, delay);
    this.retryTimers.add(timer);
  }

  private async finishAsync(id: string): Promise<void> {
    this.asyncState.delete(id);
    await this.queue.remove(id);
    if (this.queue.size > 0) return;
    for (const waiter of this.asyncWaiters) waiter();
    this.asyncWaiters.clear();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const waiting of this.workerWaiters.values()) {
      for (const waiter of waiting) waiter.reject(new Error('local Lambda runtime is stopped'));
    }
    this.workerWaiters.clear();
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    const all = [...this.pools.values()].flat();
    this.pools.clear();
    await Promise.all(
      all.map((c) => this.kill(c, { errorType: 'Runtime.ExitError', errorMessage: 'local Lambda runtime stopped' })),
    );
    await this.queue.close();
  }

  /** A free worker of the function (warm, else a new one within its concurrency), marked busy; none: throttled. */
  private acquire(fn: LocalFunction): Container | undefined {
    if (!fn.runtime.startsWith('nodejs')) {
      throw new LambdaError({
        errorType: 'Runtime.Unsupported',
        errorMessage: `${fn.name}: runtime ${fn.runtime || '(none)'} is not supported by the local runtime`,
      });
    }
    const pool = this.pools.get(fn.logicalId) ?? [];
    this.pools.set(fn.logicalId, pool);
    // Most recently used first, as Lambda reuses the warmest environment.
    const idle = pool.findLast((c) => !c.dead && !c.busy);
    const container = idle ?? (pool.length < fn.concurrency ? this.container(fn, pool) : undefined);
    if (container) container.busy = true;
    return container;
  }

  /** Waits for a worker of a function at its local cap (not a reserved concurrency): the local pool is a memory bound. */
  private waitForWorker(fn: LocalFunction): Promise<Container> {
    return new Promise((resolve, reject) => {
      const waiting = this.workerWaiters.get(fn.logicalId) ?? [];
      waiting.push({ resolve, reject });
      this.workerWaiters.set(fn.logicalId, waiting);
    });
  }

  private release(container: Container): void {
    // A sync invocation waiting for this function's pool takes the worker as it is (still busy).
    for (const [logicalId, pool] of this.pools) {
      if (!pool.includes(container) || container.dead) continue;
      const waiter = this.workerWaiters.get(logicalId)?.shift();
      if (waiter) {
        waiter.resolve(container);
        return;
      }
    }
    container.busy = false;
    // A worker that died (timeout, crash) is replaced for whoever waits.
    for (const [logicalId, waiting] of this.workerWaiters) {
      const fn = this.byLogicalId.get(logicalId);
      while (fn && waiting.length > 0) {
        const next = this.acquire(fn);
        if (!next) break;
        waiting.shift()!.resolve(next);
      }
    }
    // Move it to the end: the warmest.
    for (const pool of this.pools.values()) {
      const at = pool.indexOf(container);
      if (at >= 0 && !container.dead) pool.push(...pool.splice(at, 1));
    }
    this.pump();
  }

  private async run(
    fn: LocalFunction,
    container: Container,
    event: unknown,
    invokedFunctionArn: string,
  ): Promise<unknown> {
    const payload = JSON.stringify(event ?? null);
    if (Buffer.byteLength(payload) > MAX_SYNC_PAYLOAD) {
      throw new LambdaError({
        errorType: 'RequestEntityTooLargeException',
        errorMessage: `Request must be smaller than ${MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation`,
      });
    }
    await container.ready;
    if (container.dead) {
      throw new LambdaError({ errorType: 'Runtime.ExitError', errorMessage: 'container stopped before invoke' });
    }
    const requestId = randomUUID();
    const started = Date.now();
    const deadline = started + fn.timeoutSeconds * 1000;
    this.log(`[${fn.name}] START RequestId: ${requestId} Version: $LATEST`);
    const json = await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => this.timedOut(fn, container, requestId), fn.timeoutSeconds * 1000);
      container.pending.set(requestId, { resolve, reject, timer, started });
      container.worker.postMessage({ requestId, event: payload, deadline, invokedFunctionArn });
    });
    return JSON.parse(json as string);
  }

  /**
   * Runs `start` when fewer containers than the machine has cores are initialising, else queues it (first come,
   * first served). The returned function ends the turn (or leaves the queue); calling it again does nothing.
   */
  private initTurn(start: () => void): () => void {
    let state: 'waiting' | 'running' | 'done' = 'waiting';
    const begin = () => {
      state = 'running';
      this.initsRunning++;
      start();
    };
    if (this.initsRunning < INIT_CONCURRENCY) begin();
    else this.initsWaiting.push(begin);
    return () => {
      if (state === 'waiting') {
        const at = this.initsWaiting.indexOf(begin);
        if (at >= 0) this.initsWaiting.splice(at, 1);
      } else if (state === 'running') {
        this.initsRunning--;
        this.initsWaiting.shift()?.();
      }
      state = 'done';
    };
  }

  /** A fresh execution environment (cold start), added to the function's pool. */
  private container(fn: LocalFunction, pool: Container[]): Container {
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
      ...this.extraEnvironment,
      ...fn.environment,
      AWS_REGION: this.opts.resolver.region,
      AWS_DEFAULT_REGION: this.opts.resolver.region,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: fn.customLogGroup ?? `/aws/lambda/${fn.name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: logStreamName(fn),
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
    const container = new Container(worker, ready);
    // A failed init must not surface as an unhandled rejection when nobody awaits it yet.
    ready.catch(() => {});
    // The init starts on its turn, and its 10 s count from then: a burst of cold starts on a small machine would
    // otherwise share its cores and time out together, where Lambda gives each environment its own.
    let initTimer: NodeJS.Timeout | undefined;
    const endTurn = this.initTurn(() => {
      if (container.dead) return;
      container.startedAt = Date.now();
      this.log(`[${fn.name}] INIT_START Runtime Version: ${fn.runtime}`);
      initTimer = setTimeout(() => {
        const error = {
          errorType: 'Sandbox.Timedout',
          errorMessage: `INIT timed out after ${INIT_TIMEOUT_MS / 1000}s`,
        };
        settleReady(new LambdaError(error, fn.name));
        void this.kill(container, error);
      }, INIT_TIMEOUT_MS);
      initTimer.unref();
      worker.postMessage({ type: 'init' });
    });
    void ready.then(endTurn, endTurn);

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
    pool.push(container);
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
    // The timed-out code may still be running: replace this worker (and only this one), as Lambda does.
    void this.kill(container, {
      errorType: 'Runtime.ExitError',
      errorMessage: 'container recycled after its invocation timed out',
    });
  }

  /** Marks the container dead (the next invoke starts a fresh one), fails its invocations and ends the worker. */
  private async kill(container: Container, error: { errorType: string; errorMessage: string }): Promise<void> {
    this.fail(container, error);
    await container.worker.terminate().catch(() => undefined);
  }

  private fail(container: Container, error: { errorType: string; errorMessage: string; trace?: string[] }): void {
    container.dead = true;
    for (const pool of this.pools.values()) {
      const at = pool.indexOf(container);
      if (at >= 0) pool.splice(at, 1);
    }
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

/** As Lambda names streams; in a custom (possibly shared) group the function's name follows the date. */
export function logStreamName(fn: LocalFunction): string {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/${fn.customLogGroup ? fn.name : ''}[$LATEST]${randomUUID().replaceAll('-', '')}`;
}
