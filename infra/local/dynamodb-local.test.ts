import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
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
});
