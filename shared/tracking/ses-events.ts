import { createHash } from 'node:crypto';
import * as z from 'zod';
import { CAMPAIGN_STATS_SHARDS } from '../db/entities/campaign.ts';

/**
 * SES sending events as SES publishes them to EventBridge (the account's default bus, source `aws.ses`), and the
 * contract between the marketing sender and the tracking consumer.
 *
 * THE CONTRACT (what the campaign sender does, what the consumer relies on):
 * - Send through SES v2 SendEmail with `ConfigurationSetName` = the `MARKETING_CONFIGURATION_SET` env var
 *   (`<stack>-marketing`) and `EmailTags: trackingTags({ tenantId, campaignId, contactId, email })`: one recipient per
 *   message.
 * - The tags are `tenantId`, `campaignId`, `contactId` (the ids as they are: SES tag values allow only
 *   [A-Za-z0-9_-], at most 256 characters, which our ids satisfy; anything else is refused here, before a send)
 *   and `recipient`: the base64url (no padding) of the lower-cased address, i.e. the ledger item's key
 *   (CampaignRecipientEntity.email). An address whose base64url is over 256 characters (more than 192 bytes) gets no
 *   `recipient` tag; the consumer then takes the message's one destination, lower-cased.
 * - SES echoes the tags on every event of the message as `detail.mail.tags` ({ name: [value] }, beside its own
 *   `ses:*` tags). A message without our three id tags (a ticket reply, a reminder) is not a campaign's: the consumer
 *   ignores it and counts it (metric `EmailEventsUntracked`).
 * - Ledger rule shared with the sender: whoever moves a ledger item out of `claimed` counts `sent`. The sender moves it
 *   to `sent` (sesMessageId, sentAt) conditioned on `state = claimed` and ADDs sent=1 on the stats shard in the same
 *   transaction; the consumer's Send event does exactly the same; whichever comes second does nothing.
 * - Stats: CampaignStatsEntity shard `campaignStatsShard(email)`, counters in its `counts` map (sent, delivered,
 *   bounced, bounced_permanent, bounced_transient, complained, rejected, opened, clicked, opens, clicks). A nested ADD
 *   needs the map to exist: call `ensureStatsShard` once, then put `statsAdd(...)` in the transaction (both in
 *   shared/tracking/apply.ts).
 */

/** Tag names of the contract above. */
export const TRACKING_TAG = {
  tenantId: 'tenantId',
  campaignId: 'campaignId',
  contactId: 'contactId',
  recipient: 'recipient',
} as const;

/** What SES allows in a message tag's name and value. */
const TAG_VALUE = /^[A-Za-z0-9_-]{1,256}$/;

export interface TrackedMessage {
  tenantId: string;
  campaignId: string;
  contactId: string;
  /** The recipient address, lower-cased (the ledger's key). */
  email: string;
}

/** The SES v2 `EmailTags` of a campaign message (see the contract above). */
export function trackingTags(message: TrackedMessage): Array<{ Name: string; Value: string }> {
  const tags: Array<{ Name: string; Value: string }> = [
    { Name: TRACKING_TAG.tenantId, Value: message.tenantId },
    { Name: TRACKING_TAG.campaignId, Value: message.campaignId },
    { Name: TRACKING_TAG.contactId, Value: message.contactId },
  ];
  for (const tag of tags) {
    if (!TAG_VALUE.test(tag.Value)) throw new Error(`tracking tag ${tag.Name} is not a valid SES tag value`);
  }
  const recipient = Buffer.from(message.email.toLowerCase(), 'utf8').toString('base64url');
  if (recipient.length <= 256) tags.push({ Name: TRACKING_TAG.recipient, Value: recipient });
  return tags;
}

/** The stats shard an address counts on: a hash of the lower-cased address, so the sender and the consumer agree. */
export function campaignStatsShard(email: string): number {
  return createHash('sha256').update(email.toLowerCase()).digest().readUInt32BE(0) % CAMPAIGN_STATS_SHARDS;
}

// ------------------------------------------------------------------------------------------------------------------
// The events (SES "event publishing" records; on EventBridge the record is the event's `detail`).

const timestamp = z.iso.datetime({ offset: true });
const address = z.string().min(1).max(1000);

