import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { readRequestBody, sendAwsJson } from './aws-http.ts';
import { DurableQueue } from './durable-queue.ts';
import type { TemplateResolver } from './template.ts';
import type { EventPutter, ExecutionStarter, Invoker, LocalService } from './types.ts';

/**
 * Local Step Functions: runs every `AWS::StepFunctions::StateMachine` of the template with `aws-local-stepfunctions`,
 * Task resources mapped to the local Lambda functions (and a few service integrations), behind a Step Functions
 * JSON 1.0 endpoint that `@aws-sdk/client-sfn` can talk to.
 */

const SFN_CONTENT_TYPE = 'application/x-amz-json-1.0';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** A handler for a Task resource the local cloud has no built-in support for, keyed by resource ARN. */
export type TaskIntegration = (parameters: unknown, context: { executionArn: string }) => Promise<unknown>;

export interface LocalStepFunctionsOptions {
  resolver: TemplateResolver;
  invoker: Invoker;
  /** Target of `arn:aws:states:::events:putEvents` tasks. */
  events?: EventPutter;
  /** Extra Task resources, e.g. `arn:aws:states:::dynamodb:putItem`. */
  integrations?: Record<string, TaskIntegration>;
  port?: number;
  /** Multiplies Wait durations and Retry intervals: 1 = real time, 0 = no waiting (tests). */
  waitTimeScale?: number;
  log?: (message: string) => void;
  /**
   * Where started executions are journaled until they end (fsync + rename, as other accepted work), so a crash
   * loses none: `resumePending()` runs them again from their start, with the same name and input. Without it,
   * they are kept in memory.
   */
  dataDir?: string;
}

/** A started execution as journaled until it ends. */
interface JournaledExecution {
  stateMachineArn: string;
  name: string;
  input: string;
}

export interface ExecutionResult {
  executionArn: string;
  status: ExecutionStatus;
  output?: unknown;
  error?: string;
  cause?: string;
}

interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: Date;
  type: string;
  [details: string]: unknown;
}

interface MachineRecord {
  arn: string;
  name: string;
  logicalId: string;
  type: 'STANDARD' | 'EXPRESS';
  roleArn: string;
  definition: string;
  creationDate: Date;
  runnable: StateMachine;
  /** Every Task state name (nested ones too): they all get the same local handler. */
  taskStates: string[];
  /** Wait states that were rewritten as Tasks, to report them as Wait in the history. */
  waitStates: Set<string>;
  resources: Map<string, string>;
}

interface ExecutionRecord {
  executionArn: string;
  machine: MachineRecord;
  name: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  history: HistoryEvent[];
  controller: AbortController;
  abort: () => void;
  done: Promise<void>;
  /** Resolves with its journal id once the start is on disk (child executions are not journaled: the parent is). */
  journaled: Promise<string | undefined>;
}

type Json = Record<string, unknown>;

/** Key under which the rewritten definition passes a state's resource to the shared local handler. */
const LOCAL_KEY = '__local';
/** setTimeout overflows above 2^31-1 ms (and fires at once): the library's task timer must stay below it. */
const MAX_TIMEOUT_SECONDS = 2_147_483;
const MAX_SLEEP_MS = 2_147_483_647;
const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const PUT_EVENTS = 'arn:aws:states:::events:putEvents';
const START_EXECUTION = 'arn:aws:states:::states:startExecution';
const START_EXECUTION_RESOURCES = new Set([START_EXECUTION, `${START_EXECUTION}.sync`, `${START_EXECUTION}.sync:2`]);
const WAIT_RESOURCE = 'arn:aws:states:::local:wait';

class SfnError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = code; // as the SDK names its exceptions, for in-process callers
  }
}

/** An error a Task reports: `name` is what Retry/Catch match, `message` becomes the Cause. */
class TaskError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

export class LocalStepFunctions implements LocalService, ExecutionStarter {
  readonly name = 'stepfunctions';
  readonly endpoint: string;
  private readonly machines = new Map<string, MachineRecord>();
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly log: (message: string) => void;
  private readonly scale: number;
  private events?: EventPutter;
  private stopping = false;
  private resumed = false;

