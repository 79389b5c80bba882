import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** The journal's file in the queue's directory. */
export const JOURNAL_FILE = 'journal.jsonl';

/** A journal line: an item added (`a`: id, `v`: value) or one removed (`r`: id). */
type JournalLine = { a: string; v: unknown } | { r: string };

/**
 * Accepted work that must survive a crash (an EventBridge target delivery, an async Lambda invocation, a started
 * execution), as AWS keeps it once it has answered. An append-only journal in the queue's directory
 * (`journal.jsonl`): `add` appends a line per item and resolves once it is fsynced, with group commit (every add
 * waiting while a write runs goes into the next write, so concurrent adds share one fsync); `remove` appends a line
 * without waiting for the disk (losing it in a crash only means the work runs again). The journal is rewritten with
 * only the pending items when it has grown well past them, and on open, where the items left by a previous run are
 * loaded in the order they were added, for the owner to replay (at-least-once, as on AWS); a line cut short by a
 * crash was never acknowledged and is dropped. Without a directory the queue lives in memory (tests, benchmarks).
 * Bounded: `add` beyond `limit` items throws QueueFullError, which the owner turns into its service's throttling
 * error.
 */
export class DurableQueue<T> {
  private readonly items = new Map<string, T>();
  private sequence = 0;
  private handle: FileHandle | undefined;
  /** Lines in the journal file now (compaction is due once they far outnumber the pending items). */
  private lines = 0;
  /** What the journal file holds pending: the compaction's snapshot (ahead of `items` until an add resolved). */
  private readonly journaled = new Map<string, unknown>();
  private buffered: JournalLine[] = [];
  private waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private flushing: Promise<void> | undefined;

  private constructor(
    readonly dir: string | undefined,
    readonly limit: number,
  ) {}

  static async open<T>(options: { dir?: string; limit?: number } = {}): Promise<DurableQueue<T>> {
    const queue = new DurableQueue<T>(options.dir, options.limit ?? 10_000);
    if (options.dir) await queue.load(options.dir);
    return queue;
  }

  /** The items a queue directory holds pending, oldest first, read from its journal (for tests and tools). */
  static async pendingIn(dir: string): Promise<unknown[]> {
    const text = await readFile(join(dir, JOURNAL_FILE), 'utf8').catch(() => '');
    return [...replay(text).values()];
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
    if (this.dir) {
      await this.write(
        values.map((v, i) => ({ a: ids[i] as string, v })),
        true,
      );
    }
    for (const [i, value] of values.entries()) this.items.set(ids[i] as string, value);
    return ids;
  }

  /** Forgets a finished item. Losing a remove in a crash only means a duplicate delivery, so it does not wait. */
  async remove(id: string): Promise<void> {
    if (!this.items.delete(id) || !this.dir) return;
    void this.write([{ r: id }], false).catch(() => undefined);
  }

  /** Waits for every line written so far to be on disk (the owner's stop). */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    await this.handle?.close();
    this.handle = undefined;
  }

  /** Queues lines for the next write; `durable`: resolves only once they are fsynced. */
  private write(lines: JournalLine[], durable: boolean): Promise<void> {
    this.buffered.push(...lines);
    const written = durable
      ? new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }))
      : Promise.resolve();
    this.flushing ??= this.flush();
    return written;
  }

  /** Writes what is buffered, one write and one fsync a round, until nothing is left (group commit). */
  private async flush(): Promise<void> {
    try {
      while (this.buffered.length > 0) {
        const lines = this.buffered;
        const waiters = this.waiters;
        this.buffered = [];
        this.waiters = [];
        try {
          await this.handle!.appendFile(lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
          this.lines += lines.length;
          for (const line of lines) {
            if ('a' in line) this.journaled.set(line.a, line.v);
            else this.journaled.delete(line.r);
          }
          if (waiters.length > 0) await this.handle!.datasync();
          for (const w of waiters) w.resolve();
        } catch (error) {
          for (const w of waiters) w.reject(error as Error);
        }
        if (this.lines > Math.max(1_000, 4 * this.journaled.size)) {
          // A failed compaction leaves the old journal, which still holds everything: try again later.
          await this.compact().catch(() => undefined);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** Rewrites the journal with only the pending items (a new file, fsynced, renamed over the old one). */
  private async compact(): Promise<void> {
    const dir = this.dir!;
    const file = join(dir, JOURNAL_FILE);
    const tmp = `${file}.tmp`;
    const lines = [...this.journaled].map(([a, v]) => `${JSON.stringify({ a, v } satisfies JournalLine)}\n`);
    const next = await open(tmp, 'w');
    try {
      await next.writeFile(lines.join(''));
      await next.sync();
    } catch (error) {
      await next.close();
      throw error;
    }
    await rename(tmp, file);
    const previous = this.handle;
    this.handle = next;
    this.lines = lines.length;
    await previous?.close();
    await syncDirectory(dir);
  }

  /** Ids sort in the order of adding, across restarts too: milliseconds, then a per-run sequence. */
  private nextId(): string {
    const time = String(Date.now()).padStart(15, '0');
    const seq = String(this.sequence++).padStart(9, '0');
    return `${time}-${seq}-${randomBytes(4).toString('hex')}`;
  }

  private async load(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const pending = replay(await readFile(join(dir, JOURNAL_FILE), 'utf8').catch(() => ''));
    // Items an earlier version kept one file each (`<id>.json`): taken into the journal, then deleted.
    const legacy = (await readdir(dir)).filter((name) => name.endsWith('.json')).sort();
    for (const name of legacy) {
      const value = await readFile(join(dir, name), 'utf8').then(JSON.parse, () => undefined);
      if (value !== undefined) pending.set(name.slice(0, -'.json'.length), value);
    }
    const ordered = [...pending].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [id, value] of ordered) {
      this.items.set(id, value as T);
      this.journaled.set(id, value);
      // New ids sort after the loaded ones, even within the same millisecond.
      this.sequence = Math.max(this.sequence, (Number.parseInt(id.split('-')[1] ?? '', 10) || 0) + 1);
    }
    await this.compact();
    for (const name of legacy) await unlink(join(dir, name)).catch(() => undefined);
    for (const name of await readdir(dir)) if (name.endsWith('.json.tmp')) await unlink(join(dir, name));
  }
}

/** The pending items a journal's text describes, in the order they were added (a torn last line is ignored). */
function replay(text: string): Map<string, unknown> {
  const items = new Map<string, unknown>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    let entry: JournalLine;
    try {
      entry = JSON.parse(line) as JournalLine;
    } catch {
      continue; // cut short by a crash: never acknowledged
    }
    if ('a' in entry) items.set(entry.a, entry.v);
    else items.delete(entry.r);
  }
  return items;
}

export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
}

/** Makes a rename durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