/** The `mail` object of every event: the message the event is about, with its tags. */
export const SesMail = z.looseObject({
  timestamp,
  messageId: z.string().min(1).max(200),
  source: z.string().optional(),
  sourceArn: z.string().optional(),
  sendingAccountId: z.string().optional(),
  destination: z.array(address),
  headersTruncated: z.boolean().optional(),
  headers: z.array(z.object({ name: z.string(), value: z.string() })).optional(),
  commonHeaders: z.record(z.string(), z.unknown()).optional(),
  tags: z.record(z.string(), z.array(z.string())).optional(),
});
export type SesMail = z.infer<typeof SesMail>;

const Recipient = z.looseObject({ emailAddress: address });

const Send = z.looseObject({});
const Delivery = z.looseObject({
  timestamp,
  processingTimeMillis: z.number().optional(),
  recipients: z.array(address),
  smtpResponse: z.string().optional(),
  reportingMTA: z.string().optional(),
});
const Bounce = z.looseObject({
  bounceType: z.enum(['Undetermined', 'Permanent', 'Transient']),
  bounceSubType: z.string(),
  bouncedRecipients: z.array(
    z.looseObject({
      emailAddress: address,
      action: z.string().optional(),
      status: z.string().optional(),
      diagnosticCode: z.string().optional(),
    }),
  ),
  timestamp,
  feedbackId: z.string().optional(),
  reportingMTA: z.string().optional(),
});
const Complaint = z.looseObject({
  complainedRecipients: z.array(Recipient),
  timestamp,
  feedbackId: z.string().optional(),
  complaintSubType: z.string().nullable().optional(),
  complaintFeedbackType: z.string().optional(),
  userAgent: z.string().optional(),
  arrivalDate: z.string().optional(),
});
const Open = z.looseObject({ timestamp, ipAddress: z.string().optional(), userAgent: z.string().optional() });
const Click = z.looseObject({
  timestamp,
  link: z.string(),
  linkTags: z.record(z.string(), z.array(z.string())).optional(),
  ipAddress: z.string().optional(),
  userAgent: z.string().optional(),
});
const Reject = z.looseObject({ reason: z.string() });
const RenderingFailure = z.looseObject({ errorMessage: z.string().optional(), templateName: z.string().optional() });
const DeliveryDelay = z.looseObject({
  delayType: z.string().optional(),
  delayedRecipients: z.array(Recipient).optional(),
  expirationTime: z.string().optional(),
  timestamp: timestamp.optional(),
});

/** Each EventBridge detail-type SES uses for a sending event: its `eventType` and the record's key for its object. */
export const SES_EVENT_TYPES = {
  'Email Sent': { eventType: 'Send', key: 'send', kind: 'send', schema: Send },
  'Email Delivered': { eventType: 'Delivery', key: 'delivery', kind: 'delivery', schema: Delivery },
  'Email Bounced': { eventType: 'Bounce', key: 'bounce', kind: 'bounce', schema: Bounce },
  'Email Complaint Received': { eventType: 'Complaint', key: 'complaint', kind: 'complaint', schema: Complaint },
  'Email Opened': { eventType: 'Open', key: 'open', kind: 'open', schema: Open },
  'Email Clicked': { eventType: 'Click', key: 'click', kind: 'click', schema: Click },
  'Email Rejected': { eventType: 'Reject', key: 'reject', kind: 'reject', schema: Reject },
  'Email Rendering Failed': {
    eventType: 'Rendering Failure',
    key: 'failure',
    kind: 'renderingFailure',
    schema: RenderingFailure,
  },
  'Email Delivery Delayed': {
    eventType: 'DeliveryDelay',
    key: 'deliveryDelay',
    kind: 'deliveryDelay',
    schema: DeliveryDelay,
  },
} as const;
export type SesDetailType = keyof typeof SES_EVENT_TYPES;
export const SES_DETAIL_TYPES = Object.keys(SES_EVENT_TYPES) as SesDetailType[];

/** The configuration set's MatchingEventTypes (SES v2 / CloudFormation names) that produce the detail-types above. */
export const TRACKED_SES_EVENT_TYPES = [
  'SEND',
  'DELIVERY',
  'BOUNCE',
  'COMPLAINT',
  'OPEN',
  'CLICK',
  'REJECT',
  'RENDERING_FAILURE',
  'DELIVERY_DELAY',
] as const;

