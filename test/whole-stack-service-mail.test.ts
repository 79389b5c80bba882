import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { CLOUD_START_TIMEOUT_MS } from './support/assembly.ts';
import { api, eventually, startTestCloud } from './support/local-cloud.ts';

/**
 * Customer service by email through the whole stack, over real SMTP: a mail to a tenant's support mailbox becomes a
 * ticket (receipt rule → S3 → inbound function → email.received → the ticket-mail intake), the agent's reply goes
 * out through the local SES (reply sender, from the stream), the customer's answer to it lands on the same ticket,
 * a redelivered event adds nothing and an auto-reply opens no ticket.
 *
 * Needs the mailboxes module (`POST /v1/mailboxes`, tenant resolution from the envelope recipient).
 */
let cloud: LocalCloud;
let admin: ReturnType<typeof api>;
let agent: ReturnType<typeof api>;
const TENANT = 'mailco';
const SUPPORT = 'help@mailco.test';
const CUSTOMER = 'carol@customer.test';

beforeAll(async () => {
  cloud = await startTestCloud();
  admin = api(cloud, await cloud.token({ tenantId: TENANT, roles: ['admin'], userId: 'admin-1' }));
  agent = api(cloud, await cloud.token({ tenantId: TENANT, roles: ['support'], userId: 'agent-1' }));
}, CLOUD_START_TIMEOUT_MS);

afterAll(async () => {
  await cloud?.stop();
});

type MailOptions = Parameters<ReturnType<typeof nodemailer.createTransport>['sendMail']>[0];

async function smtpSend(mail: MailOptions): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: cloud.smtpPort, secure: false });
  try {
    await transport.sendMail(mail);
  } finally {
    transport.close();
  }
}

/** Waits until every delivery and async invocation the mail caused has run (no timing involved). */
async function settled(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await cloud.events.idle();
    await cloud.lambda.asyncIdle();
  }
}

type Item = Record<string, unknown> & { id: string };
const ticketsNow = async () => (await agent('GET', '/v1/tickets?limit=100')).body.items as Item[];
const threadOf = async (id: string) =>
  (await agent('GET', `/v1/tickets/${id}/messages?limit=100`)).body.items as Item[];

describe('service mail in the local cloud', () => {
  it('mail in → ticket; reply out through SES; the answer threads back; redelivery and auto-replies add nothing', async () => {
    const mailbox = await admin('POST', '/v1/mailboxes', {
      address: SUPPORT,
      name: 'Help desk',
      replyName: 'MailCo Help',
      defaultPriority: 'high',
    });
    expect(mailbox.status, mailbox.text).toBe(201);

    await smtpSend({
      from: `Carol Customer <${CUSTOMER}>`,
      to: SUPPORT,
      subject: 'My parcel never came',
      text: 'Order 42 did not arrive.',
      messageId: '<parcel-1@customer.test>',
    });
    const [ticket] = await eventually(async () => {
      const items = await ticketsNow();
      return items.length ? items : undefined;
    });
    expect(ticket).toMatchObject({
      subject: 'My parcel never came',
      channel: 'email',
      priority: 'high',
      mailboxId: mailbox.body.id,
    });

    // The same event delivered again (EventBridge is at-least-once): still one message.
    const received = cloud.events.recentEvents().find((e) => e['detail-type'] === 'email.received')!;
    const [busId] = cloud.resolver.resourcesOfType('AWS::Events::EventBus')[0]!;
    const again = await cloud.events.putEvents([
      {
        EventBusName: cloud.resolver.ref(busId) as string,
        Source: received.source,
        DetailType: received['detail-type'],
        Detail: JSON.stringify(received.detail),
      },
    ]);
    expect(again.failedEntryCount).toBe(0);
    await settled();
    expect(await threadOf(ticket!.id)).toHaveLength(1);

    // The agent replies over the API; the sender sends it through the local SES.
    const reply = await agent('POST', `/v1/tickets/${ticket!.id}/replies`, { bodyText: 'It is on its way.' });
    expect(reply.status, reply.text).toBe(201);
    const sent = await eventually(async () =>
      (await cloud.ses.sentEmails()).find((m) => m.subject.includes(String(ticket!.number))),
    );
    expect(sent.to.join()).toContain(CUSTOMER);
    expect(sent.from).toContain(SUPPORT);
    expect(sent.replyTo.join()).toContain(`help+${ticket!.number}@mailco.test`);
    expect(sent.text).toContain('It is on its way.');
    const outbound = await eventually(async () =>
      (await threadOf(ticket!.id)).find((m) => (m.delivery as { status?: string } | undefined)?.status === 'sent'),
    );

    // The customer answers the reply: In-Reply-To our Message-ID, to the Reply-To address → the same ticket.
    await smtpSend({
      from: CUSTOMER,
      to: `help+${ticket!.number}@mailco.test`,
      subject: `Re: ${sent.subject}`,
      text: 'Thanks, it arrived.',
      inReplyTo: String(outbound.emailMessageId),
      references: ['<parcel-1@customer.test>', String(outbound.emailMessageId)],
    });
    await eventually(async () => ((await threadOf(ticket!.id)).length === 3 ? true : undefined));
    expect(await ticketsNow()).toHaveLength(1);

    // An out-of-office answer opens nothing and is not answered.
    const sesBefore = (await cloud.ses.sentEmails()).length;
    await smtpSend({
      from: 'robot@customer.test',
      to: SUPPORT,
      subject: 'Out of office',
      text: 'I am away.',
      headers: { 'Auto-Submitted': 'auto-replied' },
    });
    await eventually(async () =>
      cloud.events
        .recentEvents()
        .find((e) => e['detail-type'] === 'email.received' && JSON.stringify(e.detail).includes('Out of office')),
    );
    await settled();
    expect(await ticketsNow()).toHaveLength(1);
    expect((await cloud.ses.sentEmails()).length).toBe(sesBefore);
  }, 180_000);
});
