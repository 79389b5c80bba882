import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../constructs/crm-function.ts';
import type { PutEventsEntry } from './eventbridge.ts';
import { LocalSes } from './ses.ts';
import type { OutboxMessage } from './ses-events.ts';

/**
 * The outbox against a real `kill -9`: a local SES in its own process takes sends at full speed and is killed
 * mid-stream; after a restart every acknowledged send is in the outbox exactly once, and every one has its Email Sent
 * event on the bus (put before the crash, or put again on restart).
 */
const dir = mkdtempSync(join(tmpdir(), 'ses-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '');

describe('LocalSes outbox under kill -9', () => {
  it('keeps every acknowledged send once and its events', { timeout: 120_000 }, async () => {
    const childTmp = join(dir, 'tmp');
    mkdirSync(childTmp);
    const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'test/support/ses-child.ts'), dir], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TMPDIR: childTmp },
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const endpoint = await new Promise<string>((resolve, reject) => {
      child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8').trim()));
      child.once('exit', (code) => reject(new Error(`the SES child exited early (${code})`)));
    });
    const client = new SESv2Client({
      region: 'us-east-1',
      endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    const acknowledged: string[] = [];
    let killed = false;
    const sender = async (worker: number) => {
      for (let i = 0; !killed; i++) {
        try {
          const sent = await client.send(
            new SendEmailCommand({
              FromEmailAddress: 'news@crm.example',
              Destination: { ToAddresses: [`w${worker}-${i}@example.org`] },
              ConfigurationSetName: 'crm-marketing',
              EmailTags: [{ Name: 'campaignId', Value: 'crash' }],
              Content: { Simple: { Subject: { Data: `n${i}` }, Body: { Text: { Data: 'x'.repeat(2000) } } } },
            }),
          );
          acknowledged.push(sent.MessageId!);
        } catch {
          return; // the connection died with the process: that send was never acknowledged
        }
        if (acknowledged.length >= 150 && !killed) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => sender(w)));
    await exited;
    client.destroy();
    expect(acknowledged.length).toBeGreaterThanOrEqual(150);

    const bus: PutEventsEntry[] = [];
    const restarted = await LocalSes.start({
      dataDir: dir,
      log: () => {},
      configurationSets: new Map([
        ['crm-marketing', { name: 'crm-marketing', eventTypes: new Set(['SEND', 'DELIVERY']) }],
      ]),
      events: {
        putServiceEvents: async (entries) => {
          bus.push(...entries);
          return { FailedEntryCount: 0, Entries: entries.map((_, i) => ({ EventId: String(i) })) };
        },
      },
    });
    await restarted.stop();

    const outbox = lines(join(dir, 'ses', 'outbox.jsonl')).map((l) => JSON.parse(l) as OutboxMessage);
    const ids = outbox.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(ids.length);
    const inOutbox = new Set(ids);
    expect(acknowledged.filter((id) => !inOutbox.has(id))).toEqual([]);
    const sentEvents = [...lines(join(dir, 'bus.jsonl')).map((l) => JSON.parse(l) as PutEventsEntry), ...bus].filter(
      (e) => e.DetailType === 'Email Sent',
    );
    const withEvents = new Set(
      sentEvents.map((e) => (JSON.parse(e.Detail!) as { mail: { messageId: string } }).mail.messageId),
    );
    expect(ids.filter((id) => !withEvents.has(id))).toEqual([]);
  });
});
