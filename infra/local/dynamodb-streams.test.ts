import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureTable, LOCAL_CREDENTIALS } from './dynamodb-local.ts';
import { LocalStreamPoller } from './dynamodb-streams.ts';
import { TemplateResolver } from './template.ts';
import type { CfnTemplate, Invoker } from './types.ts';

/**
 * The poller against the run's real DynamoDB Local stream. The function side is a recording Invoker: the Lambda
 * runtime is tested on its own, here only what the poller hands it matters.
 */
const design = {
  partitionKey: 'pk',
  sortKey: 'sk',
  globalIndexes: [],
  timeToLiveAttribute: 'ttl',
};

function template(mapping: Record<string, unknown>): CfnTemplate {
  return {
    Resources: {
      Table: { Type: 'AWS::DynamoDB::Table', Properties: {} },
      Fn: { Type: 'AWS::Lambda::Function', Properties: {} },
      Mapping: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: {
          EventSourceArn: { 'Fn::GetAtt': ['Table', 'StreamArn'] },
          FunctionName: { Ref: 'Fn' },
          BatchSize: 3,
          ...mapping,
        },
      },
    },
  };
}

class RecordingInvoker implements Invoker {
  readonly batches: string[][] = [];
  readonly records: DynamoDBRecord[] = [];
  constructor(private readonly respond: (ids: string[], call: number) => unknown) {}
  has() {
    return true;
  }
  async invoke(_ref: string, event: unknown) {
    const ids = (event as { Records: DynamoDBRecord[] }).Records.map((r) => String(r.dynamodb?.Keys?.pk?.S));
    this.batches.push(ids);
    this.records.push(...(event as { Records: DynamoDBRecord[] }).Records);
    return this.respond(ids, this.batches.length);
  }
}

let client: DynamoDBClient;
let endpoint: string;
const dirs: string[] = [];

