import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context, SESEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EmailReceivedV2Detail } from '../../events/catalog.ts';
import { LocalEventBridge } from '../../infra/local/eventbridge.ts';
import { TemplateResolver } from '../../infra/local/template.ts';
import { uniqueTenant } from '../../test/support/factories.ts';
import { startLocalClaimChecks } from '../../test/support/local-claim-checks.ts';
import { useFreshTable } from '../../test/support/table.ts';

/**
 * The inbound mail handler against DynamoDB Local (mailboxes and their address claims), the local S3 (the stored
 * message) and the local EventBridge: which tenants get the message, what their mailbox policies make of the
 * verdicts, and what is published.
 */

const BUS = 'crm-events';
const BUCKET = 'inbound-mail';
let bridge: LocalEventBridge;
let s3: Awaited<ReturnType<typeof startLocalClaimChecks>>;
let handler: (event: SESEvent, context: Context) => Promise<void>;
let mailboxes: typeof import('../../shared/mailboxes/service.ts');
let metrics: typeof import('../../shared/observability.ts').metrics;

const context = {
  functionName: 'inbound-email',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

beforeAll(async () => {
  await useFreshTable();
  s3 = await startLocalClaimChecks(BUCKET);
  bridge = await LocalEventBridge.start({
    resolver: new TemplateResolver({
      Resources: { Bus: { Type: 'AWS::Events::EventBus', Properties: { Name: BUS } } },
    }),
    invoker: { invoke: async () => undefined, has: () => false },
    log: () => {},
  });
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_EVENTBRIDGE: bridge.endpoint,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    EVENT_BUS_NAME: BUS,
    INBOUND_BUCKET: BUCKET,
    INBOUND_PREFIX: 'inbound/',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  ({ handler } = (await import('./inbound-email.ts')) as unknown as { handler: typeof handler });
  mailboxes = await import('../../shared/mailboxes/service.ts');
  ({ metrics } = await import('../../shared/observability.ts'));
});

afterAll(async () => {
  await bridge?.stop();
  await s3?.stop();
});

let recorded: Array<{ name: string; value: number }> = [];
beforeEach(() => {
  recorded = [];
  vi.spyOn(metrics, 'addMetric').mockImplementation((name, _unit, value) => {
    recorded.push({ name, value });
    return metrics;
  });
});
const metricTotal = (name: string) => recorded.filter((m) => m.name === name).reduce((sum, m) => sum + m.value, 0);

let sequence = 0;
const domain = `in${Date.now().toString(36)}.example.com`;
const address = (local: string) => `${local}-${++sequence}@${domain}`;

async function declare(tenantId: string, mailboxAddress: string, extra: Record<string, unknown> = {}) {
  const principal = { tenantId, userId: 'admin-1', roles: ['admin' as const] };
  return mailboxes.createMailbox(principal, {
    address: mailboxAddress,
    name: 'Support',
    defaultPriority: 'normal',
    verdictPolicy: {},
    ...extra,
  });
}

type Verdicts = Partial<Record<'spam' | 'virus' | 'spf' | 'dkim' | 'dmarc', string>>;

/** Stores a message as SES's S3 action does and invokes the handler with SES's event for it. */
async function deliver(opts: {
  recipients: string[];
  headerTo?: string;
  verdicts?: Verdicts;
  source?: string;
  subject?: string;
}): Promise<{ sesMessageId: string; events: EmailReceivedV2Detail[] }> {
  const sesMessageId = `ses${++sequence}${Date.now().toString(36)}`;
  const raw = [
    'From: Customer <customer@example.net>',
    `To: ${opts.headerTo ?? opts.recipients.join(', ')}`,
    `Subject: ${opts.subject ?? 'Help'}`,
    `Message-ID: <${sesMessageId}@example.net>`,
    '',
    'It did not arrive.',
  ].join('\r\n');
  await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `inbound/${sesMessageId}`, Body: raw }));
  const verdict = (key: keyof Verdicts) => ({ status: opts.verdicts?.[key] ?? 'PASS' });
  const event = {
    Records: [
      {
        eventSource: 'aws:ses',
        eventVersion: '1.0',
        ses: {
          mail: {
            timestamp: new Date().toISOString(),
            source: opts.source ?? 'customer@example.net',
            messageId: sesMessageId,
            destination: opts.recipients,
            headersTruncated: false,
            headers: [],
            commonHeaders: {},
          },
          receipt: {
            timestamp: new Date().toISOString(),
            processingTimeMillis: 10,
            recipients: opts.recipients,
            spamVerdict: verdict('spam'),
            virusVerdict: verdict('virus'),
            spfVerdict: verdict('spf'),
            dkimVerdict: verdict('dkim'),
            dmarcVerdict: verdict('dmarc'),
            action: {
              type: 'Lambda',
              functionArn: 'arn:aws:lambda:us-east-1:0:function:inbound',
              invocationType: 'Event',
            },
          },
        },
      },
    ],
  } as unknown as SESEvent;
  await handler(event, context);
  const events = bridge
    .recentEvents(BUS)
    .filter((e) => e['detail-type'] === 'email.received')
    .map((e) => e.detail as EmailReceivedV2Detail)
    .filter((d) => d.sesMessageId === sesMessageId);
  return { sesMessageId, events };
}

