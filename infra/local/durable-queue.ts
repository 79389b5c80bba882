import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Accepted work that must survive a crash (an EventBridge target delivery, an async Lambda invocation), as AWS keeps
 * it once it has answered. One JSON file per item in a directory: written to a temporary name, fsynced, renamed into
 * place, and the directory fsynced, all before `add` resolves; deleted once the work is done. On open, the items left
 * by a previous run are loaded in the order they were added, for the owner to replay (at-least-once, as on AWS).
 * Without a directory the queue lives in memory (tests, benchmarks). Bounded: `add` beyond `limit` items throws
 * QueueFullError, which the owner turns into its service's throttling error.
 */
export class DurableQueue<T> {
  private readonly items = new Map<string, T>();
  private sequence = 0;

  private constructor(
    readonly dir: string | undefined,
    readonly limit: number,
  ) {}

  static async open<T>(options: { dir?: string; limit?: number } = {}): Promise<DurableQueue<T>> {
    const queue = new DurableQueue<T>(options.dir, options.limit ?? 10_000);
    if (options.dir) await queue.load(options.dir);
    return queue;
  }

  get size(): number {
    return this.items.size;
  }

  /** The pending items, oldest first. */
  entries(): Array<[id: string, value: T]> {
    return [...this.items];
  }

  /** The pending items, oldest first, without a copy (a Map iterator: items removed meanwhile are skipped). */
  pending(): IterableIterator<[id: string, value: T]> {
    return this.items.entries();
  }

  has(id: string): boolean {
    return this.items.has(id);
  }

  /** Stores the values (all or none fit); resolves with their ids once they are on disk. */
  async add(values: T[]): Promise<string[]> {
    if (this.items.size + values.length > this.limit) {
      throw new QueueFullError(`queue ${this.dir ?? '(memory)'} holds ${this.items.size} of ${this.limit} items`);
    }
    const ids = values.map(() => this.nextId());
    const dir = this.dir;
    if (dir) {
      await Promise.all(values.map((value, i) => writeDurably(join(dir, `${ids[i]}.json`), JSON.stringify(value))));
      await syncDirectory(dir);
    }
    for (const [i, value] of values.entries()) this.items.set(ids[i] as string, value);
    return ids;
  }

  /** Forgets a finished item. Losing a delete in a crash only means a duplicate delivery, so no fsync. */
  async remove(id: string): Promise<void> {
    if (!this.items.delete(id) || !this.dir) return;
    await unlink(join(this.dir, `${id}.json`)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  /** Ids sort in the order of adding, across restarts too: milliseconds, then a per-run sequence. */
  private nextId(): string {
    const time = String(Date.now()).padStart(15, '0');
    const seq = String(this.sequence++).padStart(9, '0');
    return `${time}-${seq}-${randomBytes(4).toString('hex')}`;
  }

  private async load(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const file = join(dir, name);
      // A temporary file is a write the crash interrupted before it was acknowledged.
      if (name.endsWith('.tmp')) {
        await unlink(file).catch(() => undefined);
        continue;
      }
      if (!name.endsWith('.json')) continue;
      try {
        const id = name.slice(0, -'.json'.length);
        this.items.set(id, JSON.parse(await readFile(file, 'utf8')) as T);
        // New ids sort after the loaded ones, even within the same millisecond.
        this.sequence = Math.max(this.sequence, (Number.parseInt(id.split('-')[1] ?? '', 10) || 0) + 1);
      } catch {
        // Cannot happen for a file renamed after fsync; keep it aside rather than drop it silently.
        await rename(file, `${file}.unreadable`).catch(() => undefined);
      }
    }
  }
}

export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
}

async function writeDurably(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
}

/** Makes the renames themselves durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
