import { describe, expect, it } from 'vitest';
import { CATALOG, type EmailReceivedV2Detail, MAIL_LIMITS } from '../../events/catalog.ts';
import { EVENT_BUDGET_BYTES, entrySize } from '../events/bounds.ts';
import {
  describeMessage,
  emailReceivedEvent,
  jsonStringBytes,
  type MessageDelivery,
  truncateToBytes,
} from './inbound.ts';

const location = {
  bucket: 'inbound-mail',
  key: 'inbound/ses-message-1',
  messageId: 'ses-message-1',
  receivedAt: '2026-01-01T10:00:00.000Z',
};

/** One tenant's delivery of the message (what the inbound handler adds after resolving the envelope recipients). */
const delivery: MessageDelivery = {
  tenantId: 'acme',
  sesMessageId: 'ses-message-1',
  recipient: 'support+T-1042@crm.example',
  mailbox: { id: '01HZMAILBOX', address: 'support@crm.example', defaultPriority: 'normal' },
  verdicts: { spam: 'PASS', virus: 'PASS', spf: 'PASS', dkim: 'FAIL', dmarc: 'PASS' },
  flagged: ['dkim'],
  envelopeFrom: 'bounces@example.net',
};

const mime = (headers: string[], body = 'Hello.') => `${headers.join('\r\n')}\r\n\r\n${body}\r\n`;

/** Folds a long header value over continuation lines, as a sender may (every line stays short). */
const folded = (name: string, value: string[]) => `${name}: ${value.join(',\r\n ')}`;

async function parse(raw: string) {
  const event = emailReceivedEvent(await describeMessage(raw, location), delivery);
  const size = entrySize({ Source: event.source, DetailType: event.detailType, Detail: JSON.stringify(event.detail) });
  return { event, detail: event.detail as EmailReceivedV2Detail, size };
}

