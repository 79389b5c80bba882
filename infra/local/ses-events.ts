import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import type { PutEventsEntry } from './eventbridge.ts';

/**
 * SES sending events as SES publishes them to EventBridge (source `aws.ses`, detail = the event publishing record:
 * `eventType`, `mail` with the message's tags, and the type's own object), built by the local SES for the messages in
 * its outbox: Sent and Delivered on every send through a configuration set with an EventBridge destination, the rest
 * injected through `POST /_local/events`. Shapes follow SES's documented examples (see shared/tracking/ses-events.ts).
 */

/** One message the local SES accepted, as `.data/ses/outbox.jsonl` records it (one JSON line each). */
export interface OutboxMessage {
  messageId: string;
  /** When SES accepted it (ISO). */
  time: string;
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  replyTo: string[];
  subject: string;
  /** The headers the sender set (Simple/Template `Headers`, or every header of a Raw message), e.g. List-Unsubscribe. */
  headers: Array<{ name: string; value: string }>;
  configurationSet?: string;
  /** EmailTags, name → value. */
  tags: Record<string, string>;
  text?: string;
  html?: string;
  /** A Template send: the template named and its data (the local SES store renders it). */
  template?: { name?: string; arn?: string; data?: string };
}

/** An SES-shaped message id: hex milliseconds, a UUID and SES's `-000000` suffix; unique per send. */
export function sesMessageId(now = Date.now()): string {
  return `${now.toString(16).padStart(16, '0')}-${randomUUID()}-000000`;
}

export interface SesAccount {
  account: string;
  region: string;
}

const domainOf = (address: string) => (/@([^@>\s]+)>?\s*$/.exec(address)?.[1] ?? '').toLowerCase();

/** The `mail` object SES puts in every event of a message. */
export function sesMail(message: OutboxMessage, where: SesAccount): Record<string, unknown> {
  const destination = [...message.to, ...message.cc, ...message.bcc];
  const headers = [
    { name: 'From', value: message.from },
    ...(message.to.length > 0 ? [{ name: 'To', value: message.to.join(', ') }] : []),
    { name: 'Subject', value: message.subject },
    ...message.headers,
  ];
  const tags: Record<string, string[]> = {
    'ses:operation': ['SendEmail'],
    'ses:source-ip': ['127.0.0.1'],
    'ses:from-domain': [domainOf(message.from)],
    'ses:caller-identity': ['local'],
    ...(message.configurationSet ? { 'ses:configuration-set': [message.configurationSet] } : {}),
  };
  for (const [name, value] of Object.entries(message.tags)) tags[name] = [value];
  return {
    timestamp: message.time,
    source: message.from,
    sourceArn: `arn:aws:ses:${where.region}:${where.account}:identity/${domainOf(message.from)}`,
    sendingAccountId: where.account,
    messageId: message.messageId,
    destination,
    headersTruncated: false,
    headers,
    commonHeaders: {
      from: [message.from],
      ...(message.to.length > 0 ? { to: message.to } : {}),
      messageId: message.messageId,
      subject: message.subject,
    },
    tags,
  };
}

/** What `POST /_local/events` takes: which event to make for which message (recipient: its first by default). */
export const InjectRequest = z.strictObject({
  messageId: z.string().min(1).max(200),
  type: z.enum(['delivery', 'bounce', 'complaint', 'open', 'click', 'reject']),
  /** Bounces: Permanent (hard, the default) or Transient (soft); `hard` and `soft` are accepted too. */
  bounceType: z.enum(['Permanent', 'Transient', 'Undetermined', 'hard', 'soft']).optional(),
  bounceSubType: z.string().max(100).optional(),
  /** Clicks: the link clicked (default: the first https link of the HTML, else https://example.com/). */
  link: z.url().max(2048).optional(),
  recipient: z.email().max(320).optional(),
  /** When it happened (default: now). */
  at: z.iso.datetime({ offset: true }).optional(),
});
export type InjectRequest = z.infer<typeof InjectRequest>;

