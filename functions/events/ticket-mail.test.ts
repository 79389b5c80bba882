import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Context, EventBridgeEvent } from 'aws-lambda';
import PostalMime from 'postal-mime';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CatalogEvent, catalogEvent, type EmailReceivedV2Detail } from '../../events/catalog.ts';
import { LocalS3 } from '../../infra/local/s3.ts';
import { LocalSes } from '../../infra/local/ses.ts';
import { TemplateResolver } from '../../infra/local/template.ts';
import { ourMessageId } from '../../shared/tickets/mail-headers.ts';
import { buildRawMail } from '../../shared/tickets/mime.ts';
import { uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

/**
 * Tickets by email against DynamoDB Local, the local S3 (inbound mail, ticket files, claim checks) and the local SES
 * (aws-ses-v2-local): the intake consumer (threading, loops, de-duplication, files, verdicts), the replies route and
 * the reply sender.
 */

// The ticket writes, wrapped so a test can make one fail after the mail's files and contact were stored.
vi.mock('../../shared/tickets/service.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../shared/tickets/service.ts')>();
  return { ...actual, createTicket: vi.fn(actual.createTicket), addCustomerMessage: vi.fn(actual.addCustomerMessage) };
});

type Handler = (event: EventBridgeEvent<string, unknown>, context: Context) => Promise<void>;
let intake: Handler;
let sender: Handler;
let ticketsAs: (tenantId: string) => ReturnType<typeof apiClient>;
let contactsAs: (tenantId: string) => ReturnType<typeof apiClient>;
let putMailbox: typeof import('../../test/support/mailboxes.ts').putMailboxForTests;
let s3: LocalS3;
let ses: LocalSes;
let s3Client: S3Client;
let dataDir: string;
const context = { functionName: 'ticket-mail', awsRequestId: 'r', getRemainingTimeInMillis: () => 30_000 } as Context;
const MAIL_DOMAIN = 'mail.crm.test';