describe('inbound email', () => {
  it('resolves the tenant from the envelope recipient and publishes email.received v2', async () => {
    const tenant = uniqueTenant('in');
    const support = address('support');
    const mailbox = await declare(tenant, support, { teamId: undefined, defaultPriority: 'high' });
    const { sesMessageId, events } = await deliver({
      recipients: [support.toUpperCase()],
      // The To header names someone else entirely: it decides nothing.
      headerTo: 'someone@elsewhere.example',
      source: 'bounces+x@example.net',
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      schemaVersion: 2,
      tenantId: tenant,
      sesMessageId,
      messageId: `<${sesMessageId}@example.net>`,
      recipient: support.toUpperCase(),
      mailbox: { id: mailbox.id, address: support, defaultPriority: 'high' },
      verdicts: { spam: 'PASS', virus: 'PASS', spf: 'PASS', dkim: 'PASS', dmarc: 'PASS' },
      flagged: [],
      envelopeFrom: 'bounces+x@example.net',
      to: ['someone@elsewhere.example'],
      subject: 'Help',
      s3: { bucket: BUCKET, key: `inbound/${sesMessageId}` },
    });
    expect(metricTotal('InboundEmailsPublished')).toBe(1);
  });

  it('gives each tenant of one message its own event, and one per tenant', async () => {
    const [a, b] = [uniqueTenant('ina'), uniqueTenant('inb')];
    const [a1, a2, b1] = [address('a-one'), address('a-two'), address('b-one')];
    await declare(a, a1);
    const second = await declare(a, a2);
    await declare(b, b1);
    const tagged = a2.replace('@', '+T-1042@');
    const { events } = await deliver({ recipients: [a1, b1, tagged] });
    expect(events.map((e) => e.tenantId).sort()).toEqual([a, b].sort());
    // Of a tenant's recipients, the one with a +tag is the one that names a ticket.
    const forA = events.find((e) => e.tenantId === a)!;
    expect(forA).toMatchObject({ recipient: tagged, mailbox: { id: second.id, address: a2 } });
    expect(events.find((e) => e.tenantId === b)!.recipient).toBe(b1);
  });

  it('publishes nothing for an address no mailbox owns, and counts it', async () => {
    const known = address('known');
    const tenant = uniqueTenant('in');
    await declare(tenant, known);
    // A +tag too long to travel in an event makes even a known address nobody's.
    const huge = known.replace('@', `+${'t'.repeat(400)}@`);
    const nobody = await deliver({ recipients: [address('nobody'), `x@not-${domain}`, huge] });
    expect(nobody.events).toEqual([]);
    expect(metricTotal('InboundEmailsUnroutable')).toBe(3);
    expect(metricTotal('InboundEmailsPublished')).toBe(0);
    // Beside a known one, the unknown is dropped and the known still delivered.
    recorded = [];
    const mixed = await deliver({ recipients: [address('nobody'), known] });
    expect(mixed.events.map((e) => e.tenantId)).toEqual([tenant]);
    expect(metricTotal('InboundEmailsUnroutable')).toBe(1);
    // A deleted mailbox's address is unknown from then on.
    const gone = address('gone');
    const mailbox = await declare(tenant, gone);
    await mailboxes.deleteMailbox({ tenantId: tenant, userId: 'u', roles: ['admin'] }, mailbox.id);
    expect((await deliver({ recipients: [gone] })).events).toEqual([]);
  });

  it('applies each mailbox policy: a virus is always dropped, other failures rejected or flagged', async () => {
    const [strict, lenient] = [uniqueTenant('strict'), uniqueTenant('lenient')];
    const strictBox = address('strict');
    const lenientBox = address('lenient');
    await declare(strict, strictBox, { verdictPolicy: { spam: 'reject', spf: 'reject', dkim: 'reject' } });
    await declare(lenient, lenientBox, {
      verdictPolicy: { spam: 'flag', spf: 'flag', dkim: 'flag', dmarc: 'flag' },
    });

    const spam = await deliver({ recipients: [strictBox, lenientBox], verdicts: { spam: 'FAIL', dkim: 'FAIL' } });
    expect(spam.events.map((e) => e.tenantId)).toEqual([lenient]);
    expect(spam.events[0]).toMatchObject({
      flagged: ['spam', 'dkim'],
      verdicts: { spam: 'FAIL', virus: 'PASS', spf: 'PASS', dkim: 'FAIL', dmarc: 'PASS' },
    });
    expect(metricTotal('InboundEmailsRejected')).toBe(1);
    expect(metricTotal('InboundEmailsFlagged')).toBe(1);

    recorded = [];
    const virus = await deliver({ recipients: [strictBox, lenientBox], verdicts: { virus: 'FAIL' } });
    expect(virus.events).toEqual([]);
    expect(metricTotal('InboundEmailsRejected')).toBe(2);

    // GRAY and DISABLED decide nothing; the default policy flags a failed DMARC.
    const defaults = address('defaults');
    const tenant = uniqueTenant('def');
    await declare(tenant, defaults);
    const gray = await deliver({
      recipients: [defaults],
      verdicts: { spam: 'GRAY', virus: 'DISABLED', dmarc: 'FAIL' },
    });
    expect(gray.events).toHaveLength(1);
    expect(gray.events[0]!.flagged).toEqual(['dmarc']);
    const defaultSpam = await deliver({ recipients: [defaults], verdicts: { spam: 'FAIL' } });
    expect(defaultSpam.events).toEqual([]);
  });

  it('keeps a null sender empty (a bounce)', async () => {
    const box = address('bounces');
    await declare(uniqueTenant('in'), box);
    const { events } = await deliver({ recipients: [box], source: '' });
    expect(events).toHaveLength(1);
    expect(events[0]!.envelopeFrom).toBe('');
  });
});
