import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  GetItemCommand,
  ListTablesCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveTableDesign } from '../../shared/db/table.ts';
import { DynamoDbLocal, ensureTable } from './dynamodb-local.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('DynamoDB Local', () => {
  it('runs with telemetry disabled, keeps tables in its data dir across a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ddb-'));
    dirs.push(dataDir);
    const first = await DynamoDbLocal.start({ dataDir });
    const cmdline = (await readFile(`/proc/${first.pid}/cmdline`, 'utf8')).split('\0');
    expect(cmdline).toContain('-disableTelemetry');
    expect(cmdline).toContain('-sharedDb');
    const streamArn = await ensureTable(first.client, 'crm-restart', deriveTableDesign());
    expect(streamArn).toContain('crm-restart');
    await first.stop();

    const second = await DynamoDbLocal.start({ dataDir });
    const { TableNames } = await second.client.send(new ListTablesCommand({}));
    expect(TableNames).toContain('crm-restart');
    // Idempotent: the existing table and its stream are reused.
    expect(await ensureTable(second.client, 'crm-restart', deriveTableDesign())).toBe(streamArn);
    await second.stop();
  }, 120_000);

  it('cannot bind loopback only, so it allows CORS for its own origin alone: another origin gets no grant', async () => {
    const dynamo = await DynamoDbLocal.start();
    try {
      const cmdline = (await readFile(`/proc/${dynamo.pid}/cmdline`, 'utf8')).split('\0');
      expect(cmdline[cmdline.indexOf('-cors') + 1]).toBe(dynamo.endpoint);
      // No perf-data folder in the system temp dir.
      expect(cmdline).toContain('-XX:-UsePerfData');
      const preflight = (origin: string) =>
        fetch(dynamo.endpoint, {
          method: 'OPTIONS',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'authorization,content-type,x-amz-date,x-amz-target',
          },
        });
      for (const foreign of ['http://evil.example', 'http://localhost:3000', 'null']) {
        const refused = await preflight(foreign);
        expect(refused.headers.get('access-control-allow-origin'), foreign).toBeNull();
      }
      const own = await preflight(dynamo.endpoint);
      expect(own.headers.get('access-control-allow-origin')).toBe(dynamo.endpoint);
    } finally {
      await dynamo.stop();
    }
  }, 120_000);

  it('says how to install Java when it is missing', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(DynamoDbLocal.start()).rejects.toThrow(/needs Java 17.*apt-get install -y openjdk-17-jre-headless/s);
    } finally {
      process.env.PATH = path;
    }
  });

  it('with a data dir, acknowledges a transaction only once it is committed: a kill -9 right after keeps it', async () => {
    // DynamoDB Local answers TransactWriteItems before its SQLite COMMIT; without the barrier about half of these
    // writes were gone after the restart.
    const dataDir = await mkdtemp(join(tmpdir(), 'ddb-'));
    dirs.push(dataDir);
    let dynamo = await DynamoDbLocal.start({ dataDir });
    await dynamo.client.send(
      new CreateTableCommand({
        TableName: 'durable',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    try {
      const acknowledged: string[] = [];
      for (let round = 0; round < 4; round++) {
        const pk = `item-${round}`;
        await dynamo.client.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              { Put: { TableName: 'durable', Item: { pk: { S: pk } } } },
              { Put: { TableName: 'durable', Item: { pk: { S: `${pk}-b` } } } },
            ],
          }),
        );
        acknowledged.push(pk);
        process.kill(dynamo.pid!, 'SIGKILL');
        await dynamo.stop();
        dynamo = await DynamoDbLocal.start({ dataDir });
        for (const key of acknowledged) {
          const { Item } = await dynamo.client.send(
            new GetItemCommand({ TableName: 'durable', Key: { pk: { S: key } }, ConsistentRead: true }),
          );
          expect(Item, `${key} after kill -9 and restart`).toBeDefined();
        }
      }
    } finally {
      // Also when an assertion fails: no JVM outlives the test.
      await dynamo.stop();
    }
  }, 240_000);
});