beforeAll(async () => {
  await useFreshTable('ticket-mail');
  dataDir = await mkdtemp(join(tmpdir(), 'ticket-mail-'));
  const bucket = (name: string) => ({ Type: 'AWS::S3::Bucket', Properties: { BucketName: name } });
  s3 = await LocalS3.start({
    resolver: new TemplateResolver({
      Resources: { Inbound: bucket('inbound'), Files: bucket('files'), Claims: bucket('claims') },
    }),
    dataDir,
    silent: true,
  });
  ses = await LocalSes.start({ log: () => {} });
  s3Client = new S3Client({
    region: 'us-east-1',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_SESV2: ses.endpoint,
    INBOUND_BUCKET: 'inbound',
    INBOUND_PREFIX: 'inbound/',
    ATTACHMENTS_BUCKET: 'files',
    CLAIM_CHECK_BUCKET: 'claims',
    MAIL_DOMAIN,
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  ({ handler: intake } = (await import('./ticket-mail.ts')) as unknown as { handler: Handler });
  ({ handler: sender } = (await import('./ticket-reply-send.ts')) as unknown as { handler: Handler });
  const tickets = (await import('../http/tickets.ts')).handler;
  const contacts = (await import('../http/contacts.ts')).handler;
  ticketsAs = (tenantId) => apiClient(tickets, { tenantId, roles: ['support'], userId: 'agent-1' });
  contactsAs = (tenantId) => apiClient(contacts, { tenantId, roles: ['admin'], userId: 'admin-1' });
  putMailbox = (await import('../../test/support/mailboxes.ts')).putMailboxForTests;
});

afterAll(async () => {
  s3Client?.destroy();
  await ses?.stop();
  await s3?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const MAILBOX = { id: 'mbx1', address: 'support@acme.test', defaultPriority: 'high' as const };

interface RawMail {
  from?: string;
  subject?: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string[];
  headers?: Record<string, string>;
  text?: string;
  attachments?: Array<{ fileName: string; contentType: string; content: Uint8Array }>;
}

function raw(mail: RawMail = {}): Uint8Array {
  const built = Buffer.from(
    buildRawMail({
      from: { address: mail.from ?? 'ann@customer.test', name: 'Ann Example' },
      to: [MAILBOX.address],
      subject: mail.subject ?? 'Printer on fire',
      messageId: mail.messageId ?? `<${randomUUID()}@customer.test>`,
      inReplyTo: mail.inReplyTo,
      references: mail.references,
      date: new Date(),
      text: mail.text ?? 'Please help, the printer is on fire.',
      attachments: mail.attachments,
    }),
  ).toString('utf8');
  const extra = Object.entries(mail.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return Buffer.from(extra + built, 'utf8');
}

/** Stores the raw mail where the receipt rule would and builds its `email.received` v2, as mail-in will. */
async function delivered(
  tenantId: string,
  mail: RawMail = {},
  v2: Partial<EmailReceivedV2Detail> = {},
): Promise<CatalogEvent> {
  const sesMessageId = v2.sesMessageId ?? randomUUID();
  const key = `inbound/${sesMessageId}`;
  const bytes = raw(mail);
  await s3Client.send(new PutObjectCommand({ Bucket: 'inbound', Key: key, Body: bytes }));
  // The message's own fields as the inbound function describes them (test mails are small: nothing to bound).
  const parsed = await PostalMime.parse(bytes);
  return catalogEvent('email.received', {
    messageId: parsed.messageId ?? sesMessageId,
    s3: { bucket: 'inbound', key },
    from: { address: parsed.from?.address ?? '', ...(parsed.from?.name ? { name: parsed.from.name } : {}) },
    to: (parsed.to ?? []).flatMap((a) => (a.address ? [a.address] : [])),
    cc: [],
    subject: parsed.subject ?? '',
    ...(parsed.inReplyTo ? { inReplyTo: parsed.inReplyTo } : {}),
    references: parsed.references ? parsed.references.split(/\s+/).filter(Boolean) : [],
    ...(parsed.text ? { text: parsed.text } : {}),
    receivedAt: new Date().toISOString(),
    schemaVersion: 2,
    tenantId,
    sesMessageId,
    recipient: MAILBOX.address,
    mailbox: MAILBOX,
    verdicts: { spam: 'PASS', virus: 'PASS', spf: 'PASS', dkim: 'PASS', dmarc: 'PASS' },
    flagged: [],
    envelopeFrom: mail.from ?? 'ann@customer.test',
    ...v2,
  } as EmailReceivedV2Detail);
}

const asBusEvent = (event: CatalogEvent) =>
  ({
    'detail-type': event.detailType,
    source: event.source,
    detail: event.detail,
  }) as unknown as EventBridgeEvent<string, unknown>;

async function take(event: CatalogEvent): Promise<void> {
  await intake(asBusEvent(event), context);
}

async function ticketsOf(tenantId: string) {
  const res = await ticketsAs(tenantId)('GET', '/v1/tickets?limit=100');
  expect(res.status).toBe(200);
  return res.body.items as Array<Record<string, unknown> & { id: string }>;
}

async function threadOf(tenantId: string, ticketId: string) {
  const res = await ticketsAs(tenantId)('GET', `/v1/tickets/${ticketId}/messages?limit=100`);
  expect(res.status).toBe(200);
  return res.body.items as Array<Record<string, unknown> & { id: string }>;
}

describe('mail in: a new ticket', () => {
  it('opens a ticket from the mailbox (channel, priority, mailbox), with the requester created and the mail as its first message', async () => {
    const tenant = uniqueTenant('mail');
    await take(await delivered(tenant, { messageId: '<first@customer.test>' }));
    const [ticket] = await ticketsOf(tenant);
    expect(ticket).toMatchObject({
      subject: 'Printer on fire',
      channel: 'email',
      priority: 'high',
      mailboxId: 'mbx1',
      status: 'new',
      messageCount: 1,
    });
    expect(String(ticket!.description)).toContain('printer is on fire');
    const contact = await contactsAs(tenant)('GET', `/v1/contacts/${ticket!.requesterId}`);
    expect(contact.body).toMatchObject({ emails: ['ann@customer.test'], firstName: 'Ann', lastName: 'Example' });
    const [message] = await threadOf(tenant, ticket!.id);
    expect(message).toMatchObject({
      authorType: 'contact',
      authorId: ticket!.requesterId,
      visibility: 'public',
      emailMessageId: '<first@customer.test>',
      from: { address: 'ann@customer.test', name: 'Ann Example' },
      to: [MAILBOX.address],
      source: { channel: 'email', mailboxId: 'mbx1' },
    });
  });

  it('matches an existing contact by address instead of creating one', async () => {
    const tenant = uniqueTenant('mail');
    const existing = await contactsAs(tenant)('POST', '/v1/contacts', {
      body: { firstName: 'Known', emails: ['known@customer.test'] },
    });
    await take(await delivered(tenant, { from: 'Known@Customer.test' }));
    const [ticket] = await ticketsOf(tenant);
    expect(ticket!.requesterId).toBe(existing.body.id);
  });

  it('the same SES message delivered twice (or concurrently) makes one ticket and one message', async () => {
    const tenant = uniqueTenant('mail');
    const event = await delivered(tenant);
    await Promise.all([take(event), take(event)]);
    await take(event);
    const tickets = await ticketsOf(tenant);
    expect(tickets).toHaveLength(1);
    expect(await threadOf(tenant, tickets[0]!.id)).toHaveLength(1);
  });

  it('the same mail sent again (a new SES id, its Message-ID from the same sender) adds nothing; from another sender it does', async () => {
    const tenant = uniqueTenant('mail');
    await take(await delivered(tenant, { messageId: '<again@customer.test>' }));
    await take(await delivered(tenant, { messageId: '<again@customer.test>' }));
    const tickets = await ticketsOf(tenant);
    expect(tickets).toHaveLength(1);
    expect(await threadOf(tenant, tickets[0]!.id)).toHaveLength(1);
    await take(await delivered(tenant, { messageId: '<again@customer.test>', from: 'other@customer.test' }));
    expect(await ticketsOf(tenant)).toHaveLength(2);
  });

  it('a delivery that fails after storing its files and contact is retried into one ticket with the same files', async () => {
    const service = await import('../../shared/tickets/service.ts');
    const tenant = uniqueTenant('mail');
    const event = await delivered(tenant, {
      attachments: [{ fileName: 'a.txt', contentType: 'text/plain', content: Buffer.from('aaa') }],
    });
    vi.mocked(service.createTicket).mockRejectedValueOnce(new Error('connection lost'));
    await expect(take(event)).rejects.toThrow('connection lost');
    expect(await ticketsOf(tenant)).toEqual([]);
    await take(event);
    await take(event);
    const tickets = await ticketsOf(tenant);
    expect(tickets).toHaveLength(1);
    const [message] = await threadOf(tenant, tickets[0]!.id);
    expect(message!.attachmentIds).toHaveLength(1);
    const contacts = await contactsAs(tenant)('GET', '/v1/contacts');
    expect(contacts.body.items).toHaveLength(1);

    // The same for a reply: the failed attempt leaves nothing, the retry adds exactly one message.
    const reply = await delivered(tenant, { subject: `Re: [${tickets[0]!.number}]` });
    vi.mocked(service.addCustomerMessage).mockRejectedValueOnce(new Error('connection lost'));
    await expect(take(reply)).rejects.toThrow('connection lost');
    await take(reply);
    await take(reply);
    expect(await threadOf(tenant, tickets[0]!.id)).toHaveLength(2);
  });

  it('records flagged verdicts as tags and on the message', async () => {
    const tenant = uniqueTenant('mail');
    await take(
      await delivered(
        tenant,
        {},
        {
          flagged: ['spam', 'dkim'],
          verdicts: { spam: 'FAIL', virus: 'PASS', spf: 'PASS', dkim: 'FAIL', dmarc: 'PASS' },
        },
      ),
    );
    const [ticket] = await ticketsOf(tenant);
    expect(ticket!.tags).toEqual(['spam-suspected', 'sender-unverified']);
    const [message] = await threadOf(tenant, ticket!.id);
    expect(message!.source).toMatchObject({ flagged: ['spam', 'dkim'] });
  });

  it('keeps attachments in the files bucket, and names the ones over the bounds without failing the mail', async () => {
    const tenant = uniqueTenant('mail');
    const big = new Uint8Array(10 * 1024 * 1024 + 1).fill(65);
    await take(
      await delivered(tenant, {
        attachments: [
          { fileName: 'log.txt', contentType: 'text/plain', content: Buffer.from('the log') },
          { fileName: 'huge.bin', contentType: 'application/octet-stream', content: big },
        ],
      }),
    );
    const [ticket] = await ticketsOf(tenant);
    const [message] = await threadOf(tenant, ticket!.id);
    expect(message!.attachmentIds).toHaveLength(1);
    expect(message!.source).toMatchObject({
      skippedAttachments: [{ fileName: 'huge.bin', bytes: big.byteLength, reason: 'too_large' }],
    });
    const file = await ticketsAs(tenant)(
      'GET',
      `/v1/tickets/${ticket!.id}/attachments/${(message!.attachmentIds as string[])[0]}`,
    );
    expect(file.status).toBe(200);
    expect(file.body).toMatchObject({ fileName: 'log.txt', contentType: 'text/plain', size: 7 });
    expect(await (await fetch(file.body.download.url)).text()).toBe('the log');
  });
});

describe('mail in: loops and automatic mail', () => {
  const cases: Array<[string, RawMail, Partial<EmailReceivedV2Detail>]> = [
    ['Auto-Submitted: auto-replied', { headers: { 'Auto-Submitted': 'auto-replied' } }, {}],
    ['Precedence: bulk', { headers: { Precedence: 'bulk' } }, {}],
    ['X-Autoreply', { headers: { 'X-Autoreply': 'yes' } }, {}],
    ['a null envelope sender', {}, { envelopeFrom: '' }],
    ['a MAILER-DAEMON bounce', { from: 'MAILER-DAEMON@mx.customer.test' }, {}],
    [
      'our own Message-ID',
      { messageId: ourMessageId('01JC0000000000000000000000', '01JC1111111111111111111111', 'x', MAIL_DOMAIN) },
      {},
    ],
    ['the header only in the event', {}, { autoSubmitted: 'auto-generated' }],
  ];
  it.each(cases)('%s opens no ticket and creates no contact', async (_name, mail, v2) => {
    const tenant = uniqueTenant('loop');
    await take(await delivered(tenant, mail, v2));
    expect(await ticketsOf(tenant)).toEqual([]);
    const contacts = await contactsAs(tenant)('GET', '/v1/contacts');
    expect(contacts.body.items).toEqual([]);
  });
});

describe('mail in: threading', () => {
  async function firstTicket(tenant: string, mail: RawMail = {}) {
    await take(await delivered(tenant, mail));
    const [ticket] = await ticketsOf(tenant);
    return ticket!;
  }

  it("threads by In-Reply-To / References on the customer's own earlier Message-ID, and reopens a solved ticket", async () => {
    const tenant = uniqueTenant('thread');
    const ticket = await firstTicket(tenant, { messageId: '<orig@customer.test>' });
    await ticketsAs(tenant)('PATCH', `/v1/tickets/${ticket.id}`, { body: { status: 'solved' } });
    await take(
      await delivered(tenant, {
        subject: 'Re: Printer on fire',
        references: ['<orig@customer.test>'],
        text: 'Still burning',
      }),
    );
    expect(await ticketsOf(tenant)).toHaveLength(1);
    const thread = await threadOf(tenant, ticket.id);
    expect(thread).toHaveLength(2);
    expect(thread[1]).toMatchObject({ bodyText: expect.stringContaining('Still burning'), authorType: 'contact' });
    const after = await ticketsAs(tenant)('GET', `/v1/tickets/${ticket.id}`);
    expect(after.body.status).toBe('open');
  });

  it('threads by our own Message-ID without a lookup, but only within the same tenant', async () => {
    const tenant = uniqueTenant('thread');
    const ticket = await firstTicket(tenant);
    const ours = ourMessageId('01JC0000000000000000000000', ticket.id, tenant, MAIL_DOMAIN);
    await take(await delivered(tenant, { inReplyTo: ours, subject: 'Re: something else' }));
    expect(await ticketsOf(tenant)).toHaveLength(1);
    expect(await threadOf(tenant, ticket.id)).toHaveLength(2);

    const other = uniqueTenant('thread');
    const foreign = ourMessageId('01JC0000000000000000000000', ticket.id, tenant, MAIL_DOMAIN);
    await take(await delivered(other, { inReplyTo: foreign }));
    const otherTickets = await ticketsOf(other);
    expect(otherTickets).toHaveLength(1);
    expect(otherTickets[0]!.id).not.toBe(ticket.id);
    expect(await threadOf(tenant, ticket.id)).toHaveLength(2);
  });

  it('threads by [T-1042] in the subject, then by a +T-1042 recipient, for the requester only', async () => {
    const tenant = uniqueTenant('thread');
    const ticket = await firstTicket(tenant);
    await take(await delivered(tenant, { subject: `Re: [${ticket.number}] more` }));
    await take(
      await delivered(
        tenant,
        { subject: 'no token here' },
        { recipient: `support+${String(ticket.number)}@acme.test` },
      ),
    );
    expect(await ticketsOf(tenant)).toHaveLength(1);
    expect(await threadOf(tenant, ticket.id)).toHaveLength(3);
    // A stranger naming the number opens a ticket of their own.
    await take(await delivered(tenant, { from: 'mallory@evil.test', subject: `Re: [${ticket.number}]` }));
    expect(await ticketsOf(tenant)).toHaveLength(2);
    expect(await threadOf(tenant, ticket.id)).toHaveLength(3);
  });

  it('a reply to a closed ticket opens a follow-up ticket', async () => {
    const tenant = uniqueTenant('thread');
    const ticket = await firstTicket(tenant, { messageId: '<closed@customer.test>' });
    await ticketsAs(tenant)('PATCH', `/v1/tickets/${ticket.id}`, { body: { status: 'closed' } });
    await take(await delivered(tenant, { inReplyTo: '<closed@customer.test>' }));
    expect(await ticketsOf(tenant)).toHaveLength(2);
  });
});

describe('replies: POST /v1/tickets/{id}/replies and the sender', () => {
  async function mailTicket(tenant: string) {
    await putMailbox(tenant, { id: MAILBOX.id, address: MAILBOX.address, replyName: 'Acme Support' });
    await take(await delivered(tenant, { messageId: '<q1@customer.test>', references: ['<q0@customer.test>'] }));
    const [ticket] = await ticketsOf(tenant);
    return ticket!;
  }

  async function send(tenant: string, message: Record<string, unknown>) {
    const event = catalogEvent('ticket.message_added', {
      schemaVersion: 2,
      tenantId: tenant,
      entity: 'ticketMessage',
      entityId: String(message.id),
      version: 1,
      occurredAt: new Date().toISOString(),
      changes: {},
      record: message,
    });
    await sender(asBusEvent(event), context);
  }

  it('queues a public reply with threading headers, then sends it once through SES and records it sent', async () => {
    const tenant = uniqueTenant('reply');
    const ticket = await mailTicket(tenant);
    const res = await ticketsAs(tenant)('POST', `/v1/tickets/${ticket.id}/replies`, {
      body: { bodyText: 'We are on it.', cc: ['Boss@Customer.test'] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const { message, ticket: after } = res.body;
    expect(after).toMatchObject({ status: 'open', firstRespondedAt: expect.any(String) });
    expect(message).toMatchObject({
      authorType: 'user',
      visibility: 'public',
      from: { address: MAILBOX.address, name: 'Acme Support' },
      to: ['ann@customer.test'],
      cc: ['boss@customer.test'],
      replyTo: `support+${ticket.number}@acme.test`,
      subject: `Re: Printer on fire [${ticket.number}]`,
      inReplyTo: '<q1@customer.test>',
      references: ['<q0@customer.test>', '<q1@customer.test>'],
      delivery: { status: 'queued' },
    });
    expect(message.emailMessageId).toBe(ourMessageId(message.id, ticket.id, tenant, MAIL_DOMAIN));

    const before = (await ses.sentEmails()).length;
    await Promise.all([send(tenant, message), send(tenant, message)]);
    await send(tenant, message);
    const sent = (await ses.sentEmails()).slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      subject: `Re: Printer on fire [${ticket.number}]`,
      replyTo: [expect.stringContaining(`support+${ticket.number}@acme.test`)],
    });
    expect(sent[0]!.from).toContain(MAILBOX.address);
    expect(sent[0]!.text).toContain('We are on it.');
    const [, stored] = await threadOf(tenant, ticket.id);
    expect(stored!.delivery).toMatchObject({
      status: 'sent',
      sesMessageId: sent[0]!.messageId,
      sentAt: expect.any(String),
    });

    // The customer's reply to the SES Message-ID (what AWS puts on the sent mail) threads through its lookup.
    await take(
      await delivered(tenant, { inReplyTo: `<${sent[0]!.messageId}@email.amazonses.com>`, subject: 'thanks' }),
    );
    expect(await ticketsOf(tenant)).toHaveLength(1);
    expect(await threadOf(tenant, ticket.id)).toHaveLength(3);
  });

  it('a refused send is recorded failed; a transient SES error gives the claim back, so the retry sends it', async () => {
    const { sendQueuedReply } = await import('../../shared/tickets/reply-sender.ts');
    const { SESv2Client } = await import('@aws-sdk/client-sesv2');
    const tenant = uniqueTenant('reply');
    const ticket = await mailTicket(tenant);
    const post = async (text: string) =>
      (await ticketsAs(tenant)('POST', `/v1/tickets/${ticket.id}/replies`, { body: { bodyText: text } })).body.message;
    const failing = (name: string) =>
      ({
        send: async () => {
          throw Object.assign(new Error(name), { name });
        },
      }) as unknown as InstanceType<typeof SESv2Client>;
    const deps = (client: InstanceType<typeof SESv2Client>) => ({
      ses: client,
      s3: s3Client,
      attachmentsBucket: 'files',
    });
    const key = (m: { id: string }) => ({ tenantId: tenant, ticketId: ticket.id, messageId: m.id });

    const refused = await post('refused');
    expect(await sendQueuedReply(deps(failing('MessageRejected')), key(refused))).toBe('failed');
    const transient = await post('transient');
    await expect(sendQueuedReply(deps(failing('TooManyRequestsException')), key(transient))).rejects.toThrow();
    const real = new SESv2Client({ endpoint: ses.endpoint, region: 'us-east-1' });
    expect(await sendQueuedReply(deps(real), key(transient))).toBe('sent');
    expect(await sendQueuedReply(deps(real), key(refused))).toBe('not-queued');
    real.destroy();
    const thread = await threadOf(tenant, ticket.id);
    const byText = (text: string) => thread.find((m) => m.bodyText === text)!.delivery;
    expect(byText('refused')).toMatchObject({ status: 'failed', error: 'MessageRejected' });
    expect(byText('transient')).toMatchObject({ status: 'sent' });
  });

  it('answers 409 ticket.no_mailbox for a ticket that did not come in by mail', async () => {
    const tenant = uniqueTenant('reply');
    const contact = await contactsAs(tenant)('POST', '/v1/contacts', { body: { emails: ['c@customer.test'] } });
    const created = await ticketsAs(tenant)('POST', '/v1/tickets', {
      body: { subject: 'By phone', requesterId: contact.body.id },
    });
    const res = await ticketsAs(tenant)('POST', `/v1/tickets/${created.body.id}/replies`, { body: { bodyText: 'Hi' } });
    expect(res.status).toBe(409);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body.code).toBe('ticket.no_mailbox');
  });

  it('refuses an empty body with a field error', async () => {
    const tenant = uniqueTenant('reply');
    const ticket = await mailTicket(tenant);
    const res = await ticketsAs(tenant)('POST', `/v1/tickets/${ticket.id}/replies`, { body: { bodyText: ' ' } });
    expect(res.status).toBe(400);
    expect(res.body.fieldErrors.map((e: { field: string }) => e.field)).toContain('body.bodyText');
  });
});
