import type { Context, EventBridgeEvent } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { sesFixture } from '../../shared/tracking/fixtures.ts';
import { trackingTags } from '../../shared/tracking/ses-events.ts';
import { uniqueTenant } from '../../test/support/factories.ts';
import { useFreshTable } from '../../test/support/table.ts';

/** The tracking consumer against DynamoDB Local: SES events applied once to ledger, stats, timeline, suppression. */

let handler: (event: EventBridgeEvent<string, unknown>, context: Context) => Promise<void>;
let model: typeof import('../../shared/db/store.ts').model;
let tracking: typeof import('../../shared/tracking/apply.ts');
let ses: typeof import('../../shared/tracking/ses-events.ts');
const context = {
  functionName: 'email-tracking',
  awsRequestId: 'r',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

beforeAll(async () => {
  await useFreshTable('email-tracking');
  Object.assign(process.env, { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'CRITICAL' });
  ({ handler } = (await import('./email-tracking.ts')) as unknown as { handler: typeof handler });
  ({ model } = await import('../../shared/db/store.ts'));
  tracking = await import('../../shared/tracking/apply.ts');
  ses = await import('../../shared/tracking/ses-events.ts');
});

interface Recipient {
  tenantId: string;
  campaignId: string;
  contactId: string;
  email: string;
  messageId: string;
}

let counter = 0;
/** A ledger item the campaign sender claimed (state claimed) before sending, and its message's id. */
async function claimed(tenantId = uniqueTenant('trk')): Promise<Recipient> {
  counter++;
  const r = {
    tenantId,
    campaignId: `camp${counter}`,
    contactId: `contact${counter}`,
    email: `reader${counter}@example.org`,
    messageId: `0100019a${String(counter).padStart(8, '0')}-6c1f2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b-000000`,
  };
  await model.entities.campaignRecipient
    .create({ tenantId, campaignId: r.campaignId, email: r.email, contactId: r.contactId, state: 'claimed', run: 1 })
    .go();
  return r;
}

const tagsOf = (r: Recipient) =>
  Object.fromEntries(trackingTags({ ...r, email: r.email.toUpperCase() }).map((t) => [t.Name, [t.Value]]));

/** Delivers an SES event of the recipient's message to the consumer, as EventBridge would. */
function deliver(r: Recipient, detailType: string, own: Record<string, unknown> = {}) {
  const event = sesFixture(detailType, { tags: tagsOf(r), messageId: r.messageId, destination: [r.email], own });
  return handler(event as unknown as EventBridgeEvent<string, unknown>, context);
}

const ledger = async (r: Recipient) =>
  (await model.entities.campaignRecipient.get({ tenantId: r.tenantId, campaignId: r.campaignId, email: r.email }).go())
    .data as Record<string, unknown>;

/** The campaign's counters, summed over its shards (one Query of the partition's stats items). */
async function stats(r: Recipient): Promise<Record<string, number>> {
  const { data } = await model.entities.campaignStats.query
    .byShard({ tenantId: r.tenantId, campaignId: r.campaignId })
    .go({ pages: 'all' });
  const sum: Record<string, number> = {};
  for (const shard of data) {
    for (const [name, n] of Object.entries((shard.counts ?? {}) as Record<string, number>)) {
      sum[name] = (sum[name] ?? 0) + n;
    }
  }
  return sum;
}

const suppression = async (r: Recipient) =>
  (await model.entities.suppression.get({ tenantId: r.tenantId, email: r.email }).go()).data;

const timelineEntry = async (r: Recipient, kind: string) =>
  (
    await model.entities.timelineLink
      .get({
        tenantId: r.tenantId,
        entity: 'campaignEmail',
        entityId: `${r.campaignId}.${r.contactId}.${kind}`,
        subjectType: 'contact',
        subjectId: r.contactId,
      })
      .go()
  ).data;

const engagement = async (r: Recipient) =>
  (await model.entities.contactEngagement.get({ tenantId: r.tenantId, contactId: r.contactId }).go()).data;

/** What the campaign sender does after SES accepted the message: claimed → sent with sent=1, if still claimed. */
async function senderRecordsSent(r: Recipient): Promise<boolean> {
  const shard = ses.campaignStatsShard(r.email);
  await tracking.ensureStatsShard(r.tenantId, r.campaignId, shard);
  const result = (await (
    model.transaction.write as unknown as (fn: () => unknown[]) => { go: () => Promise<{ canceled: boolean }> }
  )(() => [
    (
      model.entities.campaignRecipient
        .patch({ tenantId: r.tenantId, campaignId: r.campaignId, email: r.email })
        .set({ state: 'sent', sesMessageId: r.messageId, sentAt: new Date().toISOString() })
        .where((attr, op) => op.eq(attr.state, 'claimed')) as unknown as { commit: () => unknown }
    ).commit(),
    tracking.statsAdd(r.tenantId, r.campaignId, shard, { sent: 1 }),
  ]).go()) as { canceled: boolean };
  return !result.canceled;
}

describe('delivery', () => {
  it('marks the ledger sent and delivered once, counts each once, and puts one timeline entry', async () => {
    const r = await claimed();
    await deliver(r, 'Email Sent');
    await deliver(r, 'Email Delivered');
    // EventBridge delivers at least once, Lambda retries: the same events again count nothing.
    await deliver(r, 'Email Delivered');
    await deliver(r, 'Email Sent');
    expect(await ledger(r)).toMatchObject({
      state: 'sent',
      sesMessageId: r.messageId,
      sentAt: '2026-08-05T00:40:02.012Z',
      deliveredAt: '2026-08-05T00:40:03.123Z',
    });
    expect(await stats(r)).toEqual({ sent: 1, delivered: 1 });
    expect(await timelineEntry(r, 'delivery')).toMatchObject({
      occurredAt: '2026-08-05T00:40:03.123Z',
      summary: { campaignId: r.campaignId, event: 'delivery', email: r.email, sesMessageId: r.messageId },
    });
    expect(await timelineEntry(r, 'send')).toBeNull();
  });

  it('takes a Delivery that arrives before the Send as the move out of claimed (SES events come in any order)', async () => {
    const r = await claimed();
    await deliver(r, 'Email Delivered');
    await deliver(r, 'Email Sent');
    expect(await ledger(r)).toMatchObject({ state: 'sent', deliveredAt: '2026-08-05T00:40:03.123Z' });
    expect(await stats(r)).toEqual({ sent: 1, delivered: 1 });
  });
});

describe('whoever moves a ledger item out of claimed counts sent', () => {
  it('the sender first: the Send event finds it sent and counts nothing', async () => {
    const r = await claimed();
    expect(await senderRecordsSent(r)).toBe(true);
    await deliver(r, 'Email Sent');
    expect(await stats(r)).toEqual({ sent: 1 });
    expect((await ledger(r)).state).toBe('sent');
  });

  it('the Send event first: the sender finds it sent and counts nothing', async () => {
    const r = await claimed();
    await deliver(r, 'Email Sent');
    expect(await senderRecordsSent(r)).toBe(false);
    expect(await stats(r)).toEqual({ sent: 1 });
    expect(await ledger(r)).toMatchObject({ state: 'sent', sesMessageId: r.messageId });
  });

  it('both at once: exactly one of them counts', async () => {
    const r = await claimed();
    await Promise.all([senderRecordsSent(r), deliver(r, 'Email Sent'), deliver(r, 'Email Sent')]);
    expect(await stats(r)).toEqual({ sent: 1 });
  });
});

describe('bounces and complaints', () => {
  it('a hard bounce suppresses the address and counts once', async () => {
    const r = await claimed();
    await deliver(r, 'Email Sent');
    await deliver(r, 'Email Bounced');
    await deliver(r, 'Email Bounced');
    expect(await ledger(r)).toMatchObject({
      bouncedAt: '2026-08-05T00:41:02.669Z',
      bounceType: 'Permanent',
      error: 'smtp; 550 5.1.1 user unknown',
    });
    expect(await stats(r)).toEqual({ sent: 1, bounced: 1, bounced_permanent: 1 });
    expect(await suppression(r)).toMatchObject({ reason: 'hard_bounce', source: r.campaignId });
    expect(await timelineEntry(r, 'bounce')).toMatchObject({ summary: { bounceType: 'Permanent' } });
  });

  it('a soft bounce is counted but never suppresses', async () => {
    const r = await claimed();
    await deliver(r, 'Email Bounced', { bounceType: 'Transient', bounceSubType: 'MailboxFull' });
    expect(await stats(r)).toEqual({ sent: 1, bounced: 1, bounced_transient: 1 });
    expect(await suppression(r)).toBeNull();
  });

  it('a complaint suppresses; the first entry stands when the address later hard-bounces', async () => {
    const r = await claimed();
    await deliver(r, 'Email Delivered');
    await deliver(r, 'Email Complaint Received');
    await deliver(r, 'Email Complaint Received');
    expect(await stats(r)).toEqual({ sent: 1, delivered: 1, complained: 1 });
    expect((await ledger(r)).complainedAt).toBe('2026-08-05T00:42:02.000Z');
    await deliver(r, 'Email Bounced');
    expect(await suppression(r)).toMatchObject({ reason: 'complaint' });
  });

  it('a reject records why and counts once, without suppressing', async () => {
    const r = await claimed();
    await deliver(r, 'Email Rejected');
    await deliver(r, 'Email Rejected');
    expect(await ledger(r)).toMatchObject({ rejectedAt: '2026-08-05T00:40:02.012Z', error: 'Bad content' });
    expect(await stats(r)).toEqual({ sent: 1, rejected: 1 });
    expect(await suppression(r)).toBeNull();
  });
});

describe('opens and clicks', () => {
  it('set the first time once, add every one to the totals, and move engagement forward only', async () => {
    const r = await claimed();
    await deliver(r, 'Email Delivered');
    await deliver(r, 'Email Opened', { timestamp: '2026-08-05T01:00:00.000Z' });
    await deliver(r, 'Email Opened', { timestamp: '2026-08-05T03:00:00.000Z' });
    // An older open arriving late moves nothing back.
    await deliver(r, 'Email Opened', { timestamp: '2026-08-05T02:00:00.000Z' });
    await deliver(r, 'Email Clicked');
    expect(await ledger(r)).toMatchObject({
      openedAt: '2026-08-05T01:00:00.000Z',
      openCount: 3,
      clickedAt: '2026-08-05T00:44:02.000Z',
      clickCount: 1,
    });
    expect(await stats(r)).toEqual({ sent: 1, delivered: 1, opened: 1, opens: 3, clicked: 1, clicks: 1 });
    expect(await engagement(r)).toMatchObject({
      lastOpenedAt: '2026-08-05T03:00:00.000Z',
      lastOpenedCampaignId: r.campaignId,
      lastClickedAt: '2026-08-05T00:44:02.000Z',
      lastClickedCampaignId: r.campaignId,
    });
    expect(await timelineEntry(r, 'click')).toMatchObject({
      summary: { link: 'https://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html' },
    });
    expect(await suppression(r)).toBeNull();
  });
});

describe('what is not ours', () => {
  it('ignores mail without tracking tags (ticket replies, reminders) and writes nothing', async () => {
    const tenantId = uniqueTenant('trk');
    // A hard bounce of a mail that names a tenant but is no campaign's: no suppression, no ledger, no counters.
    const event = sesFixture('Email Bounced', { tags: { tenantId: [tenantId] }, destination: ['ops@example.org'] });
    await handler(event as unknown as EventBridgeEvent<string, unknown>, context);
    expect((await model.entities.suppression.get({ tenantId, email: 'ops@example.org' }).go()).data).toBeNull();
    expect(ses.trackedMessage(ses.SesMail.parse(event.detail.mail))).toBeUndefined();
  });

  it('counts nothing for a tagged message whose campaign has no ledger item for the address', async () => {
    const r = await claimed();
    const stranger = { ...r, email: 'stranger@example.org' };
    await deliver(stranger, 'Email Delivered');
    expect(await stats(r)).toEqual({});
    expect(await ledger(r)).toMatchObject({ state: 'claimed' });
  });

  it("counts nothing for another message of the address (only the ledger's own message counts)", async () => {
    const r = await claimed();
    await deliver(r, 'Email Sent');
    await deliver({ ...r, messageId: 'another-message-000000' }, 'Email Delivered');
    expect(await stats(r)).toEqual({ sent: 1 });
  });

  it('logs delivery delays and rendering failures, and drops malformed events without failing', async () => {
    const r = await claimed();
    await deliver(r, 'Email Delivery Delayed');
    await deliver(r, 'Email Rendering Failed');
    expect(await stats(r)).toEqual({});
    await expect(
      handler(
        {
          'detail-type': 'Email Delivered',
          source: 'aws.ses',
          detail: { mail: 'nope' },
        } as unknown as EventBridgeEvent<string, unknown>,
        context,
      ),
    ).resolves.toBeUndefined();
  });
});
