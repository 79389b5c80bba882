import PostalMime from 'postal-mime';
import { describe, expect, it } from 'vitest';
import {
  automaticMailReason,
  MAX_THREAD_IDS,
  messageIdKey,
  ourMessageId,
  parseOurMessageId,
  plusAddress,
  replySubject,
  subaddressTag,
  threadIds,
  ticketNumberInSubject,
  ticketNumberInTag,
} from './mail-headers.ts';
import { buildRawMail } from './mime.ts';

const M = '01JC0000000000000000000000';
const T = '01JC1111111111111111111111';

describe('our Message-IDs', () => {
  it('round-trips message, ticket and tenant on our domain only', () => {
    const id = ourMessageId(M, T, 'acme_1', 'mail.example.com');
    expect(id).toBe(`<${M}.${T}.acme_1@mail.example.com>`);
    expect(parseOurMessageId(id, 'MAIL.example.com')).toEqual({ messageId: M, ticketId: T, tenantId: 'acme_1' });
    expect(parseOurMessageId(id, 'other.example.com')).toBeUndefined();
    expect(parseOurMessageId(`<${M}@mail.example.com>`, 'mail.example.com')).toBeUndefined();
    expect(parseOurMessageId('<CAF=abc@mail.gmail.com>', 'mail.gmail.com')).toBeUndefined();
  });
});

describe('messageIdKey', () => {
  it('drops brackets and case, keys SES ids on their id whatever the region host', () => {
    expect(messageIdKey(' <CAF=Abc@Mail.Gmail.com> ')).toBe('caf=abc@mail.gmail.com');
    expect(messageIdKey('<0100018c-aa@email.amazonses.com>')).toBe('ses:0100018c-aa');
    expect(messageIdKey('<0100018c-aa@eu-west-1.amazonses.com>')).toBe('ses:0100018c-aa');
    expect(messageIdKey('<>')).toBeUndefined();
    expect(messageIdKey('<a b@c>')).toBeUndefined();
  });
});

describe('threadIds', () => {
  it('puts In-Reply-To first, then References newest first, without repeats, bounded', () => {
    expect(threadIds('<c@x>', ['<a@x>', '<b@x>', '<c@x>'])).toEqual(['<c@x>', '<b@x>', '<a@x>']);
    const many = Array.from({ length: 30 }, (_, i) => `<r${i}@x>`);
    const ids = threadIds(undefined, many);
    expect(ids).toHaveLength(MAX_THREAD_IDS);
    expect(ids[0]).toBe('<r29@x>');
  });
});

describe('ticket numbers in subjects and plus-addresses', () => {
  it('finds [T-1042] in a subject, and only the bracketed token', () => {
    expect(ticketNumberInSubject('Re: Printer on fire [T-1042]')).toBe(1042);
    expect(ticketNumberInSubject('RE: [t-7] hello')).toBe(7);
    expect(ticketNumberInSubject('About T-1042 again')).toBeUndefined();
    expect(ticketNumberInSubject('[T-0]')).toBeUndefined();
  });

  it('reads the +tag of a recipient and a number from it', () => {
    expect(subaddressTag('support+T-1042@acme.com')).toBe('T-1042');
    expect(subaddressTag('support@acme.com')).toBeUndefined();
    expect(subaddressTag('support+@acme.com')).toBeUndefined();
    expect(ticketNumberInTag('T-1042')).toBe(1042);
    expect(ticketNumberInTag('billing')).toBeUndefined();
    expect(plusAddress('support@acme.com', 'T-1042')).toBe('support+T-1042@acme.com');
    expect(plusAddress('support+old@acme.com', 'T-7')).toBe('support+T-7@acme.com');
  });

  it('builds reply subjects without stacking Re: or the token', () => {
    expect(replySubject('Printer on fire', 'T-1042')).toBe('Re: Printer on fire [T-1042]');
    expect(replySubject('RE: Aw: Printer on fire [T-1042]', 'T-1042')).toBe('Re: Printer on fire [T-1042]');
  });
});

