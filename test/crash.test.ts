import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListStreamsCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { afterAll, describe, expect, it } from 'vitest';
import { persistentAssemblyDir } from '../infra/local/cloud.ts';
import { DurableQueue } from '../infra/local/durable-queue.ts';
import { LOCAL_CREDENTIALS } from '../infra/local/dynamodb-local.ts';
import { reusePrebuiltApp } from './support/assembly.ts';
import { makeContact } from './support/factories.ts';
import { npmStartEnv, PROJECT_ROOT, npmStart as startNpm, waitForGroupExit } from './support/npm-start.ts';

/**
 * A crash loses nothing AWS would keep: `npm start`, 4 clients creating contacts, `kill -9` of the whole process
 * group mid-traffic, `npm start` again on the same data dir; every acknowledged create gets its `created` history
 * entry (the stream checkpoint, the EventBridge target queue and the async Lambda queue all survive the crash).
 */
// Inside the project's own data dir, so the test leaves nothing in the system temp dir.
const dataDir = join(PROJECT_ROOT, '.data', `test-crash-${randomUUID().slice(0, 8)}`);
const groups: ChildProcess[] = [];

const npmStart = (env: Record<string, string>) => startNpm(env, groups);

/** `kill -9` of the process group; resolves once the group leader is gone and no member is left. */
async function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const gone = child.exitCode !== null || child.signalCode !== null;
  const exited = gone ? Promise.resolve() : new Promise((r) => child.once('exit', r));
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
  await exited;
  // The other members (tsx's node, the JVM) die with the same signal.
  await waitForGroupExit(child.pid!, 20_000);
}

afterAll(async () => {
  for (const child of groups) await killGroup(child).catch(() => undefined);
  await rm(dataDir, { recursive: true, force: true });
  await rm(persistentAssemblyDir(dataDir), { recursive: true, force: true });
}, 60_000);

/**
 * What DynamoDB Local's stream holds for the ids now: every shard (with its parent and sequence range) and each record
 * that mentions one of the ids, with its shard and sequence number, to compare with the saved checkpoints.
 */