beforeAll(() => {
  endpoint = inject('dynamoEndpoint');
  client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
});
afterAll(async () => {
  client.destroy();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function freshTable(name: string) {
  return ensureTable(client, `${name}-${Date.now()}`, design).then((streamArn) => ({
    streamArn,
    tableName: streamArn.split('/')[1]!,
  }));
}

async function put(tableName: string, id: string, entity = 'contact') {
  await client.send(
    new PutItemCommand({
      TableName: tableName,
      Item: { pk: { S: id }, sk: { S: 'x' }, __edb_e__: { S: entity }, empty: { M: {} } },
    }),
  );
}

async function poller(mapping: Record<string, unknown>, streamArn: string, invoker: Invoker, checkpointFile?: string) {
  return LocalStreamPoller.start({
    endpoint,
    resolver: new TemplateResolver(template(mapping)),
    tableLogicalId: 'Table',
    localStreamArn: streamArn,
    invoker,
    pollIntervalMs: 50,
    ...(checkpointFile ? { checkpointFile } : {}),
  });
}

describe('the local stream poller', () => {
  it('delivers records in order, in batches, filtered by the mapping, with images in wire form', async () => {
    const { streamArn, tableName } = await freshTable('order');
    for (const id of ['a', 'b', 'c', 'd', 'e']) await put(tableName, id, id === 'c' ? 'lookup' : 'contact');
    const invoker = new RecordingInvoker(() => ({ batchItemFailures: [] }));
    const filter = { dynamodb: { NewImage: { __edb_e__: { S: ['contact'] } } } };
    const p = await poller({ FilterCriteria: { Filters: [{ Pattern: JSON.stringify(filter) }] } }, streamArn, invoker);
    await p.drained();
    await p.stop();
    expect(invoker.batches).toEqual([['a', 'b', 'd'], ['e']]);
    const first = invoker.records[0]!;
    expect(first).toMatchObject({
      eventName: 'INSERT',
      eventSource: 'aws:dynamodb',
      eventSourceARN: expect.any(String),
    });
    // An empty map arrives typed, as Lambda delivers it (the SDK's deserializer would have dropped the type).
    expect(first.dynamodb?.NewImage?.empty).toEqual({ M: {} });
  });

  it('retries from the first failed record of a partial batch failure, then moves on', async () => {
    const { streamArn, tableName } = await freshTable('partial');
    for (const id of ['a', 'b', 'c']) await put(tableName, id);
    let sequenceOfB = '';
    const invoker = new RecordingInvoker((_ids, call) =>
      call === 1 ? { batchItemFailures: [{ itemIdentifier: sequenceOfB }] } : {},
    );
    const spy: Invoker = {
      has: () => true,
      invoke: async (ref, event) => {
        sequenceOfB ||= String((event as { Records: DynamoDBRecord[] }).Records[1]?.dynamodb?.SequenceNumber);
        return invoker.invoke(ref, event);
      },
    };
    const p = await poller({ FunctionResponseTypes: ['ReportBatchItemFailures'] }, streamArn, spy);
    await p.drained();
    await p.stop();
    expect(invoker.batches).toEqual([
      ['a', 'b', 'c'],
      ['b', 'c'],
    ]);
  });

  it('bisects a failing batch, isolates the poison record and records it as failed after its retries', async () => {
    const { streamArn, tableName } = await freshTable('bisect');
    for (const id of ['a', 'b', 'poison']) await put(tableName, id);
    const invoker = new RecordingInvoker((ids) => {
      if (ids.includes('poison')) throw new Error('cannot handle poison');
      return {};
    });
    const dir = await mkdtemp(join(tmpdir(), 'streams-'));
    dirs.push(dir);
    const mapping = { BisectBatchOnFunctionError: true, MaximumRetryAttempts: 2 };
    const p = await poller(mapping, streamArn, invoker, join(dir, 'checkpoints.json'));
    await p.drained();
    await p.stop();
    expect(invoker.batches.filter((b) => b.includes('a'))).toContainEqual(['a', 'b']);
    expect(p.failures).toHaveLength(1);
    expect(p.failures[0]!.records.map((r) => r.dynamodb?.Keys?.pk?.S)).toEqual(['poison']);
    // Kept on disk, as the on-failure destination (SQS in AWS) keeps it.
    const kept = (await readFile(join(dir, 'on-failure.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(kept.map((f) => f.records.map((r: DynamoDBRecord) => r.dynamodb?.Keys?.pk?.S))).toEqual([['poison']]);
  });

  it('resumes after a restart from its checkpoint, neither losing nor repeating records', async () => {
    const { streamArn, tableName } = await freshTable('restart');
    const dir = await mkdtemp(join(tmpdir(), 'streams-'));
    dirs.push(dir);
    const checkpoint = join(dir, 'checkpoints.json');
    const invoker = new RecordingInvoker(() => ({}));
    await put(tableName, 'before');
    const first = await poller({}, streamArn, invoker, checkpoint);
    await first.drained();
    await first.stop();
    await put(tableName, 'while-stopped');
    const second = await poller({}, streamArn, invoker, checkpoint);
    await second.drained();
    await second.stop();
    expect(invoker.batches.flat()).toEqual(['before', 'while-stopped']);
  });

  it('moves the checkpoint only after a batch was handled: a crash mid-delivery delivers that batch again', async () => {
    const { streamArn, tableName } = await freshTable('midway');
    const dir = await mkdtemp(join(tmpdir(), 'streams-'));
    dirs.push(dir);
    const checkpoint = join(dir, 'checkpoints.json');
    await put(tableName, 'handled');
    const invoker = new RecordingInvoker(() => ({}));
    const first = await poller({}, streamArn, invoker, checkpoint);
    await first.drained();
    await first.stop();
    const saved = await readFile(checkpoint, 'utf8');

    // The next batch hangs in its consumer when the process "crashes": the checkpoint must still be the old one.
    await put(tableName, 'in-flight');
    let release: () => void = () => {};
    let started: () => void = () => {};
    const invoked = new Promise<void>((resolve) => (started = resolve));
    const hanging: Invoker = {
      has: () => true,
      invoke: () => {
        started();
        return new Promise((resolve) => (release = () => resolve({})));
      },
    };
    const crashed = await poller({}, streamArn, hanging, checkpoint);
    await invoked;
    expect(await readFile(checkpoint, 'utf8')).toBe(saved);

    const restarted = await poller({}, streamArn, invoker, checkpoint);
    await restarted.drained();
    await restarted.stop();
    release();
    await crashed.stop();
    expect(invoker.batches.flat()).toEqual(['handled', 'in-flight']);
  });
});
