import { appendFile, mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { LOCAL_CREDENTIALS } from './dynamodb-local.ts';
import { matchesPattern } from './event-pattern.ts';
import type { TemplateResolver } from './template.ts';
import type { Invoker, LocalService } from './types.ts';

/** An `AWS::Lambda::EventSourceMapping` on a table stream, as the template declares it. */
export interface StreamMapping {
  logicalId: string;
  functionRef: string;
  batchSize: number;
  filters: unknown[];
  reportBatchItemFailures: boolean;
  bisectOnError: boolean;
  maxRetries: number;
  onFailure?: string;
}

export interface StreamFailure {
  mapping: string;
  records: DynamoDBRecord[];
  error: string;
}

type Log = (line: string) => void;

/** Reads the table-stream event source mappings of the template (enabled ones only). */
export function streamMappings(resolver: TemplateResolver, streamArn: string): StreamMapping[] {
  return resolver
    .resourcesOfType('AWS::Lambda::EventSourceMapping')
    .map(([logicalId]) => ({ logicalId, p: resolver.properties(logicalId) }))
    .filter(({ p }) => p.EventSourceArn === streamArn && p.Enabled !== false)
    .map(({ logicalId, p }) => {
      const filters = ((p.FilterCriteria as { Filters?: Array<{ Pattern: string }> })?.Filters ?? []).map((f) =>
        JSON.parse(f.Pattern),
      );
      const onFailure = (p.DestinationConfig as { OnFailure?: { Destination?: string } })?.OnFailure?.Destination;
      return {
        logicalId,
        functionRef: String(p.FunctionName),
        batchSize: Number(p.BatchSize ?? 100),
        filters,
        reportBatchItemFailures: ((p.FunctionResponseTypes as string[]) ?? []).includes('ReportBatchItemFailures'),
        bisectOnError: p.BisectBatchOnFunctionError === true,
        // -1 means "until the record expires"; locally a bounded number keeps a poison record from spinning forever.
        maxRetries: Math.min(Number(p.MaximumRetryAttempts ?? -1) < 0 ? 10 : Number(p.MaximumRetryAttempts), 10),
        ...(onFailure ? { onFailure } : {}),
      };
    });
}

/**
 * The SDK's stream deserializer turns an empty map `{"M":{}}` into `{}`; Lambda hands consumers the wire form, so
 * put the type back (an attribute value with no type can only have been an empty map).
 */
function wireImage(image: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!image) return undefined;
  const fix = (value: unknown): unknown => {
    if (!value || typeof value !== 'object') return value;
    const av = value as Record<string, unknown>;
    if (Object.keys(av).length === 0) return { M: {} };
    if (av.M) return { M: Object.fromEntries(Object.entries(av.M as object).map(([k, v]) => [k, fix(v)])) };
    if (av.L) return { L: (av.L as unknown[]).map(fix) };
    return av;
  };
  return Object.fromEntries(Object.entries(image).map(([k, v]) => [k, fix(v)]));
}

/** The Lambda event shape of a stream record (what AWS hands a DynamoDB stream consumer). */
function toLambdaRecord(record: StreamRecord, streamArn: string, region: string): DynamoDBRecord {
  const d = record.dynamodb ?? {};
  const created = d.ApproximateCreationDateTime;
  return {
    eventID: record.eventID,
    eventName: record.eventName as DynamoDBRecord['eventName'],
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    eventSourceARN: streamArn,
    dynamodb: {
      ...(created ? { ApproximateCreationDateTime: Math.floor(new Date(created).getTime() / 1000) } : {}),
      Keys: d.Keys as never,
      ...(d.NewImage ? { NewImage: wireImage(d.NewImage) as never } : {}),
      ...(d.OldImage ? { OldImage: wireImage(d.OldImage) as never } : {}),
      SequenceNumber: d.SequenceNumber,
      SizeBytes: d.SizeBytes,
      StreamViewType: d.StreamViewType as 'NEW_AND_OLD_IMAGES',
    },
  } as DynamoDBRecord;
}

/**
 * Polls DynamoDB Local's stream for a table and feeds each event source mapping as Lambda's poller would: records
 * in order, filtered by the mapping's filter criteria, in batches; partial batch failures and errors are retried
 * from the first failed record (bisecting when asked), and a batch that exhausts its retries goes to the on-failure
 * list. A shard's checkpoint advances only after its batch was handled: the consumer returned, and what it handed
 * on is durable (PutEvents and async Lambda invocations journal their work before they answer). Checkpoints are
 * written with fsync and a rename, so after a crash the poller resumes after the last handled batch: nothing is lost,
 * and at most that batch is read again (at-least-once, as on AWS).
 */