describe('email.received', () => {
  it('describes an ordinary message completely, with nothing truncated', async () => {
    const { event, detail } = await parse(
      mime([
        'From: Customer <customer@example.net>',
        'To: support@crm.example, sales@crm.example',
        'Cc: boss@example.net',
        'Subject: Help with my order',
        'Message-ID: <m1@example.net>',
        'In-Reply-To: <m0@crm.example>',
        'References: <a@x> <m0@crm.example>',
      ]),
    );
    expect(event.source).toBe('crm.mail');
    expect(detail).toMatchObject({
      messageId: '<m1@example.net>',
      s3: { bucket: 'inbound-mail', key: 'inbound/ses-message-1' },
      from: { address: 'customer@example.net', name: 'Customer' },
      to: ['support@crm.example', 'sales@crm.example'],
      cc: ['boss@example.net'],
      subject: 'Help with my order',
      inReplyTo: '<m0@crm.example>',
      references: ['<a@x>', '<m0@crm.example>'],
      text: expect.stringContaining('Hello.'),
    });
    expect(detail).not.toHaveProperty('truncated');
    // Version 2: the tenant's delivery beside what the message says.
    expect(detail).toMatchObject({ schemaVersion: 2, ...delivery });
    expect(detail).not.toHaveProperty('autoSubmitted');
  });

  it('keeps Auto-Submitted and Precedence, bounded, for loop detection', async () => {
    const { detail } = await parse(
      mime(['From: robot@example.net', 'Auto-Submitted: auto-replied', `Precedence: ${'bulk'.repeat(100)}`]),
    );
    expect(detail.autoSubmitted).toBe('auto-replied');
    expect(jsonStringBytes(detail.precedence!)).toBeLessThanOrEqual(100);
    expect(detail.precedence!.startsWith('bulkbulk')).toBe(true);
    expect(detail.truncated).toEqual(['precedence']);
  });

  it('still parses version 1 (archived events replay)', () => {
    const v1 = {
      schemaVersion: 1,
      messageId: '<m1@example.net>',
      s3: { bucket: 'b', key: 'k' },
      from: { address: 'a@example.net' },
      to: [],
      cc: [],
      subject: '',
      references: [],
      receivedAt: location.receivedAt,
    };
    expect(CATALOG['email.received'].schema.parse(v1)).toEqual(v1);
    // A v2 without its tenant is not a v2.
    expect(CATALOG['email.received'].schema.safeParse({ ...v1, schemaVersion: 2 }).success).toBe(false);
  });

  it('bounds a message with huge sender-controlled headers and body to a valid event under the limit', async () => {
    const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
    const raw = mime(
      [
        `From: "${'N'.repeat(5000)}" <${'f'.repeat(400)}@example.net>`,
        folded(
          'To',
          many(3000, (i) => `recipient${i}@example.com`),
        ),
        folded('Cc', [...many(10, (i) => `${'c'.repeat(330)}${i}@example.com`), 'ok@example.com']),
        // Quotes and control characters double or sextuple in JSON: bounds count the escaped size.
        `Subject: ${'"\u0001'.repeat(50_000)}`,
        `Message-ID: <${'m'.repeat(100_000)}@example.net>`,
        `In-Reply-To: <${'r'.repeat(5000)}@example.net>`,
        `References: ${many(1000, (i) => `<ref${i}-${'x'.repeat(900)}@example.net>`).join('\r\n ')}`,
      ],
      '\u0002'.repeat(300_000),
    );
    expect(raw.length).toBeGreaterThan(1_500_000);
    const { event, detail, size } = await parse(raw);
    expect(size).toBeLessThanOrEqual(EVENT_BUDGET_BYTES);
    expect(CATALOG['email.received'].schema.parse(event.detail)).toEqual(event.detail);

    expect(detail.to).toHaveLength(MAIL_LIMITS.addresses);
    expect(detail.to[0]).toBe('recipient0@example.com');
    // An address too long to be real is left out, not cut into another address.
    expect(detail.cc).toEqual(['ok@example.com']);
    expect(detail.from.address).toBe('');
    expect(jsonStringBytes(detail.from.name!)).toBeLessThanOrEqual(MAIL_LIMITS.nameBytes);
    expect(jsonStringBytes(detail.subject)).toBeLessThanOrEqual(MAIL_LIMITS.headerBytes);
    expect(detail.subject.startsWith('"\u0001"')).toBe(true);
    expect(jsonStringBytes(detail.messageId)).toBeLessThanOrEqual(MAIL_LIMITS.headerBytes);
    expect(detail.references).toHaveLength(MAIL_LIMITS.references);
    // The most recent references are kept: they are what threading needs.
    expect(detail.references.at(-1)).toContain('<ref999-');
    expect(jsonStringBytes(detail.text!)).toBeLessThanOrEqual(MAIL_LIMITS.textBytes);
    expect(detail.truncated).toEqual(
      ['cc', 'from', 'inReplyTo', 'messageId', 'references', 'subject', 'text', 'to'].sort(),
    );
    // The complete message is still referenced.
    expect(detail.s3).toEqual({ bucket: 'inbound-mail', key: 'inbound/ses-message-1' });
  });

  it('describes the envelope of a message whose headers are too large to parse at all', async () => {
    const raw = mime([
      'From: sender@example.net',
      `References: ${Array.from({ length: 3000 }, (_, i) => `<ref${i}-${'x'.repeat(900)}@example.net>`).join('\r\n ')}`,
    ]);
    expect(raw.length).toBeGreaterThan(2 * 1024 * 1024);
    const recipients = [...Array.from({ length: 80 }, (_, i) => `r${i}@crm.example`), `${'y'.repeat(400)}@crm.example`];
    const event = emailReceivedEvent(
      await describeMessage(raw, { ...location, envelope: { from: 'bounce@example.net', to: recipients } }),
      delivery,
    );
    expect(CATALOG['email.received'].schema.parse(event.detail)).toEqual(event.detail);
    expect(event.detail).toEqual({
      schemaVersion: 2,
      ...delivery,
      messageId: 'ses-message-1',
      s3: { bucket: 'inbound-mail', key: 'inbound/ses-message-1' },
      from: { address: 'bounce@example.net' },
      to: recipients.slice(0, MAIL_LIMITS.addresses),
      cc: [],
      subject: '',
      references: [],
      truncated: ['to'],
      unparsed: true,
      receivedAt: location.receivedAt,
    });
  });
});

describe('truncateToBytes', () => {
  it('cuts to the byte size the text takes in JSON, never inside a character', () => {
    expect(truncateToBytes('hello', 5)).toBe('hello');
    expect(truncateToBytes('hello', 4)).toBe('hell');
    expect(truncateToBytes('éé', 3)).toBe('é');
    expect(truncateToBytes('a😀b', 4)).toBe('a');
    expect(truncateToBytes('a😀b', 5)).toBe('a😀');
    expect(truncateToBytes('"x', 2)).toBe('"');
    expect(truncateToBytes('\u0001x', 5)).toBe('');
    expect(truncateToBytes('\u0001x', 6)).toBe('\u0001');
  });
});
