import { closeSync, openSync, writeSync } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutboxMessage } from './ses-events.ts';

/** What the outbox keeps in memory per message with a configuration set (for injected events): no bodies. */
export type IndexedMessage = Omit<OutboxMessage, 'text' | 'html'> & { firstLink?: string };

const firstHttpsLink = (html: string | undefined) => (html ? /href="(https:\/\/[^"]+)"/i.exec(html)?.[1] : undefined);

/** Width of the checkpoint number (fixed, so one small pwrite at offset 0 replaces it whole). */
const CHECKPOINT_WIDTH = 20;

/**
 * The local SES's outbox: `<dir>/outbox.jsonl`, one JSON line per accepted message, appended and fsynced (group
 * commit: every line waiting while a write runs goes in the next one) before SendEmail answers, so an acknowledged
 * send survives `kill -9`. A line cut short by a crash (never acknowledged) is removed on open.
 *
 * `<dir>/events.checkpoint` counts the leading lines whose sending events were put on the bus; the lines after it
 * (sent through a configuration set) are returned by `unconfirmed()` on open so their events are put again: the
 * tracking consumer applies each event once, so a repeat is harmless and a lost one is not.
 */
export class SesOutbox {
  private readonly index = new Map<string, IndexedMessage>();
  private lines = 0;
  private confirmedPrefix = 0;
  private readonly confirmedAhead = new Set<number>();
  private waiting: Array<{ text: string; resolve: () => void; reject: (error: Error) => void }> = [];
  private flushing: Promise<void> | undefined;
  private broken: Error | undefined;

  private constructor(
    /** Absent: kept in memory only (a LocalSes started without a data dir, in tests of other modules). */
    readonly file: string | undefined,
    private readonly handle: FileHandle | undefined,
    private readonly checkpointFd: number | undefined,
    private readonly pending: OutboxMessage[],
  ) {}

  static async open(dir: string | undefined): Promise<SesOutbox> {
    if (dir === undefined) return new SesOutbox(undefined, undefined, undefined, []);
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'outbox.jsonl');
    let content = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    const complete = content.lastIndexOf('\n') + 1;
    if (complete < content.length) {
      // A torn last line: its send was never acknowledged.
      await truncate(file, Buffer.byteLength(content.slice(0, complete)));
      content = content.slice(0, complete);
    }
    const checkpointFile = join(dir, 'events.checkpoint');
    const checkpoint = Number.parseInt(await readFile(checkpointFile, 'utf8').catch(() => '0'), 10);
    const messages =
      content === ''
        ? []
        : content
            .slice(0, -1)
            .split('\n')
            .map((l) => JSON.parse(l) as OutboxMessage);
    const confirmed = Number.isFinite(checkpoint) ? Math.min(Math.max(checkpoint, 0), messages.length) : 0;
    const pending = messages.slice(confirmed).filter((m) => m.configurationSet);
    const handle = await open(file, 'a');
    // r+ (not append mode, where every write would go to the end): the number is rewritten in place.
    closeSync(openSync(checkpointFile, 'a'));
    const checkpointFd = openSync(checkpointFile, 'r+');
    const outbox = new SesOutbox(file, handle, checkpointFd, pending);
    outbox.lines = messages.length;
    for (const message of messages) outbox.remember(message);
    // Events of the unconfirmed lines are put again by the caller (then confirmReplayed), before any new line.
    outbox.confirmedPrefix = messages.length;
    return outbox;
  }

  /** Messages of the previous run whose events may not have been put (their events are due again). */
  unconfirmed(): OutboxMessage[] {
    return this.pending;
  }

  /** The events of every line of the previous run are on the bus (put again where they may have been lost). */
  confirmReplayed(): void {
    this.writeCheckpoint(this.confirmedPrefix);
  }

  /** Messages recorded so far (this run and earlier ones). */
  get size(): number {
    return this.lines;
  }

  /** A message sent through a configuration set, by its message id. */
  get(messageId: string): IndexedMessage | undefined {
    return this.index.get(messageId);
  }

  /** Appends the message durably (fsync); resolves with its line number once it is on disk. */
  async append(message: OutboxMessage): Promise<number> {
    if (this.broken) throw this.broken;
    const line = this.lines++;
    if (this.handle) {
      await new Promise<void>((resolve, reject) => {
        this.waiting.push({ text: `${JSON.stringify(message)}\n`, resolve, reject });
        this.flushing ??= this.flush();
      });
    }
    this.remember(message);
    return line;
  }

  /** The events of line `line` are on the bus: the checkpoint advances over every confirmed leading line. */
  confirm(line: number): void {
    if (line < this.confirmedPrefix) return;
    this.confirmedAhead.add(line);
    while (this.confirmedAhead.delete(this.confirmedPrefix)) this.confirmedPrefix++;
    this.writeCheckpoint(this.confirmedPrefix);
  }

  async close(): Promise<void> {
    await this.flushing;
    await this.handle?.close();
    if (this.checkpointFd !== undefined) closeSync(this.checkpointFd);
  }

  private remember(message: OutboxMessage): void {
    if (!message.configurationSet) return;
    const { text: _text, html, ...rest } = message;
    const link = firstHttpsLink(html);
    this.index.set(message.messageId, link ? { ...rest, firstLink: link } : rest);
  }

  private writeCheckpoint(value: number): void {
    // Not fsynced: a process crash keeps the page cache, and a stale (lower) checkpoint only repeats events.
    if (this.checkpointFd === undefined) return;
    writeSync(this.checkpointFd, `${String(value).padStart(CHECKPOINT_WIDTH, '0')}\n`, 0);
  }

  private async flush(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting;
      this.waiting = [];
      try {
        await this.handle!.write(batch.map((b) => b.text).join(''));
        await this.handle!.datasync();
        for (const b of batch) b.resolve();
      } catch (error) {
        // The file may now hold part of the batch: refuse further sends rather than number lines wrongly.
        this.broken = error as Error;
        for (const b of [...batch, ...this.waiting]) b.reject(this.broken);
        this.waiting = [];
      }
    }
    this.flushing = undefined;
  }
}