describe('automatic mail', () => {
  const person = {
    headers: new Map<string, string>(),
    envelopeFrom: 'ann@customer.com',
    fromAddress: 'ann@customer.com',
    messageId: '<abc@customer.com>',
    domain: 'crm.local',
    mailboxAddress: 'support@acme.com',
  };
  const withHeaders = (entries: Record<string, string>) => ({ ...person, headers: new Map(Object.entries(entries)) });

  it("lets a person's mail through", () => {
    expect(automaticMailReason(person)).toBeUndefined();
    expect(automaticMailReason(withHeaders({ 'auto-submitted': 'no' }))).toBeUndefined();
    expect(automaticMailReason(withHeaders({ precedence: 'first-class' }))).toBeUndefined();
  });

  it('drops Auto-Submitted other than no, bulk precedences and X-Autoreply / X-Autorespond', () => {
    expect(automaticMailReason(withHeaders({ 'auto-submitted': 'auto-replied' }))).toBe('auto-submitted');
    expect(automaticMailReason(withHeaders({ 'auto-submitted': 'Auto-Generated; owner-email="x@y"' }))).toBe(
      'auto-submitted',
    );
    for (const precedence of ['bulk', 'junk', 'list', 'auto_reply', 'BULK']) {
      expect(automaticMailReason(withHeaders({ precedence }))).toBe(`precedence-${precedence.toLowerCase()}`);
    }
    expect(automaticMailReason(withHeaders({ 'x-autoreply': 'yes' }))).toBe('auto-reply');
    expect(automaticMailReason(withHeaders({ 'x-autorespond': '1' }))).toBe('auto-reply');
  });

  it('drops bounces: null sender, MAILER-DAEMON / postmaster, multipart/report', () => {
    expect(automaticMailReason({ ...person, envelopeFrom: '' })).toBe('null-sender');
    expect(automaticMailReason({ ...person, fromAddress: 'MAILER-DAEMON@mx.customer.com' })).toBe('bounce');
    expect(automaticMailReason({ ...person, fromAddress: 'postmaster@customer.com' })).toBe('bounce');
    expect(
      automaticMailReason(withHeaders({ 'content-type': 'multipart/report; report-type=delivery-status; boundary=x' })),
    ).toBe('bounce');
  });

  it('drops our own mail coming back: our Message-ID, or the mailbox writing to itself', () => {
    expect(automaticMailReason({ ...person, messageId: ourMessageId(M, T, 'acme', 'crm.local') })).toBe('own-message');
    expect(automaticMailReason({ ...person, fromAddress: 'Support+T-7@acme.com' })).toBe('own-mailbox');
  });
});

describe('buildRawMail', () => {
  it('writes the threading headers and bodies a mail client reads back', async () => {
    const raw = buildRawMail({
      from: { address: 'support@acme.com', name: 'Acme Süpport' },
      to: ['ann@customer.com'],
      cc: ['bob@customer.com'],
      replyTo: 'support+T-1042@acme.com',
      subject: 'Re: Drucker brennt [T-1042]',
      messageId: ourMessageId(M, T, 'acme', 'crm.local'),
      inReplyTo: '<first@customer.com>',
      references: ['<zero@customer.com>', '<first@customer.com>'],
      date: new Date('2026-01-05T10:00:00Z'),
      text: 'Grüße — we are on it.',
      html: '<p>Grüße — we are on it.</p>',
      attachments: [{ fileName: 'log ü.txt', contentType: 'text/plain', content: Buffer.from('hello') }],
    });
    const mail = await PostalMime.parse(raw);
    expect(mail.messageId).toBe(ourMessageId(M, T, 'acme', 'crm.local'));
    expect(mail.inReplyTo).toBe('<first@customer.com>');
    expect(mail.references?.split(/\s+/)).toEqual(['<zero@customer.com>', '<first@customer.com>']);
    expect(mail.replyTo?.[0]).toMatchObject({ address: 'support+T-1042@acme.com' });
    expect(mail.from).toMatchObject({ address: 'support@acme.com', name: 'Acme Süpport' });
    expect(mail.cc?.[0]).toMatchObject({ address: 'bob@customer.com' });
    expect(mail.subject).toBe('Re: Drucker brennt [T-1042]');
    expect(mail.text?.trim()).toBe('Grüße — we are on it.');
    expect(mail.html).toContain('<p>Grüße');
    expect(mail.attachments).toHaveLength(1);
    expect(mail.attachments[0]).toMatchObject({ filename: 'log ü.txt', mimeType: 'text/plain' });
    // No header line passes RFC 5322's 998 characters.
    const lines = Buffer.from(raw).toString('utf8').split('\r\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(998);
  });
});