async function streamContents(endpoint: string, ids: string[]): Promise<Record<string, unknown>> {
  const client = new DynamoDBStreamsClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  try {
    const { Streams } = await client.send(new ListStreamsCommand({}));
    const result: Record<string, unknown> = {};
    for (const { StreamArn } of Streams ?? []) {
      const { StreamDescription } = await client.send(new DescribeStreamCommand({ StreamArn }));
      const shards = StreamDescription?.Shards ?? [];
      const found: unknown[] = [];
      const counts: Record<string, number> = {};
      for (const shard of shards) {
        let { ShardIterator } = await client.send(
          new GetShardIteratorCommand({ StreamArn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
        );
        counts[shard.ShardId!] = 0;
        while (ShardIterator) {
          const page = await client.send(new GetRecordsCommand({ ShardIterator, Limit: 1000 }));
          const records = page.Records ?? [];
          counts[shard.ShardId!]! += records.length;
          for (const record of records) {
            const text = JSON.stringify(record.dynamodb?.Keys ?? {});
            if (ids.some((id) => text.includes(id))) {
              found.push({
                shard: shard.ShardId,
                sequence: record.dynamodb?.SequenceNumber,
                eventName: record.eventName,
                keys: record.dynamodb?.Keys,
              });
            }
          }
          // An open shard ends with an empty page; a closed one without a next iterator.
          ShardIterator = records.length === 0 ? undefined : page.NextShardIterator;
        }
      }
      result[StreamArn!] = {
        shards: shards.map((s) => ({ id: s.ShardId, parent: s.ParentShardId, range: s.SequenceNumberRange })),
        recordsPerShard: counts,
        recordsOfMissingIds: found,
      };
    }
    return result;
  } catch (error) {
    return { error: String(error) };
  } finally {
    client.destroy();
  }
}

/** Where an event can wait or end up in the local cloud's data dir, and what the restarted cloud said about an id. */
async function diagnose(ids: string[], second: { apiUrl: string; token: string; output: () => string }) {
  const output = second.output();
  const contacts: Record<string, number> = {};
  for (const id of ids) {
    const res = await fetch(`${second.apiUrl}/v1/contacts/${id}`, {
      headers: { authorization: `Bearer ${second.token}` },
    });
    await res.body?.cancel();
    contacts[id] = res.status;
  }
  const dynamoEndpoint = /AWS_ENDPOINT_URL_DYNAMODB=(\S+)/.exec(output)?.[1];
  const read = async (path: string) => readFile(join(dataDir, path), 'utf8').catch(() => '');
  const count = async (path: string) => (await DurableQueue.pendingIn(join(dataDir, path))).length;
  const mentioning = (text: string) => text.split('\n').filter((line) => ids.some((id) => line.includes(id)));
  return {
    // 200: the item survived the crash and only its event is missing; 404: DynamoDB Local lost an acknowledged write.
    contactStatus: contacts,
    stream: dynamoEndpoint ? await streamContents(dynamoEndpoint, ids) : 'no DynamoDB endpoint in the output',
    pendingDeliveries: await count('eventbridge/deliveries'),
    pendingAsyncInvocations: await count('lambda/async-invocations'),
    deadLetters: mentioning(await read('eventbridge/dead-letters.jsonl')),
    asyncFailures: mentioning(await read('lambda/on-failure.jsonl')),
    streamFailures: mentioning(await read('streams/on-failure.jsonl')),
    streamCheckpoints: await read('streams/checkpoints.json'),
    errorsLogged: output
      .split('\n')
      .filter((line) => /error|fail|throttl/i.test(line))
      .slice(-20),
  };
}

describe('a crash of the local cloud', () => {
  it('loses no acknowledged write: after kill -9 and a restart, every created contact has its history', async () => {
    const env = await npmStartEnv(dataDir);
    await reusePrebuiltApp(dataDir);

    const first = await npmStart(env);
    expect(first.output()).toContain('its synth was reused'); // the run's prebuilt app: no synth of its own
    const acknowledged: string[] = [];
    let stop = false;
    const client = async () => {
      while (!stop) {
        try {
          const res = await fetch(`${first.apiUrl}/v1/contacts`, {
            method: 'POST',
            headers: { authorization: `Bearer ${first.token}`, 'content-type': 'application/json' },
            body: JSON.stringify(makeContact()),
          });
          if (res.status === 201) acknowledged.push(((await res.json()) as { id: string }).id);
          else await res.body?.cancel();
        } catch {
          // the process died under us: this request was never acknowledged
          return;
        }
      }
    };
    const clients = Array.from({ length: 4 }, client);
    // 3 s of traffic, counted from the first acknowledgement: a loaded machine may take longer to serve the first
    // (cold) request, and a crash before any write proves nothing.
    const firstDeadline = Date.now() + 60_000;
    while (acknowledged.length === 0 && Date.now() < firstDeadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 3_000));
    await killGroup(first.child);
    stop = true;
    await Promise.all(clients);
    expect(acknowledged.length).toBeGreaterThan(0);

    const second = await npmStart(env);
    const missing = new Set(acknowledged);
    const deadline = Date.now() + 120_000;
    while (missing.size > 0 && Date.now() < deadline) {
      for (const id of [...missing]) {
        const res = await fetch(`${second.apiUrl}/v1/contacts/${id}/history`, {
          headers: { authorization: `Bearer ${second.token}` },
        });
        expect(res.status).toBe(200);
        const { items } = (await res.json()) as { items: Array<{ action: string; version: number }> };
        if (items.some((entry) => entry.action === 'created')) missing.delete(id);
      }
      if (missing.size > 0) await new Promise((r) => setTimeout(r, 500));
    }
    expect({
      acknowledged: acknowledged.length,
      withoutHistory: [...missing],
      ...(missing.size > 0 ? { diagnostics: await diagnose([...missing], second) } : {}),
    }).toEqual({ acknowledged: acknowledged.length, withoutHistory: [] });

    await killGroup(second.child);
  }, 400_000);
});
