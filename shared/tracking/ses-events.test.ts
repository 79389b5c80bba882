import { describe, expect, it } from 'vitest';
import { CAMPAIGN_STATS_SHARDS } from '../db/entities/campaign.ts';
import { FIXTURE_MESSAGE_ID, sesFixture } from './fixtures.ts';
import {
  campaignStatsShard,
  parseSesEvent,
  SES_DETAIL_TYPES,
  SesEventError,
  trackedMessage,
  trackingTags,
} from './ses-events.ts';

const message = { tenantId: 'acme', campaignId: '01JCAMPAIGN', contactId: '01JCONTACT', email: 'Ada@Example.org' };
const asEventTags = (tags: Array<{ Name: string; Value: string }>) =>
  Object.fromEntries(tags.map((t) => [t.Name, [t.Value]]));

describe('trackingTags', () => {
  it('names tenant, campaign, contact and the base64url of the lower-cased address, all valid SES tag values', () => {
    const tags = trackingTags(message);
    expect(tags).toEqual([
      { Name: 'tenantId', Value: 'acme' },
      { Name: 'campaignId', Value: '01JCAMPAIGN' },
      { Name: 'contactId', Value: '01JCONTACT' },
      { Name: 'recipient', Value: Buffer.from('ada@example.org').toString('base64url') },
    ]);
    for (const tag of tags) expect(tag.Value).toMatch(/^[A-Za-z0-9_-]{1,256}$/);
  });

  it('round-trips through the tags SES echoes on every event', () => {
    const mail = parseSesEvent(sesFixture('Email Delivered', { tags: asEventTags(trackingTags(message)) })).mail;
    expect(trackedMessage(mail)).toEqual({ ...message, email: 'ada@example.org' });
  });

  it('leaves out the recipient tag of an address too long for one, and then takes the one destination', () => {
    const long = `${'a'.repeat(200)}@Example.org`;
    const tags = trackingTags({ ...message, email: long });
    expect(tags.map((t) => t.Name)).toEqual(['tenantId', 'campaignId', 'contactId']);
    const event = sesFixture('Email Sent', { tags: asEventTags(tags), destination: [`Ada <${long}>`] });
    expect(trackedMessage(parseSesEvent(event).mail)?.email).toBe(long.toLowerCase());
  });

  it('refuses ids SES would refuse as tag values, before any send', () => {
    expect(() => trackingTags({ ...message, campaignId: 'spring sale' })).toThrow(/campaignId/);
    expect(() => trackingTags({ ...message, tenantId: '' })).toThrow(/tenantId/);
  });
});

describe('parseSesEvent', () => {
  const tags = asEventTags(trackingTags(message));

  it('parses every sending event type as SES publishes it', () => {
    const kinds = SES_DETAIL_TYPES.map((type) => parseSesEvent(sesFixture(type, { tags })).kind);
    expect(kinds).toEqual([
      'send',
      'delivery',
      'bounce',
      'complaint',
      'open',
      'click',
      'reject',
      'renderingFailure',
      'deliveryDelay',
    ]);
  });

  it("takes the event's own time, and the message's for a send or a reject", () => {
    expect(parseSesEvent(sesFixture('Email Delivered', { tags })).at).toBe('2026-08-05T00:40:03.123Z');
    expect(parseSesEvent(sesFixture('Email Sent', { tags })).at).toBe('2026-08-05T00:40:02.012Z');
    expect(parseSesEvent(sesFixture('Email Rejected', { tags }))).toMatchObject({
      at: '2026-08-05T00:40:02.012Z',
      detail: 'Bad content',
    });
  });

  it('reads the bounce type, the diagnostic, the clicked link and the complaint type', () => {
    expect(parseSesEvent(sesFixture('Email Bounced', { tags }))).toMatchObject({
      kind: 'bounce',
      bounceType: 'Permanent',
      bounceSubType: 'General',
      detail: 'smtp; 550 5.1.1 user unknown',
      at: '2026-08-05T00:41:02.669Z',
    });
    expect(parseSesEvent(sesFixture('Email Bounced', { tags, own: { bounceType: 'Transient' } })).bounceType).toBe(
      'Transient',
    );
    expect(parseSesEvent(sesFixture('Email Clicked', { tags })).link).toBe(
      'https://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html',
    );
    expect(parseSesEvent(sesFixture('Email Complaint Received', { tags })).detail).toBe('abuse');
    expect(parseSesEvent(sesFixture('Email Opened', { tags })).mail.messageId).toBe(FIXTURE_MESSAGE_ID);
  });

  it('refuses other detail-types and records not shaped as SES sends them', () => {
    expect(() => parseSesEvent({ 'detail-type': 'contact.created', detail: {} })).toThrow(SesEventError);
    const noMail = sesFixture('Email Delivered', { tags });
    (noMail.detail as Record<string, unknown>).mail = undefined;
    expect(() => parseSesEvent(noMail)).toThrow(SesEventError);
    expect(() => parseSesEvent(sesFixture('Email Bounced', { tags, own: { bounceType: 'Hard' } }))).toThrow(
      /bounceType/,
    );
    expect(() => parseSesEvent(sesFixture('Email Clicked', { tags, own: { link: 42 } }))).toThrow(SesEventError);
    const wrongType = sesFixture('Email Opened', { tags });
    (wrongType.detail as Record<string, unknown>).eventType = 'Click';
    expect(() => parseSesEvent(wrongType)).toThrow(SesEventError);
  });
});

describe('trackedMessage', () => {
  it('is undefined for mail without our tags (ticket replies, reminders) or with malformed ones', () => {
    expect(trackedMessage(parseSesEvent(sesFixture('Email Delivered')).mail)).toBeUndefined();
    const partial = sesFixture('Email Delivered', { tags: { tenantId: ['acme'], campaignId: ['c1'] } });
    expect(trackedMessage(parseSesEvent(partial).mail)).toBeUndefined();
    const bad = sesFixture('Email Delivered', {
      tags: { tenantId: ['acme'], campaignId: ['c1'], contactId: ['k1'], recipient: ['bm90IGFuIGFkZHJlc3M'] },
    });
    expect(trackedMessage(parseSesEvent(bad).mail)).toBeUndefined();
  });
});

describe('campaignStatsShard', () => {
  it('puts an address on one shard whatever its case, and spreads addresses over every shard', () => {
    expect(campaignStatsShard('Ada@Example.org')).toBe(campaignStatsShard('ada@example.org'));
    const shards = new Set(Array.from({ length: 200 }, (_, i) => campaignStatsShard(`user${i}@example.org`)));
    expect([...shards].sort()).toEqual(Array.from({ length: CAMPAIGN_STATS_SHARDS }, (_, i) => i));
  });
});
