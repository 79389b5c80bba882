/**
 * SES sending events as SES publishes them to EventBridge (the documented record shapes: "Examples of event data that
 * Amazon SES publishes", with `detail` = the record), for a campaign message tagged per the tracking contract. Test
 * fixtures: `sesFixture(detailType, tags)` gives the full EventBridge event.
 */

export const FIXTURE_MESSAGE_ID = 'EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000';

const mail = (
  tags: Record<string, string[]>,
  messageId = FIXTURE_MESSAGE_ID,
  destination = ['recipient@example.com'],
) => ({
  timestamp: '2026-08-05T00:40:02.012Z',
  source: 'Sender Name <sender@example.com>',
  sourceArn: 'arn:aws:ses:us-east-1:123456789012:identity/sender@example.com',
  sendingAccountId: '123456789012',
  messageId,
  destination,
  headersTruncated: false,
  headers: [
    { name: 'From', value: 'Sender Name <sender@example.com>' },
    { name: 'To', value: destination.join(', ') },
    { name: 'Subject', value: 'Message sent from Amazon SES' },
    { name: 'MIME-Version', value: '1.0' },
    { name: 'Content-Type', value: 'multipart/alternative; boundary="----=_Part_7307378_1629847660.1516840721503"' },
  ],
  commonHeaders: {
    from: ['Sender Name <sender@example.com>'],
    to: destination,
    messageId,
    subject: 'Message sent from Amazon SES',
  },
  tags: {
    'ses:configuration-set': ['crm-marketing'],
    'ses:source-ip': ['192.0.2.0'],
    'ses:from-domain': ['example.com'],
    'ses:caller-identity': ['ses_user'],
    ...tags,
  },
});

/** The record's own object per detail-type, as in SES's examples. */
const OWN: Record<string, [string, string, unknown]> = {
  'Email Sent': ['Send', 'send', {}],
  'Email Delivered': [
    'Delivery',
    'delivery',
    {
      timestamp: '2026-08-05T00:40:03.123Z',
      processingTimeMillis: 1111,
      recipients: ['recipient@example.com'],
      smtpResponse: '250 2.6.0 Message received',
      reportingMTA: 'mta.example.com',
    },
  ],
  'Email Bounced': [
    'Bounce',
    'bounce',
    {
      bounceType: 'Permanent',
      bounceSubType: 'General',
      bouncedRecipients: [
        {
          emailAddress: 'recipient@example.com',
          action: 'failed',
          status: '5.1.1',
          diagnosticCode: 'smtp; 550 5.1.1 user unknown',
        },
      ],
      timestamp: '2026-08-05T00:41:02.669Z',
      feedbackId: '01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000',
      reportingMTA: 'dsn; mta.example.com',
    },
  ],
  'Email Complaint Received': [
    'Complaint',
    'complaint',
    {
      feedbackId: '0100015e4d2a9a1f-2a58e5b5-6e55-4ff2-b6e9-9e2c32b1cc6d-000000',
      complaintSubType: null,
      complainedRecipients: [{ emailAddress: 'recipient@example.com' }],
      timestamp: '2026-08-05T00:42:02.000Z',
      userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36',
      complaintFeedbackType: 'abuse',
      arrivalDate: '2026-08-05T00:41:59.000Z',
    },
  ],
  'Email Opened': [
    'Open',
    'open',
    {
      ipAddress: '192.0.2.1',
      timestamp: '2026-08-05T00:43:02.000Z',
      userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_3 like Mac OS X) AppleWebKit/603.3.8 (KHTML, like Gecko)',
    },
  ],
  'Email Clicked': [
    'Click',
    'click',
    {
      timestamp: '2026-08-05T00:44:02.000Z',
      ipAddress: '192.0.2.1',
      userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36',
      link: 'https://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html',
      linkTags: { samplekey0: ['samplevalue0'] },
    },
  ],
  'Email Rejected': ['Reject', 'reject', { reason: 'Bad content' }],
  'Email Rendering Failed': [
    'Rendering Failure',
    'failure',
    { errorMessage: "Attribute 'attributeName' is not present in the rendering data.", templateName: 'MyTemplate' },
  ],
  'Email Delivery Delayed': [
    'DeliveryDelay',
    'deliveryDelay',
    {
      timestamp: '2026-08-05T00:45:02.000Z',
      delayType: 'TransientCommunicationFailure',
      expirationTime: '2026-08-06T00:40:02.000Z',
      delayedRecipients: [
        { emailAddress: 'recipient@example.com', status: '4.4.1', diagnosticCode: 'smtp; 421 4.4.1' },
      ],
    },
  ],
};

export interface FixtureOptions {
  tags?: Record<string, string[]>;
  messageId?: string;
  destination?: string[];
  /** Replaces fields of the record's own object (e.g. { bounceType: 'Transient' }, { timestamp }). */
  own?: Record<string, unknown>;
}

/** A full EventBridge event from SES for `detailType`. */
export function sesFixture(detailType: string, options: FixtureOptions = {}) {
  const [eventType, key, own] = OWN[detailType]!;
  return {
    version: '0',
    id: '2b4c8d10-4f2a-4e2f-9f4e-6a1b2c3d4e5f',
    'detail-type': detailType,
    source: 'aws.ses',
    account: '123456789012',
    time: '2026-08-05T00:45:03Z',
    region: 'us-east-1',
    resources: ['arn:aws:ses:us-east-1:123456789012:configuration-set/crm-marketing'],
    detail: {
      eventType,
      mail: mail(options.tags ?? {}, options.messageId, options.destination),
      [key]: { ...(own as object), ...(options.own ?? {}) },
    },
  };
}
