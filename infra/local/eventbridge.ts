import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readRequestBody, sendAwsJson } from './aws-http.ts';
import { matchesPattern, validatePattern } from './event-pattern.ts';
import type { TemplateResolver } from './template.ts';
import type { EventPutter, ExecutionStarter, Invoker, LocalService } from './types.ts';

/**
 * A local Amazon EventBridge: buses and rules come from the synthesized template; PutEvents is served over the
 * JSON 1.1 protocol on 127.0.0.1 (so the AWS SDK works through AWS_ENDPOINT_URL_EVENTBRIDGE) and in-process.
 * Matching events are delivered asynchronously to Lambda functions, Step Functions state machines and other buses.
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

  private constructor(
    private readonly options: LocalEventBridgeOptions,
    readonly buses: ReadonlySet<string>,
    readonly rules: readonly LocalRule[],
  ) {
    this.log = options.log ?? ((msg) => console.log(`[eventbridge] ${msg}`));
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.maxRetries = options.maxRetries ?? 2;
    this.historySize = options.historySize ?? 1000;
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(options: LocalEventBridgeOptions): Promise<LocalEventBridge> {
    const { buses, rules } = readTemplate(options.resolver);
    const bridge = new LocalEventBridge(options, buses, rules);
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
    const response = this.put(entries);
    return {
      failedEntryCount: response.FailedEntryCount,
      eventIds: response.Entries.map((entry) => ('EventId' in entry ? entry.EventId : '')),
    };
  }

  /** The PutEvents API: validates and routes every entry; deliveries run after it returns, as on AWS. */
  put(entries: unknown): PutEventsResponse {
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
    const results = entries.map((entry): PutEventsResultEntry => {
      const parsed = this.parseEntry(entry);
      if ('ErrorCode' in parsed) return parsed;
      this.publish(parsed.bus, parsed.event, 0);
      return { EventId: parsed.event.id };
    });
    return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
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
  }

  // -------------------------------------------------------------------------------------------------------------

  private parseEntry(
    raw: unknown,
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
    if (source.startsWith('aws.')) {
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

  /** Archives the event and schedules a delivery per target of every enabled rule of the bus that matches it. */
  private publish(bus: string, event: EventBridgeEvent, hops: number): void {
    remember(this.archive, { bus, event }, this.historySize);
    for (const rule of this.rules) {
      if (rule.bus !== bus || !rule.enabled || !matchesPattern(rule.pattern, event)) continue;
      for (const target of rule.targets) {
        const kind = targetKind(target.Arn, this.options.invoker);
        if (kind !== 'unsupported') this.track(() => this.deliver(rule, target, kind, event, hops));
      }
    }
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
  ): Promise<void> {
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
      return this.deadLetter({ ...base, payload, attempts, error: errorText(error) }, target);
    }
    while (attempts <= retries) {
      if (attempts > 0) {
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
        return;
      } catch (error) {
        lastError = error;
        this.log(`${rule.name} -> ${target.Id}: attempt ${attempts} failed: ${errorText(error)}`);
      }
    }
    this.deadLetter({ ...base, payload, attempts, error: errorText(lastError) }, target);
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
        this.publish(bus, event, hops + 1);
        return;
      }
      default:
        throw new Error(`unsupported target ${arn}`);
    }
  }

  private deadLetter(letter: DeadLetter, target: RuleTarget): void {
    const deadLetterArn = target.DeadLetterConfig?.Arn;
    const where = deadLetterArn ? `dead-letter queue ${deadLetterArn}` : 'no dead-letter queue: dropped';
    remember(this.deadLetters, deadLetterArn ? { ...letter, deadLetterArn } : letter, this.historySize);
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
      if (req.method !== 'POST' || operation !== 'AWSEvents.PutEvents') {
        throw new EventBridgeError('UnknownOperationException', `Unknown operation ${operation || req.method}`);
      }
      let input: { Entries?: unknown };
      try {
        input = body ? (JSON.parse(body) as { Entries?: unknown }) : {};
      } catch {
        throw new EventBridgeError('SerializationException', 'Request body is not valid JSON');
      }
      sendAwsJson(res, 200, this.put(input?.Entries), { contentType: JSON_CONTENT_TYPE });
    } catch (error) {
      const e =
        error instanceof EventBridgeError ? error : new EventBridgeError('InternalException', errorText(error), 500);
      if (e.status >= 500) this.log(`PutEvents failed: ${e.message}`);
      sendAwsJson(res, e.status, { __type: e.type, message: e.message }, { contentType: JSON_CONTENT_TYPE });
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Template

function readTemplate(resolver: TemplateResolver): { buses: Set<string>; rules: LocalRule[] } {
  const included = (resource: { Condition?: string }) => !resource.Condition || resolver.condition(resource.Condition);
  const buses = new Set<string>(['default']);
  for (const [logicalId, resource] of resolver.resourcesOfType('AWS::Events::EventBus')) {
    if (included(resource)) buses.add(resolver.ref(logicalId));
  }
  const rules: LocalRule[] = [];
  for (const [logicalId, resource] of resolver.resourcesOfType('AWS::Events::Rule')) {
    if (!included(resource)) continue;
    const props = resolver.properties(logicalId);
    // Scheduled rules (ScheduleExpression, no EventPattern) are not event-driven: nothing to match here.
    if (props.EventPattern === undefined) continue;
    const pattern = typeof props.EventPattern === 'string' ? JSON.parse(props.EventPattern) : props.EventPattern;
    try {
      validatePattern(pattern);
    } catch (error) {
      throw new Error(`AWS::Events::Rule ${logicalId}: ${errorText(error)}`);
    }
    const bus = busName(typeof props.EventBusName === 'string' && props.EventBusName ? props.EventBusName : 'default');
    // A bus the rule names but the template does not create exists outside the stack: accept events for it.
    buses.add(bus);
    const name = typeof props.Name === 'string' && props.Name ? props.Name : logicalId;
    rules.push({
      logicalId,
      name,
      arn: resolver.arn('events', bus === 'default' ? `rule/${name}` : `rule/${bus}/${name}`),
      bus,
      pattern: pattern as Record<string, unknown>,
      enabled: props.State === undefined || String(props.State).startsWith('ENABLED'),
      targets: ((props.Targets ?? []) as RuleTarget[]).map((t) => ({ ...t, Id: String(t.Id), Arn: String(t.Arn) })),
    });
  }
  return { buses, rules };
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
