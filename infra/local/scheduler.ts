import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readRequestBody, sendAwsJson } from './aws-http.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION, type TemplateResolver } from './template.ts';
import type { EventPutter, ExecutionStarter, Invoker, LocalService } from './types.ts';

/**
 * Local EventBridge Scheduler: the REST-JSON API `@aws-sdk/client-scheduler` speaks (schedules and schedule groups),
 * schedules persisted under `<dataDir>/scheduler/`, and a poller that fires due schedules at local Lambda functions,
 * state machines and event buses. A schedule that came due while the process was down fires once on the next start.
 */

export interface LocalSchedulerOptions {
  dataDir: string;
  invoker: Invoker;
  /** Target of state machine ARNs. */
  executions?: ExecutionStarter;
  /** Target of `arn:aws:events:...:event-bus/...` ARNs. */
  events?: EventPutter;
  /** When given, the template's schedule groups and schedules (AWS::Scheduler::*) exist from the start. */
  resolver?: TemplateResolver;
  port?: number;
  pollIntervalMs?: number;
  now?: () => Date;
  log?: (message: string) => void;
}

export interface ScheduleTarget {
  Arn: string;
  RoleArn: string;
  Input?: string;
  RetryPolicy?: { MaximumEventAgeInSeconds?: number; MaximumRetryAttempts?: number };
  DeadLetterConfig?: { Arn?: string };
  EventBridgeParameters?: { DetailType: string; Source: string };
  [other: string]: unknown;
}

/** One delivery of a schedule, retried per the target's RetryPolicy until it succeeds or gives up. */
interface Occurrence {
  scheduledTime: number;
  executionId: string;
  attempt: number;
  firstAttemptAt: number;
  retryAt: number;
}

/** A schedule as stored; dates are epoch milliseconds. */
export interface StoredSchedule {
  Name: string;
  GroupName: string;
  Arn: string;
  ScheduleExpression: string;
  ScheduleExpressionTimezone?: string;
  StartDate?: number;
  EndDate?: number;
  Description?: string;
  State: 'ENABLED' | 'DISABLED';
  KmsKeyArn?: string;
  Target: ScheduleTarget;
  FlexibleTimeWindow: { Mode: 'OFF' | 'FLEXIBLE'; MaximumWindowInMinutes?: number };
  ActionAfterCompletion: 'NONE' | 'DELETE';
  CreationDate: number;
  LastModificationDate: number;
  /** Local bookkeeping: the next occurrence not yet fired (none once a one-time schedule fired). */
  nextFireAt?: number;
  lastFiredAt?: number;
  /** Set once no occurrence remains: a one-time schedule fired, or a recurring one passed its EndDate. */
  completedAt?: number;
  pending: Occurrence[];
  fromTemplate?: boolean;
}

interface StoredGroup {
  Name: string;
  CreationDate: number;
  LastModificationDate: number;
}

interface StoreFile {
  version: 1;
  groups: StoredGroup[];
  schedules: StoredSchedule[];
  tags: Record<string, Array<{ Key: string; Value: string }>>;
}

type Json = Record<string, unknown>;

export class SchedulerError extends Error {
  constructor(
    readonly code:
      | 'ValidationException'
      | 'ConflictException'
      | 'ResourceNotFoundException'
      | 'InternalServerException',
    message: string,
  ) {
    super(message);
  }

  get status(): number {
    const statuses: Record<string, number> = {
      ValidationException: 400,
      ConflictException: 409,
      ResourceNotFoundException: 404,
    };
    return statuses[this.code] ?? 500;
  }
}

/** A delivery failure that retrying cannot fix (bad input, unsupported target). */
class PermanentFailure extends Error {}

const DEFAULT_GROUP = 'default';
const NAME_PATTERN = /^[0-9a-zA-Z\-_.]{1,64}$/;
const MAX_BACKOFF_MS = 60_000;
/** Errors no retry can fix (the target does not exist): AWS does not retry client errors either. */
const NOT_RETRYABLE = new Set(['StateMachineDoesNotExist', 'ResourceNotFoundException', 'ValidationException']);

export class LocalScheduler implements LocalService {
  readonly name = 'scheduler';
  readonly endpoint: string;
  private readonly schedules = new Map<string, StoredSchedule>();
  private readonly groups = new Map<string, StoredGroup>();
  private tags: StoreFile['tags'] = {};
  private readonly file: string;
  private readonly now: () => Date;
  private readonly log: (message: string) => void;
  private readonly region: string;
  private readonly account: string;
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private stopped = false;

