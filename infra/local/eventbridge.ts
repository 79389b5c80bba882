import { randomUUID } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readRequestBody, sendAwsJson } from './aws-http.ts';
import { DurableQueue, QueueFullError } from './durable-queue.ts';
import { matchesPattern, validatePattern } from './event-pattern.ts';
import type { TemplateResolver } from './template.ts';
import type { EventPutter, ExecutionStarter, Invoker, LocalService } from './types.ts';

/**
 * A local Amazon EventBridge: buses and rules come from the synthesized template; PutEvents is served over the
 * JSON 1.1 protocol on 127.0.0.1 (so the AWS SDK works through AWS_ENDPOINT_URL_EVENTBRIDGE) and in-process.
 * Matching events are delivered asynchronously to Lambda functions, Step Functions state machines and other buses.
 * Each accepted delivery is journaled (under `dataDir`) before PutEvents answers and removed only once it was
 * delivered or dead-lettered, so a crash loses none: pending deliveries are replayed on the next start.
 * ListRules, DescribeRule and ListEventBuses answer from the template, so `aws events list-rules` works too.
 */

/** The event envelope EventBridge builds from a PutEvents entry. */
export interface EventBridgeEvent<Detail = unknown> {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Detail;
}

/** One PutEvents request entry, as the API takes it (Time may be a Date, epoch seconds or an ISO string). */
export interface PutEventsEntry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
  Time?: Date | number | string;
  Resources?: string[];
  TraceHeader?: string;
}

export type PutEventsResultEntry = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

export interface PutEventsResponse {
  FailedEntryCount: number;
  Entries: PutEventsResultEntry[];
}

export interface InputTransformer {
  InputPathsMap?: Record<string, string>;
  InputTemplate: string;
}

export interface RuleTarget {
  Id: string;
  Arn: string;
  Input?: string;
  InputPath?: string;
  InputTransformer?: InputTransformer;
  RetryPolicy?: { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number };
  DeadLetterConfig?: { Arn?: string };
}

export interface LocalRule {
  logicalId: string;
  name: string;
  arn: string;
  bus: string;
  pattern: Record<string, unknown>;
  enabled: boolean;
  targets: RuleTarget[];
}

/** A rule as ListRules and DescribeRule describe it (scheduled rules included). */
export interface RuleDescription {
  Name: string;
  Arn: string;
  EventBusName: string;
  State: string;
  EventPattern?: string;
  ScheduleExpression?: string;
  Description?: string;
  RoleArn?: string;
}

/** A target delivery accepted and not yet finished, as kept in the journal. */
interface QueuedDelivery {
  /** The rule's ARN and the target's Id: looked up again when replayed. */
  rule: string;
  target: string;
  event: EventBridgeEvent;
  hops: number;
}

/** A successful delivery of an event to one target of one rule. */
export interface Delivery {
  bus: string;
  rule: string;
  ruleArn: string;
  target: string;
  targetArn: string;
  event: EventBridgeEvent;
  payload: unknown;
  attempts: number;
}

/** A delivery that failed after its retries: AWS sends it to the target's DLQ (if any); locally it is kept here. */
export interface DeadLetter extends Delivery {
  error: string;
  deadLetterArn?: string;
}

/** A request-level error, rendered as the AWS JSON error {__type, message}. */
export class EventBridgeError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = type;
  }
}

export interface LocalEventBridgeOptions {
  resolver: TemplateResolver;
  invoker: Invoker;
  executions?: ExecutionStarter;
  /** 0 (the default) picks an ephemeral port. */
  port?: number;
  log?: (msg: string) => void;
  /** First retry delay; it doubles per attempt. */
  retryDelayMs?: number;
  /** Cap on retries per delivery: AWS retries for up to 24 h (185 times), which locally would only hide errors. */
  maxRetries?: number;
  /** How many recent events, deliveries and dead letters to keep. */
  historySize?: number;
  /** Where accepted deliveries are journaled until done; without it they are kept in memory. */
  dataDir?: string;
}