  private constructor(
    private readonly opts: LocalStepFunctionsOptions,
    private readonly server: Server,
    private readonly journal: DurableQueue<JournaledExecution>,
  ) {
    const { port } = server.address() as AddressInfo;
    this.endpoint = `http://127.0.0.1:${port}`;
    this.log = opts.log ?? ((m) => console.log(`[stepfunctions] ${m}`));
    this.scale = Math.max(0, opts.waitTimeScale ?? 1);
    this.events = opts.events;
    this.loadMachines();
  }

  static async start(opts: LocalStepFunctionsOptions): Promise<LocalStepFunctions> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    let service: LocalStepFunctions;
    try {
      const journal = await DurableQueue.open<JournaledExecution>(
        opts.dataDir ? { dir: join(opts.dataDir, 'executions') } : {},
      );
      service = new LocalStepFunctions(opts, server, journal);
    } catch (err) {
      server.close();
      throw err;
    }
    server.on('request', (req, res) => void service.handle(req, res));
    return service;
  }

  /** Sets the target of putEvents tasks, for a local EventBridge started after (and from) this service. */
  setEventPutter(events: EventPutter): void {
    this.events = events;
  }

  /** ARNs of the template's state machines. */
  stateMachineArns(): string[] {
    return [...this.machines.keys()];
  }

  /** The ARN of a state machine given its logical id, name or ARN. */
  stateMachineArn(ref: string): string {
    return this.machine(ref).arn;
  }

  async startExecution(stateMachineArn: string, input: unknown, name?: string): Promise<{ executionArn: string }> {
    const machine = this.machine(stateMachineArn);
    const text = JSON.stringify(input === undefined ? {} : input);
    const exec = this.begin(machine, text, name, { journal: true });
    await exec.journaled;
    return { executionArn: exec.executionArn };
  }

  /** Waits until an execution is no longer RUNNING (or the timeout passes) and returns its outcome. */
  async waitForExecution(executionArn: string, timeoutMs = 30_000): Promise<ExecutionResult> {
    const exec = this.execution(executionArn);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`execution ${executionArn} still ${exec.status} after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([exec.done, timeout]);
    } finally {
      clearTimeout(timer);
    }
    return describeResult(exec);
  }

  /** Executions so far, oldest first; only those of one state machine (ARN, name or logical id) when given. */
  listExecutions(stateMachine?: string): Array<ExecutionResult & { stateMachineArn: string; name: string }> {
    const machine = stateMachine === undefined ? undefined : this.machine(stateMachine);
    return [...this.executions.values()]
      .filter((e) => !machine || e.machine === machine)
      .map((e) => ({ ...describeResult(e), stateMachineArn: e.machine.arn, name: e.name }));
  }

  /** Outcome so far of an execution (status RUNNING while it runs). */
  describe(executionArn: string): ExecutionResult {
    return describeResult(this.execution(executionArn));
  }

  /**
   * Runs again, from their start, the executions a previous run journaled and did not finish (once; call it when the
   * functions can be invoked). Returns how many. A step may so run twice: as on AWS, tasks should be idempotent.
   */
  resumePending(): number {
    if (this.resumed) return 0;
    this.resumed = true;
    const pending = this.journal.entries();
    for (const [id, { stateMachineArn, name, input }] of pending) {
      const machine = this.machines.get(stateMachineArn);
      if (!machine) {
        this.log(`journaled execution ${name} of ${stateMachineArn}: no such state machine any more; dropped`);
        void this.journal.remove(id).catch(() => {});
        continue;
      }
      this.begin(machine, input, name, { journalId: id });
    }
    if (pending.length > 0) this.log(`resuming ${pending.length} journaled execution(s)`);
    return pending.length;
  }

  async stop(): Promise<void> {
    // Executions stopped by shutting down stay journaled, to resume at the next start.
    this.stopping = true;
    const running = [...this.executions.values()].filter((e) => e.status === 'RUNNING');
    for (const exec of running) this.abortExecution(exec, 'States.Aborted', 'local Step Functions stopped');
    await Promise.allSettled(running.map((e) => e.done));
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await this.journal.close();
  }

  // ---- template --------------------------------------------------------------------------------------------------

  private loadMachines(): void {
    const { resolver } = this.opts;
    for (const [logicalId] of resolver.resourcesOfType('AWS::StepFunctions::StateMachine')) {
      const props = resolver.properties(logicalId);
      let text: string;
      if (typeof props.DefinitionString === 'string') text = props.DefinitionString;
      else if (props.Definition && typeof props.Definition === 'object') text = JSON.stringify(props.Definition);
      else {
        this.log(`state machine ${logicalId} has no inline definition (DefinitionS3Location?): skipped`);
        continue;
      }
      const substitutions = (props.DefinitionSubstitutions ?? {}) as Record<string, unknown>;
      text = text.replace(/\$\{([^}]+)\}/g, (match, key: string) =>
        key in substitutions ? String(substitutions[key]) : match,
      );
      let definition: StateMachineDefinition;
      try {
        definition = JSON.parse(text) as StateMachineDefinition;
      } catch (err) {
        throw new Error(`state machine ${logicalId}: definition is not valid JSON: ${(err as Error).message}`);
      }
      const arn = resolver.ref(logicalId);
      const name = arn.split(':').pop() ?? logicalId;
      try {
        // The constructor validates the definition as written (asl-validator); the rewritten copy runs unvalidated.
        new StateMachine(definition);
      } catch (err) {
        // asl-validator can lag behind AWS, so a failure is reported but does not stop the local cloud.
        this.log(`state machine ${name}: ${(err as Error).message.split('\n').join(' ')}`);
      }
      const taskStates = new Set<string>();
      const waitStates = new Set<string>();
      const resources = new Map<string, string>();
      const prepared = this.prepare(definition as unknown as Json, { taskStates, waitStates, resources });
      for (const [state, resource] of resources) {
        if (!this.supported(resource)) this.log(`state machine ${name}: state ${state} uses ${resource}: unsupported`);
      }
      this.machines.set(arn, {
        arn,
        name,
        logicalId,
        type: props.StateMachineType === 'EXPRESS' ? 'EXPRESS' : 'STANDARD',
        roleArn: typeof props.RoleArn === 'string' ? props.RoleArn : `arn:aws:iam::${resolver.account}:role/local`,
        definition: text,
        creationDate: new Date(),
        runnable: new StateMachine(prepared as unknown as StateMachineDefinition, {
          validationOptions: { noValidate: true },
        }),
        taskStates: [...taskStates],
        waitStates,
        resources,
      });
    }
  }

  /**
   * Rewrites a definition so the library calls one local handler for every Task: the state's resource travels in
   * its Parameters. Wait states become such Tasks too, so their duration (static or from a path) can be scaled,
   * and Retry intervals are scaled in place.
   */
  private prepare(
    definition: Json,
    found: { taskStates: Set<string>; waitStates: Set<string>; resources: Map<string, string> },
  ): Json {
    const states: Json = {};
    for (const [name, original] of Object.entries((definition.States ?? {}) as Record<string, Json>)) {
      let state: Json = { ...original };
      if (Array.isArray(state.Retry)) state.Retry = state.Retry.map((r: Json) => this.scaleRetrier(r));
      if (state.Type === 'Task') {
        const resource = String(state.Resource);
        found.taskStates.add(name);
        found.resources.set(name, resource);
        const local = { resource };
        state.Parameters =
          'Parameters' in state
            ? { [LOCAL_KEY]: local, payload: state.Parameters }
            : { [LOCAL_KEY]: local, 'payload.$': '$' };
        // AWS's default task timeout is 99999999 s; the library's is 60 s.
        if (state.TimeoutSecondsPath === undefined) {
          state.TimeoutSeconds = Math.min(Number(state.TimeoutSeconds ?? MAX_TIMEOUT_SECONDS), MAX_TIMEOUT_SECONDS);
        }
      } else if (state.Type === 'Wait') {
        const { Seconds, Timestamp, SecondsPath, TimestampPath, ...rest } = state;
        const parameters: Json = { [LOCAL_KEY]: { resource: WAIT_RESOURCE }, 'payload.$': '$' };
        if (Seconds !== undefined) parameters.seconds = Seconds;
        if (Timestamp !== undefined) parameters.timestamp = Timestamp;
        if (SecondsPath !== undefined) parameters['seconds.$'] = SecondsPath;
        if (TimestampPath !== undefined) parameters['timestamp.$'] = TimestampPath;
        state = { ...rest, Type: 'Task', Resource: WAIT_RESOURCE, Parameters: parameters };
        state.TimeoutSeconds = MAX_TIMEOUT_SECONDS;
        found.taskStates.add(name);
        found.waitStates.add(name);
      } else if (state.Type === 'Map') {
        if (state.ItemProcessor) state.ItemProcessor = this.prepare(state.ItemProcessor as Json, found);
        if (state.Iterator) state.Iterator = this.prepare(state.Iterator as Json, found);
      } else if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
        state.Branches = state.Branches.map((b: Json) => this.prepare(b, found));
      }
      states[name] = state;
    }
    const prepared: Json = { ...definition, States: states };
    if (typeof prepared.TimeoutSeconds === 'number' && prepared.TimeoutSeconds > MAX_TIMEOUT_SECONDS) {
      delete prepared.TimeoutSeconds;
    }
    return prepared;
  }

  private scaleRetrier(retrier: Json): Json {
    if (this.scale === 1) return retrier;
    const scaled: Json = { ...retrier, IntervalSeconds: Number(retrier.IntervalSeconds ?? 1) * this.scale };
    if (typeof retrier.MaxDelaySeconds === 'number') scaled.MaxDelaySeconds = retrier.MaxDelaySeconds * this.scale;
    return scaled;
  }

  private supported(resource: string): boolean {
    if (this.opts.integrations?.[resource]) return true;
    if (isLambdaArn(resource) || resource === LAMBDA_INVOKE || START_EXECUTION_RESOURCES.has(resource)) return true;
    return resource === PUT_EVENTS; // the EventPutter may be attached later
  }

  // ---- executions ------------------------------------------------------------------------------------------------

  private machine(ref: string): MachineRecord {
    const direct = this.machines.get(ref);
    if (direct) return direct;
    for (const m of this.machines.values()) if (m.name === ref || m.logicalId === ref) return m;
    throw new SfnError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${ref}'`);
  }

  private execution(executionArn: string): ExecutionRecord {
    const exec = this.executions.get(executionArn);
    if (!exec) throw new SfnError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return exec;
  }

  private begin(
    machine: MachineRecord,
    input: string,
    requestedName?: string,
    durability: { journal?: boolean; journalId?: string } = {},
  ): ExecutionRecord {
    const name = requestedName ?? randomUUID();
    validateExecutionName(name);
    const { region, account } = this.opts.resolver;
    const executionArn = `arn:aws:states:${region}:${account}:execution:${machine.name}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      // StartExecution is idempotent for a running execution with the same name and input, as on AWS.
      if (existing.status === 'RUNNING' && existing.input === input) return existing;
      throw new SfnError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const controller = new AbortController();
    const startDate = new Date();
    const exec: ExecutionRecord = {
      executionArn,
      machine,
      name,
      status: 'RUNNING',
      startDate,
      input,
      history: [],
      controller,
      abort: () => {},
      done: Promise.resolve(),
      journaled: durability.journalId
        ? Promise.resolve(durability.journalId)
        : durability.journal
          ? this.journal.add([{ stateMachineArn: machine.arn, name, input }]).then(([id]) => id)
          : Promise.resolve(undefined),
    };
    // A failed journal write surfaces to the caller awaiting it; the execution itself runs on.
    exec.journaled.catch(() => {});
    this.executions.set(executionArn, exec);
    const handler = (taskInput: unknown) => this.runTask(taskInput as Json, exec) as Promise<never>;
    const run = machine.runnable.run(JSON.parse(input), {
      overrides: { taskResourceLocalHandlers: Object.fromEntries(machine.taskStates.map((s) => [s, handler])) },
      context: {
        Execution: { Id: executionArn, Name: name, RoleArn: machine.roleArn },
        StateMachine: { Id: machine.arn, Name: machine.name },
      },
    });
    exec.abort = run.abort;
    void this.collectHistory(exec, run.eventLogs).catch(() => {});
    exec.done = run.result.then(
      (output) => {
        if (exec.status !== 'RUNNING') return;
        exec.status = 'SUCCEEDED';
        exec.output = JSON.stringify(output ?? null);
        exec.stopDate = new Date();
      },
      (err: unknown) => {
        if (exec.status !== 'RUNNING') return;
        exec.stopDate = new Date();
        if (err instanceof ExecutionAbortedError) {
          exec.status = 'ABORTED';
        } else if (err instanceof ExecutionTimeoutError) {
          exec.status = 'TIMED_OUT';
          exec.error = 'States.Timeout';
        } else {
          const cause = err instanceof ExecutionError && err.cause instanceof Error ? err.cause : (err as Error);
          exec.status = 'FAILED';
          exec.error = cause?.name ?? 'States.Runtime';
          exec.cause = cause?.message;
        }
        if (exec.status === 'FAILED') this.log(`execution ${exec.name} of ${machine.name} failed: ${exec.error}`);
      },
    );
    void exec.done.then(async () => {
      if (this.stopping) return;
      const id = await exec.journaled.catch(() => undefined);
      if (id) await this.journal.remove(id).catch((error: Error) => this.log(`journal: ${error.message}`));
    });
    return exec;
  }

  private abortExecution(exec: ExecutionRecord, error?: string, cause?: string): void {
    if (exec.status !== 'RUNNING') return;
    exec.status = 'ABORTED';
    exec.error = error;
    exec.cause = cause;
    exec.stopDate = new Date();
    exec.controller.abort();
    exec.abort();
  }

  /** The shared local handler of every Task state; `input` is the rewritten Parameters. */
  private async runTask(input: Json, exec: ExecutionRecord): Promise<unknown> {
    const { resource } = input[LOCAL_KEY] as { resource: string };
    const payload = input.payload;
    if (resource === WAIT_RESOURCE) {
      let ms = 0;
      if (input.seconds !== undefined) ms = Number(input.seconds) * 1000;
      else if (input.timestamp !== undefined) ms = Date.parse(String(input.timestamp)) - Date.now();
      await sleep(Math.max(0, ms * this.scale), exec.controller.signal);
      return payload;
    }
    const integration = this.opts.integrations?.[resource];
    if (integration) return integration(payload, { executionArn: exec.executionArn });
    if (isLambdaArn(resource)) return this.invokeLambda(resource, payload);
    if (resource === LAMBDA_INVOKE) return this.lambdaInvokeIntegration(payload as Json);
    if (resource === PUT_EVENTS) return this.putEventsIntegration(payload as Json);
    if (START_EXECUTION_RESOURCES.has(resource)) return this.startExecutionIntegration(resource, payload as Json, exec);
    throw new TaskError('States.Runtime', `Task resource ${resource} is not supported by the local Step Functions`);
  }

  private async invokeLambda(functionRef: string, payload: unknown): Promise<unknown> {
    const fn = stripQualifier(functionRef);
    if (!this.opts.invoker.has(fn)) {
      throw new TaskError('Lambda.ResourceNotFoundException', `Function not found: ${functionRef}`);
    }
    try {
      return await this.opts.invoker.invoke(fn, payload, 'RequestResponse');
    } catch (err) {
      throw lambdaError(err);
    }
  }

  /** `arn:aws:states:::lambda:invoke` returns the Lambda Invoke API response, the function's result in `Payload`. */
  private async lambdaInvokeIntegration(params: Json): Promise<unknown> {
    const functionName = String(params?.FunctionName ?? '');
    const requestId = randomUUID();
    const metadata = {
      ExecutedVersion: '$LATEST',
      SdkHttpMetadata: {
        HttpHeaders: { 'Content-Type': 'application/json', 'X-Amz-Executed-Version': '$LATEST' },
        HttpStatusCode: 200,
      },
      SdkResponseMetadata: { RequestId: requestId },
    };
    if (params?.InvocationType === 'Event') {
      const fn = stripQualifier(functionName);
      if (!this.opts.invoker.has(fn)) {
        throw new TaskError('Lambda.ResourceNotFoundException', `Function not found: ${functionName}`);
      }
      await this.opts.invoker.invoke(fn, params.Payload ?? {}, 'Event');
      return { ...metadata, Payload: '', StatusCode: 202 };
    }
    const result = await this.invokeLambda(functionName, params?.Payload ?? {});
    return { ...metadata, Payload: result ?? null, StatusCode: 200 };
  }

  private async putEventsIntegration(params: Json): Promise<unknown> {
    const entries = (Array.isArray(params?.Entries) ? params.Entries : []) as Json[];
    if (!this.events) throw new TaskError('States.Runtime', 'no local EventBridge attached for events:putEvents');
    const result = await this.events.putEvents(
      entries.map((e) => ({
        Source: String(e.Source ?? ''),
        DetailType: String(e.DetailType ?? ''),
        // The integration accepts Detail as a JSON object and sends it as text.
        Detail: typeof e.Detail === 'string' ? e.Detail : JSON.stringify(e.Detail ?? {}),
        EventBusName: e.EventBusName === undefined ? undefined : String(e.EventBusName),
        Resources: Array.isArray(e.Resources) ? e.Resources.map(String) : undefined,
      })),
    );
    const output = {
      Entries: result.eventIds.map((id) => ({ EventId: id })),
      FailedEntryCount: result.failedEntryCount,
    };
    if (result.failedEntryCount > 0) throw new TaskError('EventBridge.FailedEntry', JSON.stringify(output));
    return output;
  }

  private async startExecutionIntegration(resource: string, params: Json, parent: ExecutionRecord): Promise<unknown> {
    const machine = this.machine(String(params?.StateMachineArn ?? ''));
    const input = typeof params.Input === 'string' ? params.Input : JSON.stringify(params.Input ?? {});
    const child = this.begin(machine, input, params.Name === undefined ? undefined : String(params.Name));
    const started = { ExecutionArn: child.executionArn, StartDate: child.startDate.toISOString() };
    if (resource === START_EXECUTION) return started;
    // .sync and .sync:2 wait for the child; stopping the parent stops the child, as on AWS.
    const onAbort = () => this.abortExecution(child, 'States.Aborted', 'parent execution stopped');
    parent.controller.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await child.done;
    } finally {
      parent.controller.signal.removeEventListener('abort', onAbort);
    }
    const description = {
      ...started,
      Input: resource.endsWith(':2') ? JSON.parse(child.input) : child.input,
      Name: child.name,
      Output:
        child.output === undefined ? undefined : resource.endsWith(':2') ? JSON.parse(child.output) : child.output,
      StateMachineArn: machine.arn,
      Status: child.status,
      StopDate: child.stopDate?.toISOString(),
    };
    if (child.status !== 'SUCCEEDED') throw new TaskError('States.TaskFailed', JSON.stringify(description));
    return description;
  }

  private async collectHistory(exec: ExecutionRecord, events: AsyncGenerator<unknown>): Promise<void> {
    for await (const raw of events) {
      const event = raw as Json & { type: string; timestamp: number };
      const state = event.state as { name: string; type: string; input?: unknown; output?: unknown } | undefined;
      const stateType = state && exec.machine.waitStates.has(state.name) ? 'Wait' : state?.type;
      const push = (type: string, details: Json) => {
        const id = exec.history.length + 1;
        exec.history.push({ id, previousEventId: id - 1, timestamp: new Date(event.timestamp), type, ...details });
      };
      switch (event.type) {
        case 'ExecutionStarted':
          push('ExecutionStarted', {
            executionStartedEventDetails: {
              input: JSON.stringify(event.input),
              inputDetails: { truncated: false },
              roleArn: exec.machine.roleArn,
            },
          });
          break;
        case 'ExecutionSucceeded':
          push('ExecutionSucceeded', {
            executionSucceededEventDetails: {
              output: JSON.stringify(event.output),
              outputDetails: { truncated: false },
            },
          });
          break;
        case 'ExecutionFailed':
          push('ExecutionFailed', {
            executionFailedEventDetails: { error: String(event.Error), cause: causeText(event.Cause) },
          });
          break;
        case 'ExecutionAborted':
          push('ExecutionAborted', { executionAbortedEventDetails: { error: exec.error, cause: exec.cause } });
          break;
        case 'ExecutionTimeout':
          push('ExecutionTimedOut', { executionTimedOutEventDetails: { error: 'States.Timeout' } });
          break;
        case 'StateEntered':
          push(`${stateType}StateEntered`, {
            stateEnteredEventDetails: { name: state?.name, input: JSON.stringify(state?.input ?? null) },
          });
          break;
        case 'StateExited':
          push(`${stateType}StateExited`, {
            stateExitedEventDetails: { name: state?.name, output: JSON.stringify(state?.output ?? null) },
          });
          break;
        case 'StateFailed':
          if (stateType === 'Task') {
            push('TaskFailed', {
              taskFailedEventDetails: {
                resourceType: 'lambda',
                resource: exec.machine.resources.get(state?.name ?? '') ?? '',
                error: String(event.Error),
                cause: causeText(event.Cause),
              },
            });
          }
          break;
        default:
          break;
      }
    }
  }

  // ---- HTTP (JSON 1.0) -------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const body = (await readRequestBody(req)) ?? '';
      const target = String(req.headers['x-amz-target'] ?? '');
      if (req.method !== 'POST' || !target.startsWith('AWSStepFunctions.')) {
        throw new SfnError('UnknownOperationException', `unknown operation ${req.method} ${target}`);
      }
      let request: Json;
      try {
        request = body.length ? (JSON.parse(body) as Json) : {};
      } catch {
        throw new SfnError('SerializationException', 'request body is not valid JSON');
      }
      sendAwsJson(res, 200, await this.dispatch(target.slice('AWSStepFunctions.'.length), request), {
        contentType: SFN_CONTENT_TYPE,
      });
    } catch (err) {
      if (err instanceof SfnError) {
        sendAwsJson(
          res,
          err.status,
          { __type: err.code, message: err.message },
          {
            contentType: SFN_CONTENT_TYPE,
            errorType: err.code,
          },
        );
      } else {
        this.log(`internal error: ${(err as Error).stack ?? err}`);
        sendAwsJson(
          res,
          500,
          { __type: 'InternalFailure', message: String((err as Error).message ?? err) },
          {
            contentType: SFN_CONTENT_TYPE,
            errorType: 'InternalFailure',
          },
        );
      }
    }
  }

  private dispatch(operation: string, request: Json): unknown {
    switch (operation) {
      case 'StartExecution': {
        const machine = this.machine(arnParam(request, 'stateMachineArn'));
        const input = request.input === undefined ? '{}' : String(request.input);
        try {
          JSON.parse(input);
        } catch {
          throw new SfnError('InvalidExecutionInput', 'Invalid State Machine Execution Input: input is not valid JSON');
        }
        const name = request.name === undefined ? undefined : String(request.name);
        const exec = this.begin(machine, input, name, { journal: true });
        // Answered once the start is journaled.
        return exec.journaled.then(() => ({ executionArn: exec.executionArn, startDate: epoch(exec.startDate) }));
      }
      case 'DescribeExecution': {
        const exec = this.execution(arnParam(request, 'executionArn'));
        return {
          executionArn: exec.executionArn,
          stateMachineArn: exec.machine.arn,
          name: exec.name,
          status: exec.status,
          startDate: epoch(exec.startDate),
          stopDate: exec.stopDate && epoch(exec.stopDate),
          input: exec.input,
          inputDetails: { included: true },
          output: exec.output,
          outputDetails: exec.output === undefined ? undefined : { included: true },
          error: exec.error,
          cause: exec.cause,
          redriveCount: 0,
          redriveStatus: 'NOT_REDRIVABLE',
        };
      }
      case 'StopExecution': {
        const exec = this.execution(arnParam(request, 'executionArn'));
        const str = (v: unknown) => (v === undefined ? undefined : String(v));
        this.abortExecution(exec, str(request.error), str(request.cause));
        return { stopDate: epoch(exec.stopDate ?? new Date()) };
      }
      case 'ListExecutions': {
        const machine = this.machine(arnParam(request, 'stateMachineArn'));
        const all = [...this.executions.values()]
          .filter((e) => e.machine === machine && (!request.statusFilter || e.status === request.statusFilter))
          .reverse()
          .map((e) => ({
            executionArn: e.executionArn,
            stateMachineArn: machine.arn,
            name: e.name,
            status: e.status,
            startDate: epoch(e.startDate),
            stopDate: e.stopDate && epoch(e.stopDate),
          }));
        const { items, nextToken } = page(all, request);
        return { executions: items, nextToken };
      }
      case 'DescribeStateMachine': {
        const m = this.machine(arnParam(request, 'stateMachineArn'));
        return {
          stateMachineArn: m.arn,
          name: m.name,
          status: 'ACTIVE',
          definition: m.definition,
          roleArn: m.roleArn,
          type: m.type,
          creationDate: epoch(m.creationDate),
          loggingConfiguration: { level: 'OFF', includeExecutionData: false },
          tracingConfiguration: { enabled: false },
        };
      }
      case 'ListStateMachines': {
        const all = [...this.machines.values()].map((m) => ({
          stateMachineArn: m.arn,
          name: m.name,
          type: m.type,
          creationDate: epoch(m.creationDate),
        }));
        const { items, nextToken } = page(all, request);
        return { stateMachines: items, nextToken };
      }
      case 'GetExecutionHistory': {
        const exec = this.execution(arnParam(request, 'executionArn'));
        const includeData = request.includeExecutionData !== false;
        let events: Json[] = exec.history.map((e) => ({ ...e, timestamp: epoch(e.timestamp) }));
        if (!includeData) events = events.map(stripData);
        if (request.reverseOrder === true) events.reverse();
        const { items, nextToken } = page(events, request);
        return { events: items, nextToken };
      }
      default:
        throw new SfnError('UnknownOperationException', `operation ${operation} is not supported locally`);
    }
  }
}

function describeResult(exec: ExecutionRecord): ExecutionResult {
  return {
    executionArn: exec.executionArn,
    status: exec.status,
    output: exec.output === undefined ? undefined : JSON.parse(exec.output),
    error: exec.error,
    cause: exec.cause,
  };
}

function isLambdaArn(resource: string): boolean {
  return /^arn:aws[\w-]*:lambda:[^:]*:[^:]*:function:/.test(resource);
}

/** `arn:...:function:name:alias` -> `arn:...:function:name` (local functions have no versions). */
function stripQualifier(ref: string): string {
  const parts = ref.split(':');
  return isLambdaArn(ref) && parts.length > 7 ? parts.slice(0, 7).join(':') : ref;
}

/** A Lambda function error as Step Functions reports it: the error type, and the Cause as the runtime's JSON. */
function lambdaError(err: unknown): TaskError {
  const obj = (err ?? {}) as { name?: unknown; message?: unknown; stack?: unknown; errorType?: unknown };
  const errorType = String(obj.errorType ?? (err instanceof Error ? err.name : undefined) ?? 'Error');
  const errorMessage = String((obj as { errorMessage?: unknown }).errorMessage ?? obj.message ?? String(err));
  const trace = typeof obj.stack === 'string' ? obj.stack.split('\n') : [];
  return new TaskError(errorType, JSON.stringify({ errorType, errorMessage, trace }));
}

function validateExecutionName(name: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: AWS forbids control characters in names
  const invalid = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;
  if (name.length < 1 || name.length > 80 || invalid.test(name)) {
    throw new SfnError('InvalidName', `Invalid Name: '${name}'`);
  }
}

function arnParam(request: Json, key: string): string {
  const value = request[key];
  if (typeof value !== 'string' || !value) throw new SfnError('ValidationException', `${key} is required`);
  if (!value.startsWith('arn:')) throw new SfnError('InvalidArn', `Invalid Arn: '${value}'`);
  return value;
}

function page<T>(all: T[], request: Json): { items: T[]; nextToken?: string } {
  const start = request.nextToken ? Number.parseInt(String(request.nextToken), 10) || 0 : 0;
  const max = typeof request.maxResults === 'number' && request.maxResults > 0 ? request.maxResults : 100;
  const items = all.slice(start, start + max);
  return { items, nextToken: start + max < all.length ? String(start + max) : undefined };
}

function stripData(event: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(event)) {
    if (key.endsWith('EventDetails') && value && typeof value === 'object') {
      const { input: _i, output: _o, ...rest } = value as Json;
      out[key] = rest;
    } else {
      out[key] = value;
    }
  }
  return out;
}

function causeText(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  return typeof cause === 'string' ? cause : JSON.stringify(cause ?? '');
}

function epoch(date: Date): number {
  return date.getTime() / 1000;
}

async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  let remaining = ms;
  while (remaining > 0) {
    const chunk = Math.min(remaining, MAX_SLEEP_MS);
    await new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(new ExecutionAbortedError());
      const onAbort = () => {
        clearTimeout(timer);
        reject(new ExecutionAbortedError());
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, chunk);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    remaining -= chunk;
  }
}