  private constructor(
    private readonly opts: LocalSchedulerOptions,
    private readonly server: Server,
  ) {
    const { port } = server.address() as AddressInfo;
    this.endpoint = `http://127.0.0.1:${port}`;
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log ?? ((m) => console.log(`[scheduler] ${m}`));
    this.account = opts.resolver?.account ?? LOCAL_ACCOUNT;
    this.region = opts.resolver?.region ?? LOCAL_REGION;
    const dir = join(opts.dataDir, 'scheduler');
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, 'schedules.json');
  }

  static async start(opts: LocalSchedulerOptions): Promise<LocalScheduler> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    let scheduler: LocalScheduler;
    try {
      scheduler = new LocalScheduler(opts, server);
      scheduler.load();
      scheduler.loadTemplate();
      scheduler.save();
    } catch (err) {
      server.close();
      throw err;
    }
    server.on('request', (req, res) => void scheduler.handle(req, res));
    const interval = opts.pollIntervalMs ?? 1000;
    scheduler.timer = setInterval(() => void scheduler.poll(), interval);
    scheduler.timer.unref();
    // Fire what came due while the process was down right away, not one interval later.
    void scheduler.poll();
    return scheduler;
  }

  /** A copy of every stored schedule, bookkeeping included (for tests and diagnostics). */
  list(): StoredSchedule[] {
    return [...this.schedules.values()].map((s) => structuredClone(s));
  }

  get(name: string, groupName = DEFAULT_GROUP): StoredSchedule | undefined {
    const s = this.schedules.get(key(groupName, name));
    return s && structuredClone(s);
  }

  /** Fires every due schedule once; resolves when those deliveries are done. Concurrent calls share one pass. */
  poll(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (!this.polling) {
      this.polling = this.pollOnce()
        .catch((err: unknown) => this.log(`poll failed: ${(err as Error).stack ?? err}`))
        .finally(() => {
          this.polling = undefined;
        });
    }
    return this.polling;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.polling;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ---- persistence -----------------------------------------------------------------------------------------------

  private load(): void {
    let data: StoreFile;
    try {
      data = JSON.parse(readFileSync(this.file, 'utf8')) as StoreFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new Error(`cannot read ${this.file}: ${(err as Error).message}`);
      }
      data = { version: 1, groups: [], schedules: [], tags: {} };
    }
    for (const g of data.groups ?? []) this.groups.set(g.Name, g);
    if (!this.groups.has(DEFAULT_GROUP)) {
      const t = this.now().getTime();
      this.groups.set(DEFAULT_GROUP, { Name: DEFAULT_GROUP, CreationDate: t, LastModificationDate: t });
    }
    for (const s of data.schedules ?? [])
      this.schedules.set(key(s.GroupName, s.Name), { ...s, pending: s.pending ?? [] });
    this.tags = data.tags ?? {};
  }

  /** Atomic write (temp file + rename) so a crash never leaves a half-written store. Sync keeps writes ordered. */
  private save(): void {
    const data: StoreFile = {
      version: 1,
      groups: [...this.groups.values()],
      schedules: [...this.schedules.values()],
      tags: this.tags,
    };
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`);
    renameSync(tmp, this.file);
  }

  /** Template schedule groups and schedules; a template schedule keeps its bookkeeping while unchanged. */
  private loadTemplate(): void {
    const resolver = this.opts.resolver;
    if (!resolver) return;
    const now = this.now().getTime();
    for (const [id] of resolver.resourcesOfType('AWS::Scheduler::ScheduleGroup')) {
      const name = resolver.ref(id);
      if (!this.groups.has(name)) this.groups.set(name, { Name: name, CreationDate: now, LastModificationDate: now });
    }
    const declared = new Set<string>();
    for (const [id] of resolver.resourcesOfType('AWS::Scheduler::Schedule')) {
      const props = resolver.properties(id);
      const name = typeof props.Name === 'string' ? props.Name : id;
      declared.add(key(String(props.GroupName ?? DEFAULT_GROUP), name));
      try {
        const input = { ...props, Name: undefined, GroupName: props.GroupName ?? DEFAULT_GROUP };
        const existing = this.schedules.get(key(String(input.GroupName), name));
        const fresh = this.build(name, input, now, existing);
        if (existing && sameDefinition(existing, fresh)) continue;
        this.schedules.set(key(fresh.GroupName, name), { ...fresh, fromTemplate: true });
      } catch (err) {
        this.log(`template schedule ${id}: ${(err as Error).message}`);
      }
    }
    // A schedule that left the template is gone, as a stack update would delete it.
    for (const [k, s] of this.schedules) if (s.fromTemplate && !declared.has(k)) this.schedules.delete(k);
  }

  // ---- firing ----------------------------------------------------------------------------------------------------

  private async pollOnce(): Promise<void> {
    const now = this.now().getTime();
    const deliveries: Array<Promise<void>> = [];
    let changed = false;
    for (const s of this.schedules.values()) {
      if (s.State !== 'ENABLED') continue;
      for (const occurrence of s.pending) {
        if (occurrence.retryAt <= now) deliveries.push(this.deliver(s, occurrence));
      }
      if (s.nextFireAt !== undefined && s.nextFireAt <= now) {
        const occurrence: Occurrence = {
          scheduledTime: s.nextFireAt,
          executionId: randomUUID(),
          attempt: 0,
          firstAttemptAt: now,
          retryAt: now,
        };
        s.pending.push(occurrence);
        s.lastFiredAt = now;
        // Missed occurrences collapse into this one: the next is computed from now, not from the missed time.
        s.nextFireAt = isOneTime(s.ScheduleExpression) ? undefined : nextOccurrence(s, now);
        changed = true;
        deliveries.push(this.deliver(s, occurrence));
      } else if (s.nextFireAt === undefined && s.pending.length === 0 && s.completedAt === undefined) {
        this.complete(s, now);
        changed = true;
      }
    }
    // Persist the claimed occurrences before delivering, so a crash re-delivers rather than loses them.
    if (changed) this.save();
    if (deliveries.length === 0) return;
    await Promise.all(deliveries);
    this.save();
  }

  private async deliver(s: StoredSchedule, occurrence: Occurrence): Promise<void> {
    occurrence.attempt++;
    occurrence.retryAt = Number.POSITIVE_INFINITY; // not picked up again while in flight
    try {
      await this.invokeTarget(s, occurrence);
      s.pending = s.pending.filter((o) => o !== occurrence);
      this.log(`fired ${s.GroupName}/${s.Name} -> ${s.Target.Arn}`);
    } catch (err) {
      const now = this.now().getTime();
      const policy = s.Target.RetryPolicy ?? {};
      const maxAttempts = policy.MaximumRetryAttempts ?? 185;
      const maxAgeMs = (policy.MaximumEventAgeInSeconds ?? 86_400) * 1000;
      const message = (err as Error).message ?? String(err);
      const permanent = err instanceof PermanentFailure || NOT_RETRYABLE.has((err as Error).name);
      if (!permanent && occurrence.attempt <= maxAttempts && now - occurrence.firstAttemptAt < maxAgeMs) {
        occurrence.retryAt = now + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (occurrence.attempt - 1));
        this.log(`${s.GroupName}/${s.Name}: attempt ${occurrence.attempt} failed (${message}); will retry`);
      } else {
        s.pending = s.pending.filter((o) => o !== occurrence);
        const dlq = s.Target.DeadLetterConfig?.Arn;
        this.log(
          `${s.GroupName}/${s.Name}: giving up after ${occurrence.attempt} attempt(s): ${message}` +
            (dlq ? ` (dead-letter queue ${dlq} is not emulated locally)` : ''),
        );
      }
    }
    if (s.nextFireAt === undefined && s.pending.length === 0) this.complete(s, this.now().getTime());
  }

  private complete(s: StoredSchedule, now: number): void {
    s.completedAt ??= now;
    const k = key(s.GroupName, s.Name);
    if (s.ActionAfterCompletion === 'DELETE' && this.schedules.get(k) === s) {
      this.schedules.delete(k);
      this.log(`deleted completed schedule ${s.GroupName}/${s.Name}`);
    }
  }

  private async invokeTarget(s: StoredSchedule, occurrence: Occurrence): Promise<void> {
    const arn = s.Target.Arn;
    // Context attributes, substituted in Input as EventBridge Scheduler does.
    const text = s.Target.Input?.replace(/<aws\.scheduler\.([a-z-]+)>/g, (match, attr: string) => {
      if (attr === 'schedule-arn') return s.Arn;
      if (attr === 'scheduled-time') return new Date(occurrence.scheduledTime).toISOString().replace(/\.\d{3}Z$/, 'Z');
      if (attr === 'execution-id') return occurrence.executionId;
      if (attr === 'attempt-number') return String(occurrence.attempt);
      return match;
    });
    const parsed = (): unknown => {
      if (text === undefined) return {};
      try {
        return JSON.parse(text);
      } catch {
        throw new PermanentFailure(`Input is not valid JSON: ${text.slice(0, 100)}`);
      }
    };
    if (/^arn:aws[\w-]*:lambda:/.test(arn)) {
      const fn = arn.split(':').slice(0, 7).join(':');
      if (!this.opts.invoker.has(fn)) throw new PermanentFailure(`no local Lambda function ${arn}`);
      await this.opts.invoker.invoke(fn, parsed(), 'Event');
      return;
    }
    if (/^arn:aws[\w-]*:states:[^:]*:[^:]*:stateMachine:/.test(arn)) {
      if (!this.opts.executions) throw new PermanentFailure('no local Step Functions to start executions on');
      await this.opts.executions.startExecution(arn, parsed());
      return;
    }
    const bus = /^arn:aws[\w-]*:events:[^:]*:[^:]*:event-bus\/(.+)$/.exec(arn);
    if (bus) {
      if (!this.opts.events) throw new PermanentFailure('no local EventBridge to put events on');
      parsed(); // the detail must be JSON
      const params = s.Target.EventBridgeParameters;
      const result = await this.opts.events.putEvents([
        {
          Source: params?.Source ?? 'aws.scheduler',
          DetailType: params?.DetailType ?? 'Scheduled Event',
          Detail: text ?? '{}',
          EventBusName: bus[1],
          Time: new Date(occurrence.scheduledTime),
          Resources: [s.Arn],
        },
      ]);
      if (result.failedEntryCount > 0) throw new Error('PutEvents reported a failed entry');
      return;
    }
    throw new PermanentFailure(`target ${arn} is not supported by the local scheduler`);
  }

  // ---- validation ------------------------------------------------------------------------------------------------

  /** Validates a Create/UpdateSchedule body as AWS does and returns the stored form. */
  private build(name: string, body: Json, now: number, previous?: StoredSchedule): StoredSchedule {
    if (!NAME_PATTERN.test(name)) throw validation(`Name '${name}' must match [0-9a-zA-Z-_.]{1,64}`);
    const groupName = body.GroupName === undefined ? DEFAULT_GROUP : String(body.GroupName);
    if (!NAME_PATTERN.test(groupName)) throw validation(`GroupName '${groupName}' must match [0-9a-zA-Z-_.]{1,64}`);
    if (!this.groups.has(groupName)) throw notFound(`Schedule group ${groupName} does not exist.`);

    const expression = body.ScheduleExpression;
    if (typeof expression !== 'string' || !expression) throw validation('ScheduleExpression is required');
    if (expression.length > 256) throw validation('ScheduleExpression must be at most 256 characters');
    parseScheduleExpression(expression);
    const timezone =
      body.ScheduleExpressionTimezone === undefined ? undefined : String(body.ScheduleExpressionTimezone);
    if (timezone !== undefined && !isTimeZone(timezone)) throw validation(`Invalid time zone: ${timezone}`);

    const ftw = body.FlexibleTimeWindow as Json | undefined;
    if (!ftw || typeof ftw !== 'object') throw validation('FlexibleTimeWindow is required');
    if (ftw.Mode !== 'OFF' && ftw.Mode !== 'FLEXIBLE')
      throw validation('FlexibleTimeWindow.Mode must be OFF or FLEXIBLE');
    const window = ftw.MaximumWindowInMinutes === undefined ? undefined : Number(ftw.MaximumWindowInMinutes);
    if (ftw.Mode === 'FLEXIBLE' && (window === undefined || !Number.isInteger(window) || window < 1 || window > 1440)) {
      throw validation('FlexibleTimeWindow.MaximumWindowInMinutes must be 1-1440 when Mode is FLEXIBLE');
    }
    if (ftw.Mode === 'OFF' && window !== undefined) {
      throw validation('FlexibleTimeWindow.MaximumWindowInMinutes is only allowed when Mode is FLEXIBLE');
    }

    const target = validateTarget(body.Target);
    const state = body.State === undefined ? 'ENABLED' : body.State;
    if (state !== 'ENABLED' && state !== 'DISABLED') throw validation('State must be ENABLED or DISABLED');
    const action = body.ActionAfterCompletion === undefined ? 'NONE' : body.ActionAfterCompletion;
    if (action !== 'NONE' && action !== 'DELETE') throw validation('ActionAfterCompletion must be NONE or DELETE');
    const description = body.Description === undefined ? undefined : String(body.Description);
    if (description !== undefined && description.length > 512) throw validation('Description is too long');
    const startDate = toMillis(body.StartDate, 'StartDate');
    const endDate = toMillis(body.EndDate, 'EndDate');
    if (startDate !== undefined && endDate !== undefined && endDate <= startDate) {
      throw validation('The EndDate you specify must be after the StartDate');
    }

    const s: StoredSchedule = {
      Name: name,
      GroupName: groupName,
      Arn: `arn:aws:scheduler:${this.region}:${this.account}:schedule/${groupName}/${name}`,
      ScheduleExpression: expression,
      ScheduleExpressionTimezone: timezone,
      StartDate: startDate,
      EndDate: endDate,
      Description: description,
      State: state,
      KmsKeyArn: body.KmsKeyArn === undefined ? undefined : String(body.KmsKeyArn),
      Target: target,
      FlexibleTimeWindow: { Mode: ftw.Mode, MaximumWindowInMinutes: window },
      ActionAfterCompletion: action,
      CreationDate: previous?.CreationDate ?? now,
      LastModificationDate: now,
      pending: [],
    };
    // An update starts the schedule afresh: a one-time schedule fires again at its (new) time.
    s.nextFireAt = isOneTime(expression) ? atTime(s) : nextOccurrence(s, now - 1);
    return s;
  }

  // ---- HTTP (REST-JSON) ------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      const raw = (await readRequestBody(req)) ?? '';
      let body: Json = {};
      if (raw.trim()) {
        try {
          body = JSON.parse(raw) as Json;
        } catch {
          throw validation('request body is not valid JSON');
        }
      }
      const result = this.route(req.method ?? 'GET', parts, url.searchParams, body);
      sendAwsJson(res, 200, result);
    } catch (err) {
      if (err instanceof SchedulerError) {
        sendAwsJson(res, err.status, { Message: err.message }, { errorType: err.code });
      } else {
        this.log(`internal error: ${(err as Error).stack ?? err}`);
        sendAwsJson(
          res,
          500,
          { Message: String((err as Error).message ?? err) },
          { errorType: 'InternalServerException' },
        );
      }
    }
  }

  private route(method: string, parts: string[], query: URLSearchParams, body: Json): unknown {
    const [collection, name, ...rest] = parts;
    if (rest.length > 0) throw notFound(`no route for /${parts.join('/')}`);
    if (collection === 'schedules') {
      if (name === undefined && method === 'GET') return this.listSchedules(query);
      if (name !== undefined) {
        const group = query.get('groupName') ?? DEFAULT_GROUP;
        switch (method) {
          case 'POST':
            return this.createSchedule(name, body);
          case 'PUT':
            return this.updateSchedule(name, body);
          case 'GET':
            return present(this.schedule(group, name));
          case 'DELETE': {
            const s = this.schedule(group, name);
            this.schedules.delete(key(s.GroupName, s.Name));
            this.save();
            return {};
          }
        }
      }
    }
    if (collection === 'schedule-groups') {
      if (name === undefined && method === 'GET') return this.listGroups(query);
      if (name !== undefined) {
        switch (method) {
          case 'POST':
            return this.createGroup(name, body);
          case 'GET':
            return this.presentGroup(this.group(name));
          case 'DELETE':
            return this.deleteGroup(name);
        }
      }
    }
    if (collection === 'tags' && name !== undefined) {
      switch (method) {
        case 'GET':
          return { Tags: this.tags[name] ?? [] };
        case 'POST': {
          const tags = Array.isArray(body.Tags) ? (body.Tags as Array<{ Key: string; Value: string }>) : [];
          const kept = (this.tags[name] ?? []).filter((t) => !tags.some((n) => n.Key === t.Key));
          this.tags[name] = [...kept, ...tags];
          this.save();
          return {};
        }
        case 'DELETE': {
          const remove = query.getAll('TagKeys');
          this.tags[name] = (this.tags[name] ?? []).filter((t) => !remove.includes(t.Key));
          this.save();
          return {};
        }
      }
    }
    throw notFound(`no route for ${method} /${parts.join('/')}`);
  }

  private schedule(group: string, name: string): StoredSchedule {
    const s = this.schedules.get(key(group, name));
    if (!s) throw notFound(`Schedule ${name} does not exist.`);
    return s;
  }

  private group(name: string): StoredGroup {
    const g = this.groups.get(name);
    if (!g) throw notFound(`Schedule group ${name} does not exist.`);
    return g;
  }

  private createSchedule(name: string, body: Json): unknown {
    const group = body.GroupName === undefined ? DEFAULT_GROUP : String(body.GroupName);
    if (this.schedules.has(key(group, name)))
      throw new SchedulerError('ConflictException', `Schedule ${name} already exists.`);
    const s = this.build(name, body, this.now().getTime());
    this.schedules.set(key(s.GroupName, s.Name), s);
    this.save();
    return { ScheduleArn: s.Arn };
  }

  private updateSchedule(name: string, body: Json): unknown {
    const group = body.GroupName === undefined ? DEFAULT_GROUP : String(body.GroupName);
    const previous = this.schedule(group, name);
    // UpdateSchedule replaces the whole definition: omitted optional fields go back to their defaults, as on AWS.
    const s = this.build(name, body, this.now().getTime(), previous);
    this.schedules.set(key(s.GroupName, s.Name), s);
    this.save();
    return { ScheduleArn: s.Arn };
  }

  private listSchedules(query: URLSearchParams): unknown {
    const group = query.get('ScheduleGroup');
    const prefix = query.get('NamePrefix') ?? '';
    const state = query.get('State');
    const all = [...this.schedules.values()]
      .filter((s) => (!group || s.GroupName === group) && s.Name.startsWith(prefix) && (!state || s.State === state))
      .sort((a, b) => key(a.GroupName, a.Name).localeCompare(key(b.GroupName, b.Name)))
      .map((s) => ({
        Arn: s.Arn,
        Name: s.Name,
        GroupName: s.GroupName,
        State: s.State,
        CreationDate: s.CreationDate / 1000,
        LastModificationDate: s.LastModificationDate / 1000,
        Target: { Arn: s.Target.Arn },
      }));
    const { items, nextToken } = page(all, query);
    return { Schedules: items, NextToken: nextToken };
  }

  private createGroup(name: string, _body: Json): unknown {
    if (!NAME_PATTERN.test(name)) throw validation(`Name '${name}' must match [0-9a-zA-Z-_.]{1,64}`);
    if (this.groups.has(name)) throw new SchedulerError('ConflictException', `Schedule group ${name} already exists.`);
    const now = this.now().getTime();
    this.groups.set(name, { Name: name, CreationDate: now, LastModificationDate: now });
    this.save();
    return { ScheduleGroupArn: this.groupArn(name) };
  }

  private deleteGroup(name: string): unknown {
    if (name === DEFAULT_GROUP) throw validation('The default schedule group cannot be deleted.');
    this.group(name);
    this.groups.delete(name);
    // Deleting a group deletes its schedules, as on AWS.
    for (const [k, s] of this.schedules) if (s.GroupName === name) this.schedules.delete(k);
    this.save();
    return {};
  }

  private listGroups(query: URLSearchParams): unknown {
    const prefix = query.get('NamePrefix') ?? '';
    const all = [...this.groups.values()]
      .filter((g) => g.Name.startsWith(prefix))
      .sort((a, b) => a.Name.localeCompare(b.Name))
      .map((g) => this.presentGroup(g));
    const { items, nextToken } = page(all, query);
    return { ScheduleGroups: items, NextToken: nextToken };
  }

  private groupArn(name: string): string {
    return `arn:aws:scheduler:${this.region}:${this.account}:schedule-group/${name}`;
  }

  private presentGroup(g: StoredGroup): Json {
    return {
      Arn: this.groupArn(g.Name),
      Name: g.Name,
      State: 'ACTIVE',
      CreationDate: g.CreationDate / 1000,
      LastModificationDate: g.LastModificationDate / 1000,
    };
  }
}

// ---- schedule expressions ----------------------------------------------------------------------------------------

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export interface CronSpec {
  minutes: number[];
  hours: number[];
  months: Set<number>;
  years?: Set<number>;
  dayOfMonth?: { days: Set<number>; last: boolean; lastWeekday: boolean; nearestWeekday: number[] };
  dayOfWeek?: { days: Set<number>; last: number[]; nth: Array<[weekday: number, n: number]> };
}

export type ScheduleExpression =
  | { kind: 'at'; wall: WallTime }
  | { kind: 'rate'; periodMs: number }
  | { kind: 'cron'; cron: CronSpec };

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** Parses `at(...)`, `rate(...)` and 6-field AWS `cron(...)`; throws a ValidationException like AWS. */
export function parseScheduleExpression(expression: string): ScheduleExpression {
  const at = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/.exec(expression);
  if (at) {
    const [year, month, day, hour, minute, second] = at.slice(1).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const valid =
      month >= 1 &&
      month <= 12 &&
      day >= 1 &&
      day <= daysInMonth(year, month) &&
      hour <= 23 &&
      minute <= 59 &&
      second <= 59;
    if (!valid) throw validation(`Invalid Schedule Expression ${expression}.`);
    return { kind: 'at', wall: { year, month, day, hour, minute, second } };
  }
  const rate = /^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2] as string;
    if (value < 1) throw validation(`Invalid Schedule Expression ${expression}: the value must be positive.`);
    if ((value === 1) !== !unit.endsWith('s')) {
      throw validation(`Invalid Schedule Expression ${expression}: use a singular unit for 1 and plural otherwise.`);
    }
    return { kind: 'rate', periodMs: value * (UNIT_MS[unit.replace(/s$/, '')] ?? 0) };
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) return { kind: 'cron', cron: parseCron(cron[1] as string, expression) };
  throw validation(`Invalid Schedule Expression ${expression}.`);
}

function parseCron(body: string, expression: string): CronSpec {
  const fields = body.trim().split(/\s+/);
  const fail = (why: string) => validation(`Invalid Schedule Expression ${expression}: ${why}.`);
  if (fields.length !== 6)
    throw fail('a cron expression has 6 fields (minutes hours day-of-month month day-of-week year)');
  const [min, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) throw fail('exactly one of day-of-month and day-of-week must be ?');
  const spec: CronSpec = {
    minutes: [...cronValues(min, 0, 59, fail)].sort((a, b) => a - b),
    hours: [...cronValues(hour, 0, 23, fail)].sort((a, b) => a - b),
    months: cronValues(month, 1, 12, fail, MONTHS),
    years: year === '*' ? undefined : cronValues(year, 1970, 2199, fail),
  };
  if (dom !== '?') {
    const d: NonNullable<CronSpec['dayOfMonth']> = {
      days: new Set(),
      last: false,
      lastWeekday: false,
      nearestWeekday: [],
    };
    for (const item of dom.split(',')) {
      const w = /^(\d{1,2})W$/.exec(item);
      if (item === 'L') d.last = true;
      else if (item === 'LW') d.lastWeekday = true;
      else if (w) {
        const n = Number(w[1]);
        if (n < 1 || n > 31) throw fail(`day-of-month ${item} out of range`);
        d.nearestWeekday.push(n);
      } else for (const v of cronValues(item, 1, 31, fail)) d.days.add(v);
    }
    spec.dayOfMonth = d;
  }
  if (dow !== '?') {
    const d: NonNullable<CronSpec['dayOfWeek']> = { days: new Set(), last: [], nth: [] };
    const weekday = (text: string) => {
      const v = WEEKDAYS.indexOf(text.toUpperCase()) + 1 || Number(text);
      if (!Number.isInteger(v) || v < 1 || v > 7) throw fail(`day-of-week ${text} out of range`);
      return v;
    };
    for (const item of dow.split(',')) {
      const last = /^(\w+)L$/.exec(item);
      const nth = /^(\w+)#([1-5])$/.exec(item);
      if (item === 'L') d.days.add(7);
      else if (last) d.last.push(weekday(last[1] as string));
      else if (nth) d.nth.push([weekday(nth[1] as string), Number(nth[2])]);
      else for (const v of cronValues(item, 1, 7, fail, WEEKDAYS)) d.days.add(v);
    }
    spec.dayOfWeek = d;
  }
  return spec;
}

/** Values of one cron field: `*`, `a`, `a-b`, with `/step`, comma lists, and names (JAN, MON) where allowed. */
function cronValues(
  field: string,
  min: number,
  max: number,
  fail: (why: string) => SchedulerError,
  names?: string[],
): Set<number> {
  const out = new Set<number>();
  const value = (text: string): number => {
    const named = names ? names.indexOf(text.toUpperCase()) : -1;
    const v = named >= 0 ? named + 1 : /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!(v >= min && v <= max)) throw fail(`'${text}' is not a value in ${min}-${max}`);
    return v;
  };
  for (const item of field.split(',')) {
    const m = /^(\*|\w+(?:-\w+)?)(?:\/(\d+))?$/.exec(item);
    if (!m) throw fail(`unsupported field '${item}'`);
    const [range, stepText] = [m[1] as string, m[2]];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (step < 1) throw fail(`step in '${item}' must be positive`);
    let from: number;
    let to: number;
    if (range === '*') [from, to] = [min, max];
    else if (range.includes('-')) {
      const [a, b] = range.split('-') as [string, string];
      [from, to] = [value(a), value(b)];
      if (from > to) throw fail(`range '${range}' runs backwards`);
    } else {
      from = value(range);
      to = stepText === undefined ? from : max;
    }
    for (let v = from; v <= to; v += step) out.add(v);
  }
  return out;
}

/** The first occurrence of a recurring schedule strictly after `after` (epoch ms), or undefined if none remains. */
export function nextOccurrence(
  s: Pick<
    StoredSchedule,
    'ScheduleExpression' | 'ScheduleExpressionTimezone' | 'StartDate' | 'EndDate' | 'LastModificationDate'
  >,
  after: number,
): number | undefined {
  const parsed = parseScheduleExpression(s.ScheduleExpression);
  let next: number | undefined;
  if (parsed.kind === 'rate') {
    // From the StartDate, or from when the schedule was (re)defined: the first run is immediate, as on AWS.
    const anchor = s.StartDate ?? s.LastModificationDate;
    const k = after < anchor ? 0 : Math.floor((after - anchor) / parsed.periodMs) + 1;
    next = anchor + k * parsed.periodMs;
  } else if (parsed.kind === 'cron') {
    const from = s.StartDate !== undefined ? Math.max(after, s.StartDate - 1) : after;
    next = nextCron(parsed.cron, from, s.ScheduleExpressionTimezone ?? 'UTC');
  } else {
    return undefined;
  }
  return next !== undefined && (s.EndDate === undefined || next <= s.EndDate) ? next : undefined;
}

/** The first minute strictly after `after` (epoch ms) that the cron matches in the time zone. */
export function nextCron(cron: CronSpec, after: number, timeZone = 'UTC'): number | undefined {
  const start = wallTime(after, timeZone);
  const lastYear = cron.years ? Math.max(...cron.years) : start.year + 10;
  for (let day = Date.UTC(start.year, start.month - 1, start.day); ; day += 86_400_000) {
    const date = new Date(day);
    const [y, m, d] = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
    if (y > lastYear) return undefined;
    if (!cronDayMatches(cron, y, m, d)) continue;
    // On the first day, skip times well before the start (2 h of slack covers DST shifts).
    const skipBefore =
      y === start.year && m === start.month && d === start.day ? start.hour * 60 + start.minute - 120 : 0;
    for (const hour of cron.hours) {
      for (const minute of cron.minutes) {
        if (hour * 60 + minute < skipBefore) continue;
        const t = zonedToUtc({ year: y, month: m, day: d, hour, minute, second: 0 }, timeZone);
        if (t > after) return t;
      }
    }
  }
}

function cronDayMatches(cron: CronSpec, y: number, m: number, d: number): boolean {
  if (!cron.months.has(m) || (cron.years && !cron.years.has(y))) return false;
  const dim = daysInMonth(y, m);
  const dom = cron.dayOfMonth;
  if (dom) {
    return (
      dom.days.has(d) ||
      (dom.last && d === dim) ||
      (dom.lastWeekday && d === nearestWeekday(y, m, dim)) ||
      dom.nearestWeekday.some((n) => n <= dim && nearestWeekday(y, m, n) === d)
    );
  }
  const dow = cron.dayOfWeek;
  if (!dow) return false;
  const weekday = new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 1;
  return (
    dow.days.has(weekday) ||
    dow.last.some((w) => w === weekday && d + 7 > dim) ||
    dow.nth.some(([w, n]) => w === weekday && Math.ceil(d / 7) === n)
  );
}

/** The weekday nearest to day n of the month, staying within the month (cron `nW`). */
function nearestWeekday(y: number, m: number, n: number): number {
  const dim = daysInMonth(y, m);
  const weekday = new Date(Date.UTC(y, m - 1, n)).getUTCDay();
  if (weekday === 6) return n === 1 ? n + 2 : n - 1;
  if (weekday === 0) return n === dim ? n - 2 : n + 1;
  return n;
}

function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

function isOneTime(expression: string): boolean {
  return expression.startsWith('at(');
}

/** When a one-time schedule fires: its wall time read in its time zone (UTC by default). */
function atTime(s: Pick<StoredSchedule, 'ScheduleExpression' | 'ScheduleExpressionTimezone'>): number | undefined {
  const parsed = parseScheduleExpression(s.ScheduleExpression);
  return parsed.kind === 'at' ? zonedToUtc(parsed.wall, s.ScheduleExpressionTimezone ?? 'UTC') : undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock time of an instant in a time zone. */
export function wallTime(instant: number, timeZone: string): WallTime {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  const parts: Record<string, number> = {};
  for (const p of f.formatToParts(new Date(instant))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return {
    year: parts.year ?? 1970,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

/** The instant at which a time zone's clocks show a wall time (DST gaps resolve to the later offset). */
export function zonedToUtc(w: WallTime, timeZone: string): number {
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  if (timeZone === 'UTC') return asUtc;
  const offset = (instant: number) => {
    const x = wallTime(instant, timeZone);
    return Date.UTC(x.year, x.month - 1, x.day, x.hour, x.minute, x.second) - Math.floor(instant / 1000) * 1000;
  };
  const first = asUtc - offset(asUtc);
  const second = asUtc - offset(first);
  return second;
}

// ---- helpers -----------------------------------------------------------------------------------------------------

function key(group: string, name: string): string {
  return `${group}/${name}`;
}

function validation(message: string): SchedulerError {
  return new SchedulerError('ValidationException', message);
}

function notFound(message: string): SchedulerError {
  return new SchedulerError('ResourceNotFoundException', message);
}

function validateTarget(value: unknown): ScheduleTarget {
  if (!value || typeof value !== 'object') throw validation('Target is required');
  const t = value as Json;
  const isArn = (v: unknown) => typeof v === 'string' && /^arn:aws[\w-]*:[a-z0-9-]+:/.test(v) && v.length <= 1600;
  if (!isArn(t.Arn)) throw validation('Target.Arn must be an ARN');
  if (!isArn(t.RoleArn)) throw validation('Target.RoleArn must be an ARN');
  if (t.Input !== undefined && (typeof t.Input !== 'string' || t.Input.length === 0)) {
    throw validation('Target.Input must be a non-empty string');
  }
  const policy = (t.RetryPolicy ?? {}) as Json;
  const attempts = policy.MaximumRetryAttempts === undefined ? 185 : Number(policy.MaximumRetryAttempts);
  const age = policy.MaximumEventAgeInSeconds === undefined ? 86_400 : Number(policy.MaximumEventAgeInSeconds);
  if (!Number.isInteger(attempts) || attempts < 0 || attempts > 185) {
    throw validation('Target.RetryPolicy.MaximumRetryAttempts must be 0-185');
  }
  if (!Number.isInteger(age) || age < 60 || age > 86_400) {
    throw validation('Target.RetryPolicy.MaximumEventAgeInSeconds must be 60-86400');
  }
  const bridge = t.EventBridgeParameters as Json | undefined;
  if (bridge !== undefined && (typeof bridge.DetailType !== 'string' || typeof bridge.Source !== 'string')) {
    throw validation('Target.EventBridgeParameters needs DetailType and Source');
  }
  // AWS reports the default retry policy when none was given.
  return { ...(t as ScheduleTarget), RetryPolicy: { MaximumEventAgeInSeconds: age, MaximumRetryAttempts: attempts } };
}

function toMillis(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  // The SDK sends epoch seconds; CloudFormation gives ISO strings.
  const ms = typeof value === 'number' ? value * 1000 : Date.parse(String(value));
  if (!Number.isFinite(ms)) throw validation(`${field} is not a valid date`);
  return ms;
}

const BOOKKEEPING = ['CreationDate', 'LastModificationDate', 'nextFireAt', 'lastFiredAt', 'completedAt', 'pending'];

function sameDefinition(a: StoredSchedule, b: StoredSchedule): boolean {
  const definition = (s: StoredSchedule) => {
    const copy: Json = { ...s };
    for (const k of [...BOOKKEEPING, 'fromTemplate']) delete copy[k];
    return JSON.stringify(copy);
  };
  return definition(a) === definition(b);
}

/** GetSchedule's output: dates as epoch seconds, bookkeeping left out. */
function present(s: StoredSchedule): Json {
  const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
  return {
    Arn: s.Arn,
    GroupName: s.GroupName,
    Name: s.Name,
    ScheduleExpression: s.ScheduleExpression,
    ScheduleExpressionTimezone: s.ScheduleExpressionTimezone,
    StartDate: seconds(s.StartDate),
    EndDate: seconds(s.EndDate),
    Description: s.Description,
    State: s.State,
    CreationDate: seconds(s.CreationDate),
    LastModificationDate: seconds(s.LastModificationDate),
    KmsKeyArn: s.KmsKeyArn,
    Target: s.Target,
    FlexibleTimeWindow: s.FlexibleTimeWindow,
    ActionAfterCompletion: s.ActionAfterCompletion,
  };
}

function page<T>(all: T[], query: URLSearchParams): { items: T[]; nextToken?: string } {
  const start = Number.parseInt(query.get('NextToken') ?? '0', 10) || 0;
  const requested = Number.parseInt(query.get('MaxResults') ?? '', 10);
  const max = requested > 0 ? requested : 100;
  return {
    items: all.slice(start, start + max),
    nextToken: start + max < all.length ? String(start + max) : undefined,
  };
}