export class LocalStreamPoller implements LocalService {
  readonly name = 'dynamodb-streams';
  readonly failures: StreamFailure[] = [];
  private readonly client: DynamoDBStreamsClient;
  private readonly checkpoints = new Map<string, string>();
  private readonly finishedShards = new Set<string>();
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  private constructor(
    private readonly opts: {
      endpoint: string;
      streamArn: string;
      localStreamArn: string;
      mappings: StreamMapping[];
      invoker: Invoker;
      region: string;
      checkpointFile?: string;
      pollIntervalMs: number;
      log: Log;
    },
  ) {
    this.client = new DynamoDBStreamsClient({
      endpoint: opts.endpoint,
      region: opts.region,
      credentials: LOCAL_CREDENTIALS,
    });
  }

  /**
   * `streamArn` is the template's (what mappings reference); `localStreamArn` is DynamoDB Local's real one.
   */
  static async start(opts: {
    endpoint: string;
    resolver: TemplateResolver;
    tableLogicalId: string;
    localStreamArn: string;
    invoker: Invoker;
    checkpointFile?: string;
    pollIntervalMs?: number;
    log?: Log;
  }): Promise<LocalStreamPoller> {
    const streamArn = opts.resolver.getAtt(opts.tableLogicalId, 'StreamArn');
    const poller = new LocalStreamPoller({
      endpoint: opts.endpoint,
      streamArn,
      localStreamArn: opts.localStreamArn,
      mappings: streamMappings(opts.resolver, streamArn),
      invoker: opts.invoker,
      region: opts.resolver.region,
      ...(opts.checkpointFile ? { checkpointFile: opts.checkpointFile } : {}),
      pollIntervalMs: opts.pollIntervalMs ?? 200,
      log: opts.log ?? (() => {}),
    });
    await poller.loadCheckpoints();
    poller.loop = poller.run();
    return poller;
  }

  get mappings(): StreamMapping[] {
    return this.opts.mappings;
  }