export type SesEventKind = (typeof SES_EVENT_TYPES)[SesDetailType]['kind'];

/** One parsed sending event: what it is, when, about which message, and the facts the consumer acts on. */
export interface SesEvent {
  kind: SesEventKind;
  /** When it happened (the event's own timestamp; for a send or a reject, the message's). */
  at: string;
  mail: SesMail;
  /** Bounces: Permanent (hard), Transient (soft) or Undetermined. */
  bounceType?: 'Undetermined' | 'Permanent' | 'Transient';
  bounceSubType?: string;
  /** Clicks: the link clicked. */
  link?: string;
  /** Rejects: SES's reason; complaints: the feedback type; bounces: the first recipient's diagnostic code. */
  detail?: string;
}

export class SesEventError extends Error {}

/** Parses an EventBridge event from SES (zod): throws SesEventError for anything not shaped as SES sends it. */
export function parseSesEvent(event: { 'detail-type': string; detail: unknown }): SesEvent {
  const spec = SES_EVENT_TYPES[event['detail-type'] as SesDetailType];
  if (!spec) throw new SesEventError(`not an SES sending event: ${event['detail-type']}`);
  const envelope = z
    .looseObject({ eventType: z.literal(spec.eventType).optional(), mail: SesMail })
    .safeParse(event.detail);
  if (!envelope.success) throw new SesEventError(`${event['detail-type']}: ${z.prettifyError(envelope.error)}`);
  const own = spec.schema.safeParse((event.detail as Record<string, unknown>)[spec.key] ?? {});
  if (!own.success) throw new SesEventError(`${event['detail-type']}.${spec.key}: ${z.prettifyError(own.error)}`);
  const mail = envelope.data.mail;
  const data = own.data as Record<string, unknown>;
  const at = typeof data.timestamp === 'string' ? data.timestamp : mail.timestamp;
  const parsed: SesEvent = { kind: spec.kind, at, mail };
  if (spec.kind === 'bounce') {
    const bounce = own.data as z.infer<typeof Bounce>;
    parsed.bounceType = bounce.bounceType;
    parsed.bounceSubType = bounce.bounceSubType;
    const code = bounce.bouncedRecipients[0]?.diagnosticCode ?? bounce.bouncedRecipients[0]?.status;
    if (code) parsed.detail = code;
  }
  if (spec.kind === 'click') parsed.link = (own.data as z.infer<typeof Click>).link;
  if (spec.kind === 'reject') parsed.detail = (own.data as z.infer<typeof Reject>).reason;
  if (spec.kind === 'complaint') {
    const type = (own.data as z.infer<typeof Complaint>).complaintFeedbackType;
    if (type) parsed.detail = type;
  }
  return parsed;
}

/**
 * The campaign message an event is about, from its tags (see the contract above), or undefined when it is not one
 * of ours (missing or malformed tags).
 */
export function trackedMessage(mail: SesMail): TrackedMessage | undefined {
  const tag = (name: string) => {
    const value = mail.tags?.[name]?.[0];
    return value !== undefined && TAG_VALUE.test(value) ? value : undefined;
  };
  const tenantId = tag(TRACKING_TAG.tenantId);
  const campaignId = tag(TRACKING_TAG.campaignId);
  const contactId = tag(TRACKING_TAG.contactId);
  if (!tenantId || !campaignId || !contactId) return undefined;
  const encoded = tag(TRACKING_TAG.recipient);
  const email = encoded
    ? Buffer.from(encoded, 'base64url').toString('utf8')
    : mail.destination.length === 1
      ? bareAddress(mail.destination[0]!)
      : undefined;
  if (!email?.includes('@')) return undefined;
  return { tenantId, campaignId, contactId, email: email.toLowerCase() };
}

/** `Ada <ada@example.org>` → `ada@example.org` (SES lists destinations as they were given). */
function bareAddress(destination: string): string {
  const angle = /<([^<>]+)>\s*$/.exec(destination);
  return (angle ? angle[1]! : destination).trim().toLowerCase();
}
