import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SESv2Client, SendEmailCommand, type SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseSesEvent, trackedMessage, trackingTags } from '../../shared/tracking/ses-events.ts';
import type { PutEventsEntry, PutEventsResponse } from './eventbridge.ts';
import { LocalSes } from './ses.ts';
import type { OutboxMessage } from './ses-events.ts';

/** The local SES front: durable outbox, unique SES-shaped ids, SES's events on the bus, the injection endpoint. */

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A bus that records what SES puts on it. */
function recordingBus() {
  const entries: PutEventsEntry[] = [];
  return {
    entries,
    putServiceEvents: async (batch: PutEventsEntry[]): Promise<PutEventsResponse> => {
      entries.push(...batch);
      return { FailedEntryCount: 0, Entries: batch.map((_, i) => ({ EventId: `e${entries.length + i}` })) };
    },
    parsed: () =>
      entries.map((e) => parseSesEvent({ 'detail-type': e.DetailType!, detail: JSON.parse(e.Detail!) as unknown })),
  };
}

const CONFIGURATION_SETS = new Map([
  [
    'crm-marketing',
    {
      name: 'crm-marketing',
      eventTypes: new Set(['SEND', 'DELIVERY', 'BOUNCE', 'COMPLAINT', 'OPEN', 'CLICK', 'REJECT']),
    },
  ],
  ['quiet', { name: 'quiet', eventTypes: new Set(['SEND', 'DELIVERY']) }],
]);

const recipient = { tenantId: 'acme', campaignId: '01JCAMP', contactId: '01JADA', email: 'ada@example.org' };

const campaignMail = (overrides: Partial<SendEmailCommandInput> = {}): SendEmailCommandInput => ({
  FromEmailAddress: 'news@crm.example',
  Destination: { ToAddresses: ['ada@example.org'] },
  ConfigurationSetName: 'crm-marketing',
  EmailTags: trackingTags(recipient),
  Content: {
    Simple: {
      Subject: { Data: 'Spring news' },
      Body: {
        Text: { Data: 'Hello Ada' },
        Html: { Data: '<p>Hello <a href="https://crm.example/spring">Ada</a></p>' },
      },
      Headers: [
        { Name: 'List-Unsubscribe', Value: '<https://api.crm.example/u/token>' },
        { Name: 'List-Unsubscribe-Post', Value: 'List-Unsubscribe=One-Click' },
      ],
    },
  },
  ...overrides,
});

