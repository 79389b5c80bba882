import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DurableQueue, QueueFullError } from './durable-queue.ts';

// Inside the project's data dir, never the system temp dir.
const root = join(import.meta.dirname, '..', '..', '.data', `test-queue-${randomUUID().slice(0, 8)}`);
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('DurableQueue', () => {
  it('keeps added items on disk, in order, until removed, and loads them again on open', async () => {
    const dir = join(root, 'order');
    const queue = await DurableQueue.open<{ n: number }>({ dir });
    const ids = await queue.add([{ n: 1 }, { n: 2 }]);
    const [third] = await queue.add([{ n: 3 }]);
    expect(readdirSync(dir).sort()).toEqual([...ids, third].map((id) => `${id}.json`));
    await queue.remove(ids[0]!);
    await queue.remove(ids[0]!); // twice: harmless

    // A write the crash cut short (never acknowledged) is discarded on open.
    writeFileSync(join(dir, '999999999999999-000000000-ffffffff.json.tmp'), '{"n":');
    const reopened = await DurableQueue.open<{ n: number }>({ dir });
    expect(reopened.entries()).toEqual([
      [ids[1], { n: 2 }],
      [third, { n: 3 }],
    ]);
    expect(readdirSync(dir).some((f) => f.endsWith('.tmp'))).toBe(false);
    // Ids keep sorting after the ones of the previous run.
    const [later] = await reopened.add([{ n: 4 }]);
    expect(reopened.entries().map(([id]) => id)).toEqual([ids[1], third, later]);
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