  /** Resolves once every record written so far has been delivered (or failed for good). For tests and shutdown. */
  async drained(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // Two quiet polls in a row: nothing new was read and nothing is being delivered.
    let quiet = 0;
    while (quiet < 2) {
      if (Date.now() > deadline) throw new Error('stream not drained in time');
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      quiet = this.inFlight === 0 ? quiet + 1 : 0;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.client.destroy();
  }

  private async loadCheckpoints(): Promise<void> {
    if (!this.opts.checkpointFile) return;
    try {
      const saved = JSON.parse(await readFile(this.opts.checkpointFile, 'utf8')) as {
        streamArn: string;
        shards: Record<string, string>;
        finished: string[];
      };
      if (saved.streamArn !== this.opts.localStreamArn) return;
      for (const [shard, sequence] of Object.entries(saved.shards)) this.checkpoints.set(shard, sequence);
      for (const shard of saved.finished) this.finishedShards.add(shard);
    } catch {
      // no checkpoint yet: start from the oldest record
    }
  }

  private async saveCheckpoints(): Promise<void> {
    const file = this.opts.checkpointFile;
    if (!file) return;
    await mkdir(dirname(file), { recursive: true });
    const body = JSON.stringify({
      streamArn: this.opts.localStreamArn,
      shards: Object.fromEntries(this.checkpoints),
      finished: [...this.finishedShards],
    });
    const handle = await open(`${file}.tmp`, 'w');
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(`${file}.tmp`, file);
    const dir = await open(dirname(file), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  private async run(): Promise<void> {
    const iterators = new Map<string, string | undefined>();
    while (!this.stopped) {
      let read = 0;
      try {
        const { StreamDescription } = await this.client.send(
          new DescribeStreamCommand({ StreamArn: this.opts.localStreamArn }),
        );
        // Parents before children, so per-key order holds across shard rollovers.
        for (const shard of StreamDescription?.Shards ?? []) {
          const id = shard.ShardId!;
          if (this.finishedShards.has(id)) continue;
          if (shard.ParentShardId && !this.finishedShards.has(shard.ParentShardId)) {
            const parentKnown = (StreamDescription?.Shards ?? []).some((s) => s.ShardId === shard.ParentShardId);
            if (parentKnown) continue;
          }
          let iterator = iterators.get(id);
          if (!iterators.has(id)) {
            const after = this.checkpoints.get(id);
            const { ShardIterator } = await this.client.send(
              new GetShardIteratorCommand({
                StreamArn: this.opts.localStreamArn,
                ShardId: id,
                ShardIteratorType: after ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON',
                ...(after ? { SequenceNumber: after } : {}),
              }),
            );
            iterator = ShardIterator;
          }
          if (!iterator) {
            this.finishedShards.add(id);
            continue;
          }
          const result = await this.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
          const records = result.Records ?? [];
          if (records.length > 0) {
            read += records.length;
            this.inFlight++;
            try {
              await this.deliver(records.map((r) => toLambdaRecord(r, this.opts.streamArn, this.opts.region)));
            } finally {
              this.inFlight--;
            }
            // Handled: only now may the checkpoint move past these records.
            this.checkpoints.set(id, records.at(-1)!.dynamodb!.SequenceNumber!);
            await this.saveCheckpoints();
          }
          // The iterator advances with the checkpoint: a batch whose delivery threw is read again.
          iterators.set(id, result.NextShardIterator);
          if (!result.NextShardIterator) this.finishedShards.add(id);
        }
      } catch (error) {
        if (!this.stopped) this.opts.log(`dynamodb-streams: poll failed: ${(error as Error).message}`);
      }
      if (read === 0) {
        for (const waiter of this.idleWaiters.splice(0)) waiter();
        await new Promise((r) => setTimeout(r, this.opts.pollIntervalMs));
      }
    }
    for (const waiter of this.idleWaiters.splice(0)) waiter();
  }

  private async deliver(records: DynamoDBRecord[]): Promise<void> {
    for (const mapping of this.opts.mappings) {
      const matching =
        mapping.filters.length === 0
          ? records
          : records.filter((r) => mapping.filters.some((f) => matchesPattern(f, r)));
      for (let i = 0; i < matching.length; i += mapping.batchSize) {
        await this.deliverBatch(mapping, matching.slice(i, i + mapping.batchSize), 0);
      }
    }
  }

  /** Delivers a batch; on failure retries from the first failed record, bisecting if configured. */
  private async deliverBatch(mapping: StreamMapping, batch: DynamoDBRecord[], attempt: number): Promise<void> {
    let remaining = batch;
    let error = '';
    try {
      const response = (await this.opts.invoker.invoke(mapping.functionRef, { Records: batch })) as
        | { batchItemFailures?: Array<{ itemIdentifier?: string }> }
        | undefined;
      const failures = mapping.reportBatchItemFailures ? (response?.batchItemFailures ?? []) : [];
      if (failures.length === 0) return;
      // Lambda resumes from the lowest failed sequence number; a blank identifier fails the whole batch.
      const ids = new Set(failures.map((f) => f.itemIdentifier));
      const first = batch.findIndex((r) => ids.has(r.dynamodb?.SequenceNumber));
      remaining = first < 0 ? batch : batch.slice(first);
      error = 'partial batch failure';
    } catch (e) {
      error = (e as Error).message;
      if (mapping.bisectOnError && batch.length > 1 && attempt < mapping.maxRetries) {
        const half = Math.ceil(batch.length / 2);
        await this.deliverBatch(mapping, batch.slice(0, half), attempt + 1);
        await this.deliverBatch(mapping, batch.slice(half), attempt + 1);
        return;
      }
    }
    if (attempt < mapping.maxRetries) {
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 5_000)));
      return this.deliverBatch(mapping, remaining, attempt + 1);
    }
    this.failures.push({ mapping: mapping.logicalId, records: remaining, error });
    // What Lambda sends to the on-failure destination (an SQS queue in AWS, which keeps it) is kept on disk too,
    // before the checkpoint moves past these records.
    if (this.opts.checkpointFile) {
      const line = JSON.stringify({
        mapping: mapping.logicalId,
        destination: mapping.onFailure,
        error,
        records: remaining,
      });
      await appendFile(join(dirname(this.opts.checkpointFile), 'on-failure.jsonl'), `${line}\n`);
    }
    this.opts.log(
      `dynamodb-streams: ${mapping.logicalId} gave up on ${remaining.length} record(s) after ${attempt} retries ` +
        `(${error}); sent to on-failure destination ${mapping.onFailure ?? '(none)'}`,
    );
  }
}