/** Kind → EventBridge detail-type, the record's `eventType` and the key of its own object. */
const TYPES = {
  send: ['Email Sent', 'Send', 'send'],
  delivery: ['Email Delivered', 'Delivery', 'delivery'],
  bounce: ['Email Bounced', 'Bounce', 'bounce'],
  complaint: ['Email Complaint Received', 'Complaint', 'complaint'],
  open: ['Email Opened', 'Open', 'open'],
  click: ['Email Clicked', 'Click', 'click'],
  reject: ['Email Rejected', 'Reject', 'reject'],
} as const;
export type LocalSesEventKind = keyof typeof TYPES;

/** The configuration set's MatchingEventTypes name of a kind. */
export const MATCHING_EVENT_TYPE: Record<LocalSesEventKind, string> = {
  send: 'SEND',
  delivery: 'DELIVERY',
  bounce: 'BOUNCE',
  complaint: 'COMPLAINT',
  open: 'OPEN',
  click: 'CLICK',
  reject: 'REJECT',
};

const firstLink = (html: string | undefined) => (html ? /href="(https:\/\/[^"]+)"/i.exec(html)?.[1] : undefined);

/** The type's own object of the record, shaped as SES's. */
function ownObject(kind: LocalSesEventKind, message: OutboxMessage, at: string, request?: InjectRequest) {
  const recipient = request?.recipient ?? message.to[0] ?? message.cc[0] ?? message.bcc[0] ?? '';
  const feedbackId = sesMessageId(Date.parse(at));
  switch (kind) {
    case 'send':
      return {};
    case 'delivery':
      return {
        timestamp: at,
        processingTimeMillis: Math.max(0, Date.parse(at) - Date.parse(message.time)),
        recipients: [recipient],
        smtpResponse: '250 2.0.0 OK (local SES)',
        reportingMTA: 'a1-1.smtp-out.local',
        remoteMtaIp: '127.0.0.1',
      };
    case 'bounce': {
      const type = request?.bounceType ?? 'Permanent';
      const bounceType = type === 'hard' ? 'Permanent' : type === 'soft' ? 'Transient' : type;
      const permanent = bounceType === 'Permanent';
      return {
        bounceType,
        bounceSubType: request?.bounceSubType ?? (permanent ? 'General' : 'MailboxFull'),
        bouncedRecipients: [
          {
            emailAddress: recipient,
            action: 'failed',
            status: permanent ? '5.1.1' : '4.2.2',
            diagnosticCode: permanent ? 'smtp; 550 5.1.1 user unknown' : 'smtp; 452 4.2.2 mailbox full',
          },
        ],
        timestamp: at,
        feedbackId,
        reportingMTA: 'dsn; a1-1.smtp-out.local',
      };
    }
    case 'complaint':
      return {
        complainedRecipients: [{ emailAddress: recipient }],
        timestamp: at,
        feedbackId,
        complaintSubType: null,
        userAgent: 'local SES',
        complaintFeedbackType: 'abuse',
        arrivalDate: at,
      };
    case 'open':
      return { timestamp: at, userAgent: 'Mozilla/5.0 (local SES)', ipAddress: '127.0.0.1' };
    case 'click':
      return {
        timestamp: at,
        ipAddress: '127.0.0.1',
        userAgent: 'Mozilla/5.0 (local SES)',
        link: request?.link ?? firstLink(message.html) ?? 'https://example.com/',
        linkTags: {},
      };
    case 'reject':
      return { reason: 'Bad content' };
  }
}

/** The PutEvents entry of one SES sending event for a message of the outbox. */
export function sesEventEntry(
  kind: LocalSesEventKind,
  message: OutboxMessage,
  where: SesAccount,
  request?: InjectRequest,
): PutEventsEntry {
  const [detailType, eventType, key] = TYPES[kind];
  const at = request?.at ?? new Date().toISOString();
  const detail = { eventType, mail: sesMail(message, where), [key]: ownObject(kind, message, at, request) };
  return {
    Source: 'aws.ses',
    DetailType: detailType,
    Detail: JSON.stringify(detail),
    Resources: message.configurationSet
      ? [`arn:aws:ses:${where.region}:${where.account}:configuration-set/${message.configurationSet}`]
      : [],
  };
}
