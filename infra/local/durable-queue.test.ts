import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DurableQueue, JOURNAL_FILE, QueueFullError } from './durable-queue.ts';

// Inside the project's data dir, never the system temp dir.
const root = join(import.meta.dirname, '..', '..', '.data', `test-queue-${randomUUID().slice(0, 8)}`);
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('DurableQueue', () => {
  it('keeps added items in its journal, in order, until removed, and loads them again on open', async () => {
    const dir = join(root, 'order');
    const queue = await DurableQueue.open<{ n: number }>({ dir });
    const ids = await queue.add([{ n: 1 }, { n: 2 }]);
    const [third] = await queue.add([{ n: 3 }]);
    // On disk once add resolved.
    expect(await DurableQueue.pendingIn(dir)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    await queue.remove(ids[0]!);
    await queue.remove(ids[0]!); // twice: harmless
    await queue.close();

    // A line the crash cut short (never acknowledged) is dropped on open.
    appendFileSync(join(dir, JOURNAL_FILE), '{"a":"999999999999999-000000000-ffffffff","v":{"n":');
    const reopened = await DurableQueue.open<{ n: number }>({ dir });
    expect(reopened.entries()).toEqual([
      [ids[1], { n: 2 }],
      [third, { n: 3 }],
    ]);
    // Rewritten on open: only the pending items, and no torn line.
    expect(readFileSync(join(dir, JOURNAL_FILE), 'utf8').trim().split('\n')).toHaveLength(2);
    // Ids keep sorting after the ones of the previous run.
    const [later] = await reopened.add([{ n: 4 }]);
    expect(reopened.entries().map(([id]) => id)).toEqual([ids[1], third, later]);
    await reopened.close();
  });

  it('commits concurrent adds together and stays small however many items pass through', async () => {
    const dir = join(root, 'churn');
    const queue = await DurableQueue.open<number>({ dir });
    for (let round = 0; round < 30; round++) {
      const added = await Promise.all(Array.from({ length: 100 }, (_, i) => queue.add([round * 100 + i])));
      for (const [id] of added) await queue.remove(id!);
    }
    const [kept] = await queue.add([-1]);
    await queue.close();
    // 6,001 lines were written; compaction keeps the file to about the pending items.
    const lines = readFileSync(join(dir, JOURNAL_FILE), 'utf8').trim().split('\n');
    expect(lines.length).toBeLessThan(1_200);
    const reopened = await DurableQueue.open<number>({ dir });
    expect(reopened.entries()).toEqual([[kept, -1]]);
    await reopened.close();
  });

  it('takes over the items an earlier version kept one file each', async () => {
    const dir = join(root, 'legacy');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '000001700000000-000000001-aaaaaaaa.json'), '{"n":2}');
    writeFileSync(join(dir, '000001700000000-000000000-bbbbbbbb.json'), '{"n":1}');
    writeFileSync(join(dir, '000001700000000-000000002-cccccccc.json.tmp'), '{"n":');
    const queue = await DurableQueue.open<{ n: number }>({ dir });
    expect(queue.entries().map(([, v]) => v)).toEqual([{ n: 1 }, { n: 2 }]);
    await queue.close();
    expect(readdirSync(dir)).toEqual([JOURNAL_FILE]);
    expect(await DurableQueue.pendingIn(dir)).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('is bounded: an add beyond the limit is refused whole', async () => {
    const queue = await DurableQueue.open<number>({ dir: join(root, 'bounded'), limit: 2 });
    await queue.add([1]);
    await expect(queue.add([2, 3])).rejects.toBeInstanceOf(QueueFullError);
    expect(queue.size).toBe(1);
    await queue.add([2]);
    expect(queue.size).toBe(2);
  });

  it('lives in memory without a directory', async () => {
    const queue = await DurableQueue.open<string>();
    const [id] = await queue.add(['a']);
    expect(queue.has(id!)).toBe(true);
    await queue.remove(id!);
    expect(queue.size).toBe(0);
    expect(existsSync(join(root, 'memory'))).toBe(false);
  });
});
