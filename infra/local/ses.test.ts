import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loopbackOnly } from '../../test/support/net.ts';
import { LocalSes } from './ses.ts';

describe('LocalSes', () => {
  let ses: LocalSes;
  let client: SESv2Client;

  beforeAll(async () => {
    ses = await LocalSes.start({ log: () => {} });
    client = new SESv2Client({
      region: 'us-east-1',
      endpoint: ses.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterAll(async () => {
    client?.destroy();
    await ses?.stop();
  });

  beforeEach(async () => {
    await ses.clear();
  });

  it('binds 127.0.0.1 and serves the web UI', async () => {
    expect(ses.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await loopbackOnly(Number(new URL(ses.endpoint).port))).toBe(true);
    const page = await fetch(ses.webUiUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
  });

  it('records a Simple SendEmail', async () => {
    const sent = await client.send(
      new SendEmailCommand({
        FromEmailAddress: 'crm@example.com',
        Destination: { ToAddresses: ['ada@example.org'], CcAddresses: ['boss@example.org'] },
        ReplyToAddresses: ['support@example.com'],
        Content: {
          Simple: {
            Subject: { Data: 'Your quote' },
            Body: { Text: { Data: 'Hello Ada' }, Html: { Data: '<p>Hello Ada</p>' } },
          },
        },
      }),
    );
    expect(sent.MessageId).toBeTruthy();
    const emails = await ses.sentEmails();
    expect(emails).toHaveLength(1);
    expect(emails[0]).toMatchObject({
      messageId: sent.MessageId,
      from: 'crm@example.com',
      to: ['ada@example.org'],
      cc: ['boss@example.org'],
      replyTo: ['support@example.com'],
      subject: 'Your quote',
      text: 'Hello Ada',
      html: '<p>Hello Ada</p>',
    });
  });

  it('records a Raw SendEmail', async () => {
    const raw = [
      'From: "CRM" <crm@example.com>',
      'To: grace@example.org',
      'Subject: Raw hello',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Raw body',
      '',
    ].join('\r\n');
    const sent = await client.send(
      new SendEmailCommand({
        Destination: { ToAddresses: ['grace@example.org'] },
        Content: { Raw: { Data: Buffer.from(raw) } },
      }),
    );
    const emails = await ses.sentEmails();
    expect(emails).toHaveLength(1);
    expect(emails[0]?.messageId).toBe(sent.MessageId);
    expect(emails[0]?.subject).toBe('Raw hello');
    expect(emails[0]?.to).toEqual(['grace@example.org']);
    expect(emails[0]?.from).toContain('crm@example.com');
    expect(emails[0]?.text?.trim()).toBe('Raw body');
  });

  it('is reachable through AWS_ENDPOINT_URL_SESV2, as handlers use it', async () => {
    const previous = process.env.AWS_ENDPOINT_URL_SESV2;
    process.env.AWS_ENDPOINT_URL_SESV2 = ses.endpoint;
    const viaEnv = new SESv2Client({
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      await viaEnv.send(
        new SendEmailCommand({
          FromEmailAddress: 'crm@example.com',
          Destination: { ToAddresses: ['env@example.org'] },
          Content: { Simple: { Subject: { Data: 'via env' }, Body: { Text: { Data: 'x' } } } },
        }),
      );
    } finally {
      viaEnv.destroy();
      if (previous === undefined) delete process.env.AWS_ENDPOINT_URL_SESV2;
      else process.env.AWS_ENDPOINT_URL_SESV2 = previous;
    }
    const emails = await ses.sentEmails();
    expect(emails.map((e) => e.subject)).toEqual(['via env']);
  });

  it('fails to start on a port that is taken', async () => {
    await expect(LocalSes.start({ port: ses.port, log: () => {} })).rejects.toThrow(/could not listen/);
  });
});