const readOutbox = (dir: string): OutboxMessage[] =>
  readFileSync(join(dir, 'ses', 'outbox.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as OutboxMessage);

describe('LocalSes outbox and events', () => {
  let dir: string;
  let bus: ReturnType<typeof recordingBus>;
  let ses: LocalSes;
  let client: SESv2Client;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ses-outbox-'));
    dirs.push(dir);
    bus = recordingBus();
    ses = await LocalSes.start({ log: () => {}, dataDir: dir, events: bus, configurationSets: CONFIGURATION_SETS });
    // aws-ses-v2-local keeps one store per process: start each case from an empty one.
    await ses.clear();
    client = new SESv2Client({
      region: 'us-east-1',
      endpoint: ses.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterEach(async () => {
    client.destroy();
    await ses.stop();
  });

  const inject = (body: unknown) =>
    fetch(ses.injectUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('appends each send to the outbox before answering, with its headers, tags and configuration set', async () => {
    const sent = await client.send(new SendEmailCommand(campaignMail()));
    expect(sent.MessageId).toMatch(/^[0-9a-f]{16}-[0-9a-f-]{36}-000000$/);
    // Read straight after the answer: the line is there already.
    const [line] = readOutbox(dir);
    expect(line).toMatchObject({
      messageId: sent.MessageId,
      from: 'news@crm.example',
      to: ['ada@example.org'],
      subject: 'Spring news',
      configurationSet: 'crm-marketing',
      tags: { tenantId: 'acme', campaignId: '01JCAMP', contactId: '01JADA' },
      text: 'Hello Ada',
      headers: [
        { name: 'List-Unsubscribe', value: '<https://api.crm.example/u/token>' },
        { name: 'List-Unsubscribe-Post', value: 'List-Unsubscribe=One-Click' },
      ],
    });
    expect(Number.isNaN(Date.parse(line!.time))).toBe(false);
    // The web UI's store still has it, under our id.
    const stored = await ses.sentEmails();
    expect(stored.map((m) => m.messageId)).toEqual([sent.MessageId]);
  });

  it('gives every send a unique id, also when many go at once', async () => {
    const ids = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        client
          .send(new SendEmailCommand(campaignMail({ Destination: { ToAddresses: [`r${i}@example.org`] } })))
          .then((r) => r.MessageId!),
      ),
    );
    expect(new Set(ids).size).toBe(120);
    const lines = readOutbox(dir);
    expect(lines.map((l) => l.messageId).sort()).toEqual([...ids].sort());
    expect(new Set((await ses.sentEmails()).map((m) => m.messageId))).toEqual(new Set(ids));
  });

  it("puts Email Sent and Email Delivered, shaped as SES's, for sends through a configuration set only", async () => {
    const sent = await client.send(new SendEmailCommand(campaignMail()));
    const events = bus.parsed();
    expect(events.map((e) => e.kind)).toEqual(['send', 'delivery']);
    for (const event of events) {
      expect(event.mail.messageId).toBe(sent.MessageId);
      expect(event.mail.tags?.['ses:configuration-set']).toEqual(['crm-marketing']);
      expect(trackedMessage(event.mail)).toEqual(recipient);
    }
    expect(bus.entries.every((e) => e.Source === 'aws.ses')).toBe(true);
    expect(bus.entries[0]!.Resources).toEqual(['arn:aws:ses:us-east-1:000000000000:configuration-set/crm-marketing']);

    await client.send(new SendEmailCommand(campaignMail({ ConfigurationSetName: undefined })));
    await client.send(new SendEmailCommand(campaignMail({ ConfigurationSetName: 'not-in-the-template' })));
    expect(bus.entries).toHaveLength(2);
    expect(readOutbox(dir)).toHaveLength(3);
  });

  it("records Raw sends from their MIME headers, and relays the backend's refusals without recording them", async () => {
    const raw = [
      'From: "CRM" <crm@crm.example>',
      'To: grace@example.org',
      'Subject: Raw hello',
      'X-Campaign: spring',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Raw body',
      '',
    ].join('\r\n');
    await client.send(
      new SendEmailCommand({
        Destination: { ToAddresses: ['grace@example.org'] },
        Content: { Raw: { Data: Buffer.from(raw) } },
      }),
    );
    const [line] = readOutbox(dir);
    expect(line).toMatchObject({ from: 'crm@crm.example', to: ['grace@example.org'], subject: 'Raw hello' });
    expect(line!.headers).toContainEqual({ name: 'X-Campaign', value: 'spring' });
    await expect(
      client.send(
        new SendEmailCommand({
          FromEmailAddress: 'crm@crm.example',
          Destination: { ToAddresses: ['x@example.org'] },
          Content: { Simple: { Subject: { Data: '' }, Body: { Text: { Data: 'no subject' } } } },
        }),
      ),
    ).rejects.toThrow();
    expect(readOutbox(dir)).toHaveLength(1);
  });

  it('injects bounces, complaints, opens, clicks and rejects for a message, as SES would publish them', async () => {
    const sent = await client.send(new SendEmailCommand(campaignMail()));
    bus.entries.length = 0;
    const cases = [
      [{ type: 'bounce' }, { kind: 'bounce', bounceType: 'Permanent' }],
      [
        { type: 'bounce', bounceType: 'soft' },
        { kind: 'bounce', bounceType: 'Transient' },
      ],
      [{ type: 'complaint' }, { kind: 'complaint', detail: 'abuse' }],
      [
        { type: 'open', at: '2031-05-01T10:00:00.000Z' },
        { kind: 'open', at: '2031-05-01T10:00:00.000Z' },
      ],
      [{ type: 'click' }, { kind: 'click', link: 'https://crm.example/spring' }],
      [
        { type: 'click', link: 'https://crm.example/other' },
        { kind: 'click', link: 'https://crm.example/other' },
      ],
      [{ type: 'reject' }, { kind: 'reject', detail: 'Bad content' }],
    ] as const;
    for (const [request] of cases) {
      const response = await inject({ messageId: sent.MessageId, ...request });
      expect(response.status).toBe(202);
      expect(await response.json()).toMatchObject({ messageId: sent.MessageId });
    }
    const events = bus.parsed();
    cases.forEach(([, expected], i) => {
      expect(events[i]).toMatchObject(expected);
      expect(trackedMessage(events[i]!.mail)).toEqual(recipient);
    });
  });

  it('refuses bad injections with 4xx: malformed, unknown message, an event type the set does not publish', async () => {
    const quiet = await client.send(new SendEmailCommand(campaignMail({ ConfigurationSetName: 'quiet' })));
    const plain = await client.send(new SendEmailCommand(campaignMail({ ConfigurationSetName: undefined })));
    const count = bus.entries.length;
    expect((await inject({ messageId: quiet.MessageId, type: 'explode' })).status).toBe(400);
    expect((await inject({ type: 'open' })).status).toBe(400);
    expect((await inject({ messageId: quiet.MessageId, type: 'open', extra: 1 })).status).toBe(400);
    expect(
      (
        await fetch(ses.injectUrl, {
          method: 'POST',
          body: '{not json',
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(400);
    expect((await inject({ messageId: 'no-such-message', type: 'open' })).status).toBe(404);
    expect((await inject({ messageId: plain.MessageId, type: 'open' })).status).toBe(404);
    expect((await inject({ messageId: quiet.MessageId, type: 'open' })).status).toBe(409);
    expect((await fetch(ses.injectUrl)).status).toBe(405);
    // Not JSON (what a cross-site form could post), or a rebound host name: refused before anything is read.
    const form = await fetch(ses.injectUrl, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ messageId: quiet.MessageId, type: 'delivery' }),
    });
    expect(form.status).toBe(415);
    const rebound = await new Promise<number>((resolve, reject) => {
      const req = request(
        ses.injectUrl,
        { method: 'POST', headers: { host: `evil.example:${ses.port}`, 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ messageId: quiet.MessageId, type: 'delivery' }));
    });
    expect(rebound).toBe(400);
    expect(bus.entries).toHaveLength(count);
  });
});

describe('LocalSes outbox across restarts', () => {
  it('keeps acknowledged lines, drops a torn last line, and puts again the events a crash may have lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ses-outbox-'));
    dirs.push(dir);
    const bus = recordingBus();
    const start = () =>
      LocalSes.start({ log: () => {}, dataDir: dir, events: bus, configurationSets: CONFIGURATION_SETS });
    let ses = await start();
    const client = new SESv2Client({
      region: 'us-east-1',
      endpoint: ses.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const first = await client.send(new SendEmailCommand(campaignMail()));
    client.destroy();
    await ses.stop();
    // A crash after the outbox line and before its events were put: the checkpoint still says 0, and a second send's
    // line was cut short (never acknowledged).
    writeFileSync(join(dir, 'ses', 'events.checkpoint'), `${'0'.padStart(20, '0')}\n`);
    await appendFile(join(dir, 'ses', 'outbox.jsonl'), '{"messageId":"torn');
    bus.entries.length = 0;

    ses = await start();
    expect(readOutbox(dir).map((l) => l.messageId)).toEqual([first.MessageId]);
    // Nothing is put before the caller says the bus's targets run (the local cloud: after starting the functions).
    expect(bus.entries).toEqual([]);
    expect(await ses.replayUnconfirmed()).toBe(1);
    expect(bus.parsed().map((e) => `${e.kind} ${e.mail.messageId}`)).toEqual([
      `send ${first.MessageId}`,
      `delivery ${first.MessageId}`,
    ]);
    // Injection still finds the message after the restart.
    const injected = await fetch(ses.injectUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messageId: first.MessageId, type: 'click' }),
    });
    expect(injected.status).toBe(202);
    await ses.stop();

    // Confirmed now: a clean restart puts nothing again.
    bus.entries.length = 0;
    ses = await start();
    expect(await ses.replayUnconfirmed()).toBe(0);
    expect(bus.entries).toEqual([]);
    expect(ses.outbox.size).toBe(1);
    await ses.stop();
  });

  it('never moves the checkpoint past a line whose events were not put again, whatever is sent meanwhile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ses-outbox-'));
    dirs.push(dir);
    const bus = recordingBus();
    const start = () =>
      LocalSes.start({ log: () => {}, dataDir: dir, events: bus, configurationSets: CONFIGURATION_SETS });
    const send = async (ses: LocalSes, to: string) => {
      const client = new SESv2Client({
        region: 'us-east-1',
        endpoint: ses.endpoint,
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      try {
        return (await client.send(new SendEmailCommand(campaignMail({ Destination: { ToAddresses: [to] } }))))
          .MessageId!;
      } finally {
        client.destroy();
      }
    };
    let ses = await start();
    const lost = await send(ses, 'lost@example.org');
    await ses.stop();
    writeFileSync(join(dir, 'ses', 'events.checkpoint'), `${'0'.padStart(20, '0')}\n`);
    // Restarted, and a new send before the replay: its events go out, the lost one's are still due.
    ses = await start();
    const later = await send(ses, 'new@example.org');
    await ses.stop();
    ses = await start();
    bus.entries.length = 0;
    // The checkpoint counts leading lines: the later one's events are put again too (a harmless repeat).
    expect(await ses.replayUnconfirmed()).toBe(2);
    expect(bus.parsed().map((e) => e.mail.messageId)).toEqual([lost, lost, later, later]);
    await ses.stop();
  });
});
