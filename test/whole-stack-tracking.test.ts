import { readFileSync } from 'node:fs';
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_ID } from '../infra/app.ts';
import { marketingConfigurationSetName } from '../infra/constructs/email-tracking.ts';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { createModel } from '../shared/db/model.ts';
import { trackingTags } from '../shared/tracking/ses-events.ts';
import { CLOUD_START_TIMEOUT_MS } from './support/assembly.ts';
import { makeContact } from './support/factories.ts';
import { api, eventually, startTestCloud } from './support/local-cloud.ts';

/**
 * Email tracking across the whole local cloud: a send through the local SES with the marketing configuration set and
 * a ledger item's tags → outbox line → Email Sent / Delivered on the default bus → tracking consumer → ledger,
 * stats and timeline; then injected click and hard bounce (POST /_local/events) → engagement (→ stream →
 * `email.clicked` on the CRM bus) and the suppression list.
 */
let cloud: LocalCloud;
let model: ReturnType<typeof createModel>;
let rep: ReturnType<typeof api>;
let sesClient: SESv2Client;
const TENANT = 'tracking';

beforeAll(async () => {
  cloud = await startTestCloud();
  model = createModel({ table: cloud.tableName, client: DynamoDBDocumentClient.from(cloud.dynamo.client) });
  rep = api(cloud, await cloud.token({ tenantId: TENANT, roles: ['admin'], userId: 'u1' }));
  sesClient = new SESv2Client({
    region: cloud.aws.region,
    endpoint: cloud.aws.endpoints.AWS_ENDPOINT_URL_SESV2!,
    credentials: { accessKeyId: cloud.aws.accessKeyId, secretAccessKey: cloud.aws.secretAccessKey },
  });
  // Cold start of the contacts function on a busy machine (see the other whole-stack files).
  await eventually(async () => ((await rep('GET', '/v1/contacts')).status === 200 ? true : undefined), 90_000);
}, CLOUD_START_TIMEOUT_MS);

afterAll(async () => {
  sesClient?.destroy();
  await cloud?.stop();
});

async function stats(campaignId: string): Promise<Record<string, number>> {
  const { data } = await model.entities.campaignStats.query.byShard({ tenantId: TENANT, campaignId }).go();
  const sum: Record<string, number> = {};
  for (const shard of data) {
    for (const [name, n] of Object.entries((shard.counts ?? {}) as Record<string, number>)) {
      sum[name] = (sum[name] ?? 0) + n;
    }
  }
  return sum;
}

const inject = async (body: Record<string, unknown>) => {
  const response = await fetch(`${cloud.aws.endpoints.AWS_ENDPOINT_URL_SESV2}/_local/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(202);
};

describe('email tracking in the local cloud', () => {
  it('a campaign send is delivered into the ledger; an injected click and hard bounce reach engagement, stats and suppression', {
    timeout: 180_000,
  }, async () => {
    const contact = await rep('POST', '/v1/contacts', makeContact({ emails: ['ada@engines.example'] }));
    expect(contact.status, JSON.stringify(contact.body)).toBe(201);
    const contactId = contact.body.id as string;
    const campaignId = '01JTRACKINGCAMPAIGN';
    const email = 'ada@engines.example';
    // What the campaign sender writes before sending: the recipient's ledger item, claimed.
    await model.entities.campaignRecipient
      .create({ tenantId: TENANT, campaignId, email, contactId, state: 'claimed', run: 1 })
      .go();

    const sent = await sesClient.send(
      new SendEmailCommand({
        FromEmailAddress: 'news@crm.example',
        Destination: { ToAddresses: [email] },
        ConfigurationSetName: marketingConfigurationSetName(STACK_ID),
        EmailTags: trackingTags({ tenantId: TENANT, campaignId, contactId, email }),
        Content: {
          Simple: {
            Subject: { Data: 'Spring news' },
            Body: { Html: { Data: '<p>Hi Ada, <a href="https://crm.example/spring">read on</a></p>' } },
            Headers: [{ Name: 'List-Unsubscribe', Value: '<https://crm.example/u/1>' }],
          },
        },
      }),
    );
    const messageId = sent.MessageId!;
    // The outbox has the line, headers and tags included.
    const outbox = readFileSync(cloud.ses.outbox.file!, 'utf8');
    expect(cloud.ses.outbox.file).toMatch(/ses\/outbox\.jsonl$/);
    expect(outbox).toContain(messageId);
    expect(outbox).toContain('List-Unsubscribe');

    const ledger = () =>
      model.entities.campaignRecipient.get({ tenantId: TENANT, campaignId, email }).go({ consistent: true });
    const delivered = await eventually(async () => {
      const { data } = await ledger();
      return data?.deliveredAt ? data : undefined;
    }, 60_000);
    expect(delivered).toMatchObject({ state: 'sent', sesMessageId: messageId });
    expect(await stats(campaignId)).toEqual({ sent: 1, delivered: 1 });

    await inject({ messageId, type: 'click' });
    await inject({ messageId, type: 'bounce', bounceType: 'hard' });
    const done = await eventually(async () => {
      const { data } = await ledger();
      return data?.clickedAt && data.bouncedAt ? data : undefined;
    }, 60_000);
    expect(done).toMatchObject({ clickCount: 1, bounceType: 'Permanent' });
    expect(await stats(campaignId)).toEqual({
      sent: 1,
      delivered: 1,
      clicked: 1,
      clicks: 1,
      bounced: 1,
      bounced_permanent: 1,
    });
    const suppressed = await model.entities.suppression.get({ tenantId: TENANT, email }).go();
    expect(suppressed.data).toMatchObject({ reason: 'hard_bounce', source: campaignId });

    // Engagement moved → the stream publisher put email.clicked on the CRM bus.
    const clicked = await eventually(async () =>
      cloud.events
        .recentEvents()
        .find(
          (e) => e['detail-type'] === 'email.clicked' && (e.detail as { contactId?: string }).contactId === contactId,
        ),
    );
    expect(clicked.detail).toMatchObject({ tenantId: TENANT, campaignId });

    // The contact's timeline shows the campaign mail's delivery, click and bounce.
    const timeline = await rep('GET', `/v1/contacts/${contactId}/timeline`);
    expect(timeline.status).toBe(200);
    const entries = (timeline.body.items as Array<{ type: string; data: { event?: string } }>)
      .filter((e) => e.type === 'campaignEmail')
      .map((e) => e.data.event)
      .sort();
    expect(entries).toEqual(['bounce', 'click', 'delivery']);
  });
});
