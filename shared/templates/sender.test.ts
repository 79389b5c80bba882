import type { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { uniqueTenant } from '../../test/support/factories.ts';
import { useFreshTable } from '../../test/support/table.ts';
import { formatFrom, senderAddressProblem, type sendMarketingEmail } from './sender.ts';

let service: typeof import('./service.ts');

beforeAll(async () => {
  await useFreshTable();
  service = await import('./service.ts');
});

afterEach(() => {
  delete process.env.MARKETING_MAIL_DOMAIN;
  delete process.env.MARKETING_CONFIGURATION_SET;
});

/** An SES client that records what it is asked and answers with `answer`. */
function recordingSes(answer: () => Promise<unknown>) {
  const sent: SendEmailCommand['input'][] = [];
  const client = {
    send: async (command: SendEmailCommand) => {
      sent.push(command.input);
      return answer();
    },
  } as unknown as SESv2Client;
  return { client, sent };
}

describe('marketing sender', () => {
  it('accepts From addresses in the mail domain only, whatever their case', () => {
    expect(senderAddressProblem('news@Mail.Example', 'mail.example')).toBeUndefined();
    for (const address of ['news@other.example', 'news@sub.mail.example', 'news@mail.example.evil', 'mail.example']) {
      expect(senderAddressProblem(address, 'mail.example'), address).toMatch(/@mail.example/);
    }
  });

  it('formats the display name, quoting or encoding it', () => {
    expect(formatFrom({ address: 'a@m.example' })).toBe('a@m.example');
    expect(formatFrom({ address: 'a@m.example', name: 'Acme "News"' })).toBe('"Acme \\"News\\"" <a@m.example>');
    expect(formatFrom({ address: 'a@m.example', name: 'Café' })).toBe(
      `=?UTF-8?B?${Buffer.from('Café').toString('base64')}?= <a@m.example>`,
    );
  });

  it('sends simple content with headers, tags and the configuration set', async () => {
    process.env.MARKETING_MAIL_DOMAIN = 'm.example';
    process.env.MARKETING_CONFIGURATION_SET = 'crm-marketing';
    // The config is read once per container: a fresh module instance sees these variables.
    vi.resetModules();
    const { sendMarketingEmail: send } = await import('./sender.ts');
    const ses = recordingSes(async () => ({ MessageId: 'ses-1' }));
    const id = await (send as typeof sendMarketingEmail)(ses.client, {
      from: { address: 'news@m.example', name: 'News' },
      to: 'ada@example.com',
      replyTo: 'team@m.example',
      content: { subject: 'Hi', html: '<p>Hi</p>', text: 'Hi' },
      headers: { 'List-Unsubscribe': '<https://u.example/x>', 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
      tags: [{ Name: 'campaign', Value: 'c-1' }],
    });
    expect(id).toBe('ses-1');
    expect(ses.sent).toEqual([
      {
        FromEmailAddress: '"News" <news@m.example>',
        Destination: { ToAddresses: ['ada@example.com'] },
        ReplyToAddresses: ['team@m.example'],
        Content: {
          Simple: {
            Subject: { Data: 'Hi', Charset: 'UTF-8' },
            Body: { Html: { Data: '<p>Hi</p>', Charset: 'UTF-8' }, Text: { Data: 'Hi', Charset: 'UTF-8' } },
            Headers: [
              { Name: 'List-Unsubscribe', Value: '<https://u.example/x>' },
              { Name: 'List-Unsubscribe-Post', Value: 'List-Unsubscribe=One-Click' },
            ],
          },
        },
        ConfigurationSetName: 'crm-marketing',
        EmailTags: [{ Name: 'campaign', Value: 'c-1' }],
      },
    ]);
  });

  it("turns SES's refusals of a test send into a 422 and lets other failures through", async () => {
    process.env.MARKETING_MAIL_DOMAIN = 'm.example';
    const principal = { tenantId: uniqueTenant('send'), userId: 'u-1', roles: ['marketing'] } as Parameters<
      typeof service.createTemplate
    >[0];
    const template = await service.createTemplate(principal, { name: 'T', subject: 'Hi', text: 'Hello' });
    const rejected = Object.assign(new Error('Email address is not verified.'), { name: 'MessageRejected' });
    const refusing = recordingSes(() => Promise.reject(rejected));
    await expect(
      service.testSendTemplate({ ses: refusing.client }, principal, template.id, { to: 'qa@example.com' }),
    ).rejects.toMatchObject({
      status: 422,
      code: 'emailTemplate.send_rejected',
      message: 'SES refused the test send: Email address is not verified.',
    });
    expect(refusing.sent[0]).toMatchObject({ FromEmailAddress: 'marketing@m.example' });
    expect(refusing.sent[0]?.Content?.Simple?.Subject?.Data).toBe('[Test] Hi');
    const outage = Object.assign(new Error('boom'), { name: 'InternalFailure' });
    const failing = recordingSes(() => Promise.reject(outage));
    await expect(
      service.testSendTemplate({ ses: failing.client }, principal, template.id, { to: 'qa@example.com' }),
    ).rejects.toBe(outage);
  });
});