const MAX_ENTRIES = 10;
const MAX_REQUEST_BYTES = 256 * 1024;
const MAX_BUS_HOPS = 5;
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

type TargetKind = 'lambda' | 'states' | 'bus' | 'unsupported';

interface Waiter {
  predicate: (delivery: Delivery) => boolean;
  resolve: (delivery: Delivery) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class LocalEventBridge implements LocalService, EventPutter {
  readonly name = 'eventbridge';
  readonly deliveries: Delivery[] = [];
  readonly deadLetters: DeadLetter[] = [];

  private readonly log: (msg: string) => void;
  private readonly retryDelayMs: number;
  private readonly maxRetries: number;
  private readonly historySize: number;
  private readonly archive: Array<{ bus: string; event: EventBridgeEvent }> = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly waiters = new Set<Waiter>();
  private readonly server: Server;
  private url = '';
  private stopped = false;
  private replayed = false;

  private constructor(
    private readonly options: LocalEventBridgeOptions,
    readonly buses: ReadonlySet<string>,
    readonly rules: readonly LocalRule[],
    private readonly described: readonly RuleDescription[],
    private readonly queue: DurableQueue<QueuedDelivery>,
  ) {
    this.log = options.log ?? ((msg) => console.log(`[eventbridge] ${msg}`));
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.maxRetries = options.maxRetries ?? 2;
    this.historySize = options.historySize ?? 1000;
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  /**
   * Starts the endpoint. Deliveries a previous run accepted but did not finish wait for `deliverPending()`, so the
   * caller can first start what they are delivered to.
   */
  static async start(options: LocalEventBridgeOptions): Promise<LocalEventBridge> {
    const { buses, rules, described } = readTemplate(options.resolver);
    const queue = await DurableQueue.open<QueuedDelivery>(
      options.dataDir ? { dir: join(options.dataDir, 'deliveries') } : {},
    );
    const bridge = new LocalEventBridge(options, buses, rules, described, queue);
    for (const rule of rules) {
      for (const target of rule.targets) {
        if (targetKind(target.Arn, options.invoker) === 'unsupported') {
          bridge.log(`rule ${rule.name}: target ${target.Id} (${target.Arn}) is not supported locally; skipped`);
        }
      }
    }
    await new Promise<void>((resolve, reject) => {
      bridge.server.once('error', reject);
      bridge.server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    bridge.url = `http://127.0.0.1:${(bridge.server.address() as AddressInfo).port}`;
    return bridge;
  }

  /** Base URL for AWS_ENDPOINT_URL_EVENTBRIDGE. */
  get endpoint(): string {
    return this.url;
  }

  /** EventPutter: the in-process PutEvents; `eventIds` is aligned with `entries` ('' for a failed entry). */
  async putEvents(entries: PutEventsEntry[]): Promise<{ failedEntryCount: number; eventIds: string[] }> {
    const response = await this.put(entries);
    return {
      failedEntryCount: response.FailedEntryCount,
      eventIds: response.Entries.map((entry) => ('EventId' in entry ? entry.EventId : '')),
    };
  }

  /**
   * The PutEvents API: validates and routes every entry; the deliveries are journaled before it answers and run
   * after, as on AWS.
   */
  async put(entries: unknown, options: { service?: boolean } = {}): Promise<PutEventsResponse> {
    if (this.stopped) throw new EventBridgeError('InternalException', 'the local EventBridge is stopped', 500);
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > MAX_ENTRIES) {
      const count = Array.isArray(entries) ? entries.length : 0;
      const bound = count < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_ENTRIES}`;
      throw new EventBridgeError(
        'ValidationException',
        `1 validation error detected: Value at 'entries' failed to satisfy constraint: ` +
          `Member must have length ${bound}`,
      );
    }
    const size = entries.reduce((sum: number, entry) => sum + entrySize(entry), 0);
    if (size > MAX_REQUEST_BYTES) {
      throw new EventBridgeError('ValidationException', 'Total size of the entries in the request is over the limit.');
    }
    const parsed = entries.map((entry) => this.parseEntry(entry, options.service === true));
    const accepted = parsed.filter((p): p is { bus: string; event: EventBridgeEvent } => !('ErrorCode' in p));
    let throttled = false;
    try {
      await this.publish(accepted.flatMap(({ bus, event }) => this.route(bus, event, 0)));
      for (const { bus, event } of accepted) remember(this.archive, { bus, event }, this.historySize);
    } catch (error) {
      if (!(error instanceof QueueFullError)) throw error;
      this.log(`PutEvents throttled: ${error.message}`);
      throttled = true;
    }
    const results = parsed.map((p): PutEventsResultEntry => {
      if ('ErrorCode' in p) return p;
      if (throttled) return { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded.' };
      return { EventId: p.event.id };
    });
    return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
  }

  /**
   * An AWS service's own events (e.g. SES sending events, source `aws.ses`), put in-process by the local emulator of
   * that service: the reserved `aws.` sources are refused on the PutEvents API, as on AWS, but not here.
   */
  putServiceEvents(entries: PutEventsEntry[]): Promise<PutEventsResponse> {
    return this.put(entries, { service: true });
  }

  /** Starts the deliveries a previous run journaled and did not finish (once). */
  deliverPending(): number {
    if (this.replayed) return 0;
    this.replayed = true;
    const pending = this.queue.entries();
    for (const [id, job] of pending) this.schedule(id, job);
    if (pending.length > 0) this.log(`replaying ${pending.length} accepted delivery(ies)`);
    return pending.length;
  }

  /** Deliveries accepted and not yet delivered or dead-lettered. */
  get pendingDeliveries(): number {
    return this.queue.size;
  }

  /** ListEventBuses: the default bus and the template's. */
  listEventBuses(input: { NamePrefix?: unknown; NextToken?: unknown; Limit?: unknown }) {
    const all = [...this.buses]
      .sort()
      .filter((name) => typeof input.NamePrefix !== 'string' || name.startsWith(input.NamePrefix))
      .map((Name) => ({ Name, Arn: this.busArn(Name) }));
    const { page, NextToken } = paginate(all, input);
    return { EventBuses: page, ...(NextToken ? { NextToken } : {}) };
  }

  /** ListRules: the rules of one bus (default: the default bus), scheduled and disabled ones included. */
  listRules(input: { EventBusName?: unknown; NamePrefix?: unknown; NextToken?: unknown; Limit?: unknown }) {
    const bus = this.existingBus(input.EventBusName);
    const all = this.described.filter(
      (rule) =>
        rule.EventBusName === bus && (typeof input.NamePrefix !== 'string' || rule.Name.startsWith(input.NamePrefix)),
    );
    const { page, NextToken } = paginate(all, input);
    return { Rules: page, ...(NextToken ? { NextToken } : {}) };
  }

  /** DescribeRule: one rule of a bus by name. */
  describeRule(input: { Name?: unknown; EventBusName?: unknown }) {
    if (typeof input.Name !== 'string' || input.Name === '') {
      throw new EventBridgeError(
        'ValidationException',
        "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null",
      );
    }
    const bus = this.existingBus(input.EventBusName);
    const rule = this.described.find((r) => r.EventBusName === bus && r.Name === input.Name);
    if (!rule) {
      throw new EventBridgeError('ResourceNotFoundException', `Rule ${input.Name} does not exist on EventBus ${bus}.`);
    }
    return { ...rule, CreatedBy: this.options.resolver.account };
  }

  /** The most recent events put on a bus (all buses when omitted), oldest first. */
  recentEvents(bus?: string): EventBridgeEvent[] {
    return this.archive.filter((a) => bus === undefined || a.bus === bus).map((a) => a.event);
  }

  /** Resolves with the first delivery, past or future, that satisfies the predicate. */
  waitForDelivery(predicate: (delivery: Delivery) => boolean, timeoutMs = 5000): Promise<Delivery> {
    const done = this.deliveries.find(predicate);
    if (done) return Promise.resolve(done);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`no matching EventBridge delivery within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Resolves once no delivery (including retries and bus-to-bus hops) is in flight. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await this.idle();
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('the local EventBridge stopped'));
    }
    this.waiters.clear();
    await this.queue.close();
  }

  // -------------------------------------------------------------------------------------------------------------

  private parseEntry(
    raw: unknown,
    service = false,
  ): { bus: string; event: EventBridgeEvent } | { ErrorCode: string; ErrorMessage: string } {
    const entry = (raw ?? {}) as Record<string, unknown>;
    const invalid = (parameter: string, reason: string) => ({
      ErrorCode: 'InvalidArgument',
      ErrorMessage: `Parameter ${parameter} is not valid. Reason: ${reason}`,
    });
    const bus = busName(typeof entry.EventBusName === 'string' && entry.EventBusName ? entry.EventBusName : 'default');
    if (!this.buses.has(bus))
      return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${bus} does not exist.` };
    for (const parameter of ['Source', 'DetailType', 'Detail']) {
      const value = entry[parameter];
      if (typeof value !== 'string' || value === '') return invalid(parameter, `${parameter} is a required argument.`);
    }
    const source = entry.Source as string;
    // Sources starting with "aws." are reserved for AWS services.
    if (source.startsWith('aws.') && !service) {
      return { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' };
    }
    let detail: unknown;
    try {
      detail = JSON.parse(entry.Detail as string);
    } catch {
      detail = undefined;
    }
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    const resources = entry.Resources ?? [];
    if (!Array.isArray(resources) || !resources.every((r) => typeof r === 'string')) {
      return invalid('Resources', 'Resources must be a list of strings.');
    }
    const time = entry.Time === undefined || entry.Time === null ? new Date() : parseTime(entry.Time);
    if (!time) return invalid('Time', 'Time must be a timestamp.');
    const { resolver } = this.options;
    const event: EventBridgeEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': entry.DetailType as string,
      source,
      account: resolver.account,
      time: isoSeconds(time),
      region: resolver.region,
      resources,
      detail,
    };
    return { bus, event };
  }

  /** One delivery per target of every enabled rule of the bus that matches the event. */
  private route(bus: string, event: EventBridgeEvent, hops: number): QueuedDelivery[] {
    const jobs: QueuedDelivery[] = [];
    for (const rule of this.rules) {
      if (rule.bus !== bus || !rule.enabled || !matchesPattern(rule.pattern, event)) continue;
      for (const target of rule.targets) {
        if (targetKind(target.Arn, this.options.invoker) !== 'unsupported') {
          jobs.push({ rule: rule.arn, target: target.Id, event, hops });
        }
      }
    }
    return jobs;
  }

  /** Journals the deliveries (durable once this resolves), then schedules them. */
  private async publish(jobs: QueuedDelivery[]): Promise<void> {
    if (jobs.length === 0) return;
    const ids = await this.queue.add(jobs);
    for (const [i, job] of jobs.entries()) this.schedule(ids[i] as string, job);
  }

  private schedule(id: string, job: QueuedDelivery): void {
    const rule = this.rules.find((r) => r.arn === job.rule);
    const target = rule?.targets.find((t) => t.Id === job.target);
    const kind = target ? targetKind(target.Arn, this.options.invoker) : 'unsupported';
    if (!rule || !target || kind === 'unsupported') {
      this.log(`delivery to ${job.rule} / ${job.target} dropped: no such rule and target in the template any more`);
      void this.queue.remove(id).catch((error: unknown) => this.log(`journal: ${errorText(error)}`));
      return;
    }
    this.track(async () => {
      const finished = await this.deliver(rule, target, kind, job.event, job.hops);
      // Stopped mid-delivery: it stays journaled for the next start.
      if (finished) await this.queue.remove(id);
    });
  }

  private track(work: () => Promise<void>): void {
    // setImmediate: PutEvents answers before any target runs, as on AWS.
    const promise: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(work)
      .catch((error: unknown) => this.log(`delivery crashed: ${errorText(error)}`))
      .finally(() => this.inFlight.delete(promise));
    this.inFlight.add(promise);
  }

  private async deliver(
    rule: LocalRule,
    target: RuleTarget,
    kind: TargetKind,
    event: EventBridgeEvent,
    hops: number,
  ): Promise<boolean> {
    const base = { bus: rule.bus, rule: rule.name, ruleArn: rule.arn, target: target.Id, targetArn: target.Arn, event };
    const retries = Math.min(target.RetryPolicy?.MaximumRetryAttempts ?? this.maxRetries, this.maxRetries);
    const maxAgeMs = (target.RetryPolicy?.MaximumEventAgeInSeconds ?? 86_400) * 1000;
    const started = Date.now();
    let payload: unknown = event;
    let attempts = 0;
    let lastError: unknown;
    try {
      // Bus targets get the event itself; other targets get the (possibly transformed) input.
      payload = kind === 'bus' ? event : targetInput(target, event, rule);
    } catch (error) {
      await this.deadLetter({ ...base, payload, attempts, error: errorText(error) }, target);
      return true;
    }
    while (attempts <= retries) {
      if (attempts > 0) {
        if (this.stopped) return false;
        if (Date.now() - started > maxAgeMs) break;
        await sleep(this.retryDelayMs * 2 ** (attempts - 1));
      }
      attempts++;
      try {
        await this.send(kind, target.Arn, payload, event, hops);
        const delivery: Delivery = { ...base, payload, attempts };
        remember(this.deliveries, delivery, this.historySize);
        this.log(`${rule.name} -> ${target.Id}: delivered ${event['detail-type']} (${event.id})`);
        this.notify(delivery);
        return true;
      } catch (error) {
        lastError = error;
        this.log(`${rule.name} -> ${target.Id}: attempt ${attempts} failed: ${errorText(error)}`);
      }
    }
    if (this.stopped) return false;
    await this.deadLetter({ ...base, payload, attempts, error: errorText(lastError) }, target);
    return true;
  }

  private async send(kind: TargetKind, arn: string, payload: unknown, event: EventBridgeEvent, hops: number) {
    switch (kind) {
      case 'lambda':
        await this.options.invoker.invoke(arn, payload, 'Event');
        return;
      case 'states':
        if (!this.options.executions) throw new Error(`no local Step Functions service to start ${arn}`);
        await this.options.executions.startExecution(arn, payload);
        return;
      case 'bus': {
        const bus = busName(arn);
        if (!this.buses.has(bus)) throw new Error(`event bus ${bus} does not exist`);
        // Guards against rules that forward events around in a loop.
        if (hops >= MAX_BUS_HOPS) throw new Error(`event ${event.id} crossed ${MAX_BUS_HOPS} buses; dropped`);
        await this.publish(this.route(bus, event, hops + 1));
        remember(this.archive, { bus, event }, this.historySize);
        return;
      }
      default:
        throw new Error(`unsupported target ${arn}`);
    }
  }

  private async deadLetter(letter: DeadLetter, target: RuleTarget): Promise<void> {
    const deadLetterArn = target.DeadLetterConfig?.Arn;
    const where = deadLetterArn ? `dead-letter queue ${deadLetterArn}` : 'no dead-letter queue: dropped';
    const kept = deadLetterArn ? { ...letter, deadLetterArn } : letter;
    remember(this.deadLetters, kept, this.historySize);
    // The queue is not emulated: its messages are appended to a file beside the journal, so none is lost.
    if (deadLetterArn && this.options.dataDir) {
      await mkdir(this.options.dataDir, { recursive: true });
      await appendFile(join(this.options.dataDir, 'dead-letters.jsonl'), `${JSON.stringify(kept)}\n`);
    }
    this.log(
      `${letter.rule} -> ${letter.target}: gave up after ${letter.attempts} attempt(s) on ${letter.event.id}: ` +
        `${letter.error} (${where})`,
    );
  }

  private notify(delivery: Delivery): void {
    for (const waiter of this.waiters) {
      if (!waiter.predicate(delivery)) continue;
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
      waiter.resolve(delivery);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const body = await readRequestBody(req, 4 * MAX_REQUEST_BYTES + 64 * 1024);
      if (body === undefined) throw new EventBridgeError('ValidationException', 'Request is too large.', 413);
      const operation = String(req.headers['x-amz-target'] ?? '');
      const handler = req.method === 'POST' ? OPERATIONS[operation] : undefined;
      if (!handler) {
        throw new EventBridgeError('UnknownOperationException', `Unknown operation ${operation || req.method}`);
      }
      let input: Record<string, unknown>;
      try {
        input = body ? (JSON.parse(body) as Record<string, unknown>) : {};
      } catch {
        throw new EventBridgeError('SerializationException', 'Request body is not valid JSON');
      }
      if (typeof input !== 'object' || input === null || Array.isArray(input)) {
        throw new EventBridgeError('SerializationException', 'Request body must be a JSON object');
      }
      sendAwsJson(res, 200, await handler(this, input), { contentType: JSON_CONTENT_TYPE });
    } catch (error) {
      const e =
        error instanceof EventBridgeError ? error : new EventBridgeError('InternalException', errorText(error), 500);
      if (e.status >= 500) this.log(`request failed: ${e.message}`);
      sendAwsJson(res, e.status, { __type: e.type, message: e.message }, { contentType: JSON_CONTENT_TYPE });
    }
  }

  private existingBus(nameOrArn: unknown): string {
    const bus = busName(typeof nameOrArn === 'string' && nameOrArn ? nameOrArn : 'default');
    if (!this.buses.has(bus))
      throw new EventBridgeError('ResourceNotFoundException', `Event bus ${bus} does not exist.`);
    return bus;
  }

  private busArn(name: string): string {
    return this.options.resolver.arn('events', `event-bus/${name}`);
  }
}

/** The operations the endpoint serves (X-Amz-Target). */
const OPERATIONS: Record<string, (bridge: LocalEventBridge, input: Record<string, unknown>) => unknown> = {
  'AWSEvents.PutEvents': (bridge, input) => bridge.put(input.Entries),
  'AWSEvents.ListEventBuses': (bridge, input) => bridge.listEventBuses(input),
  'AWSEvents.ListRules': (bridge, input) => bridge.listRules(input),
  'AWSEvents.DescribeRule': (bridge, input) => bridge.describeRule(input),
};

/** Limit (1-100) and an opaque NextToken, as the List APIs take them. */
function paginate<T>(all: T[], input: { NextToken?: unknown; Limit?: unknown }): { page: T[]; NextToken?: string } {
  const limit = input.Limit === undefined || input.Limit === null ? 100 : Number(input.Limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    throw new EventBridgeError(
      'ValidationException',
      "1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value between 1 and 100",
    );
  }
  let start = 0;
  if (input.NextToken !== undefined && input.NextToken !== null) {
    const decoded = /^o(\d+)$/.exec(Buffer.from(String(input.NextToken), 'base64url').toString('utf8'));
    if (!decoded) throw new EventBridgeError('ValidationException', 'The NextToken is invalid.');
    start = Number(decoded[1]);
  }
  const page = all.slice(start, start + limit);
  const next = start + limit < all.length ? Buffer.from(`o${start + limit}`).toString('base64url') : undefined;
  return { page, ...(next ? { NextToken: next } : {}) };
}

// ---------------------------------------------------------------------------------------------------------------
// Template

function readTemplate(resolver: TemplateResolver): {
  buses: Set<string>;
  rules: LocalRule[];
  described: RuleDescription[];
} {
  const included = (resource: { Condition?: string }) => !resource.Condition || resolver.condition(resource.Condition);
  const buses = new Set<string>(['default']);
  for (const [logicalId, resource] of resolver.resourcesOfType('AWS::Events::EventBus')) {
    if (included(resource)) buses.add(resolver.ref(logicalId));
  }
  const rules: LocalRule[] = [];
  const described: RuleDescription[] = [];
  for (const [logicalId, resource] of resolver.resourcesOfType('AWS::Events::Rule')) {
    if (!included(resource)) continue;
    const props = resolver.properties(logicalId);
    const bus = busName(typeof props.EventBusName === 'string' && props.EventBusName ? props.EventBusName : 'default');
    // A bus the rule names but the template does not create exists outside the stack: accept events for it.
    buses.add(bus);
    const name = typeof props.Name === 'string' && props.Name ? props.Name : logicalId;
    const arn = resolver.arn('events', bus === 'default' ? `rule/${name}` : `rule/${bus}/${name}`);
    const state = props.State === undefined ? 'ENABLED' : String(props.State);
    const pattern =
      props.EventPattern === undefined
        ? undefined
        : typeof props.EventPattern === 'string'
          ? JSON.parse(props.EventPattern)
          : props.EventPattern;
    described.push({
      Name: name,
      Arn: arn,
      EventBusName: bus,
      State: state,
      ...(pattern !== undefined ? { EventPattern: JSON.stringify(pattern) } : {}),
      ...(typeof props.ScheduleExpression === 'string' ? { ScheduleExpression: props.ScheduleExpression } : {}),
      ...(typeof props.Description === 'string' ? { Description: props.Description } : {}),
      ...(typeof props.RoleArn === 'string' ? { RoleArn: props.RoleArn } : {}),
    });
    // Scheduled rules (ScheduleExpression, no EventPattern) are not event-driven: nothing to match here.
    if (pattern === undefined) continue;
    try {
      validatePattern(pattern);
    } catch (error) {
      throw new Error(`AWS::Events::Rule ${logicalId}: ${errorText(error)}`);
    }
    rules.push({
      logicalId,
      name,
      arn,
      bus,
      pattern: pattern as Record<string, unknown>,
      enabled: state.startsWith('ENABLED'),
      targets: ((props.Targets ?? []) as RuleTarget[]).map((t) => ({ ...t, Id: String(t.Id), Arn: String(t.Arn) })),
    });
  }
  return { buses, rules, described };
}

/** A bus name from a name or an ARN (arn:aws:events:region:account:event-bus/name). */
function busName(nameOrArn: string): string {
  const match = /^arn:[^:]+:events:[^:]*:[^:]*:event-bus\/(.+)$/.exec(nameOrArn);
  return match ? (match[1] as string) : nameOrArn;
}

function targetKind(arn: string, invoker: Invoker): TargetKind {
  if (/^arn:[^:]+:lambda:/.test(arn) || invoker.has(arn)) return 'lambda';
  if (/^arn:[^:]+:states:[^:]*:[^:]*:stateMachine:/.test(arn)) return 'states';
  if (/^arn:[^:]+:events:[^:]*:[^:]*:event-bus\//.test(arn)) return 'bus';
  return 'unsupported';
}

// ---------------------------------------------------------------------------------------------------------------
// Target input: Input, InputPath, InputTransformer

/** What the target receives: constant Input, the InputPath selection, the InputTransformer output, or the event. */
export function targetInput(target: RuleTarget, event: EventBridgeEvent, rule: { name: string; arn: string }): unknown {
  if (target.Input !== undefined) return parseOrText(target.Input);
  if (target.InputPath !== undefined) return selectPath(event, target.InputPath) ?? null;
  if (target.InputTransformer) return parseOrText(transformInput(target.InputTransformer, event, rule));
  return event;
}

/** Evaluates the JSONPath subset EventBridge supports: `$`, `$.a.b`, `$.a[0]`, `$['a']`. Undefined when absent. */
export function selectPath(root: unknown, path: string): unknown {
  if (!path.startsWith('$')) return undefined;
  const step = /\.([^.[\]]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/y;
  let value: unknown = root;
  step.lastIndex = 1;
  while (step.lastIndex < path.length) {
    const match = step.exec(path);
    if (!match) return undefined;
    const key = match[1] ?? match[3] ?? match[4];
    if (key !== undefined) {
      value =
        typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, key)
          ? (value as Record<string, unknown>)[key]
          : undefined;
    } else {
      value = Array.isArray(value) ? value[Number(match[2])] : undefined;
    }
    if (value === undefined) return undefined;
  }
  return value;
}

/**
 * Fills an InputTemplate as EventBridge does. In a JSON template (one starting with `{` or `[`), a placeholder outside
 * quotes becomes the value's JSON (strings quoted); inside a quoted string, or in a plain-text template, it becomes
 * the value's text, unescaped (AWS documents that it does not escape extracted values). Predefined variables:
 * aws.events.rule-arn, aws.events.rule-name, aws.events.event, aws.events.event.json, aws.events.event.ingestion-time.
 * A path absent from the event yields null (JSON) or an empty string (text).
 */
export function transformInput(
  transformer: InputTransformer,
  event: EventBridgeEvent,
  rule: { name: string; arn: string },
): string {
  const eventJson = JSON.stringify(event);
  const values = new Map<string, { json: string; text: string }>();
  const set = (name: string, value: unknown) =>
    values.set(name, {
      json: value === undefined ? 'null' : JSON.stringify(value),
      text: typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value),
    });
  for (const [name, path] of Object.entries(transformer.InputPathsMap ?? {})) set(name, selectPath(event, path));
  set('aws.events.rule-arn', rule.arn);
  set('aws.events.rule-name', rule.name);
  set('aws.events.event', event);
  set('aws.events.event.ingestion-time', new Date().toISOString());
  values.set('aws.events.event.json', { json: eventJson, text: eventJson });

  const template = transformer.InputTemplate;
  const json = /^\s*[{[]/.test(template);
  let out = '';
  let inString = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i] as string;
    if (inString && c === '\\') {
      out += c + (template[i + 1] ?? '');
      i++;
    } else if (c === '"') {
      inString = !inString;
      out += c;
    } else if (c === '<') {
      const match = /^<([A-Za-z0-9_.-]+)>/.exec(template.slice(i));
      const value = match ? values.get(match[1] as string) : undefined;
      if (match && value) {
        out += json && !inString ? value.json : value.text;
        i += match[0].length - 1;
      } else {
        out += c;
      }
    } else {
      out += c;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/** PutEvents entry size as AWS computes it (Time counts 14 bytes; strings count their UTF-8 bytes). */
function entrySize(raw: unknown): number {
  const entry = (raw ?? {}) as Record<string, unknown>;
  const bytes = (value: unknown) => (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 0);
  let size = entry.Time === undefined || entry.Time === null ? 0 : 14;
  size += bytes(entry.Source) + bytes(entry.DetailType) + bytes(entry.Detail);
  if (Array.isArray(entry.Resources)) for (const r of entry.Resources) size += bytes(r);
  return size;
}

function parseTime(value: unknown): Date | undefined {
  let date: Date | undefined;
  if (value instanceof Date) date = value;
  // The SDK's JSON 1.1 protocol sends timestamps as epoch seconds.
  else if (typeof value === 'number') date = new Date(value * 1000);
  else if (typeof value === 'string')
    date = /^\d+(\.\d+)?$/.test(value) ? new Date(Number(value) * 1000) : new Date(value);
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}

/** EventBridge event times have second precision: 2017-10-02T16:24:49Z. */
function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function remember<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
