import { type MessageTag, type SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import * as z from 'zod';
import { lazyConfig } from '../config.ts';
import type { RenderedTemplate } from './render.ts';

/**
 * Marketing mail goes out from addresses of one mail domain (the SES identity the stack's IAM allows:
 * infra/constructs/marketing-send.ts `grantMarketingSend`, which also sets these variables).
 * - MARKETING_MAIL_DOMAIN: the domain every From address must be in.
 * - MARKETING_CONFIGURATION_SET: the SES configuration set sends go through (tracking events), when there is one.
 */
export const marketingSendConfig = lazyConfig(
  z.object({
    MARKETING_MAIL_DOMAIN: z
      .string()
      .min(1)
      .transform((d) => d.toLowerCase()),
    MARKETING_CONFIGURATION_SET: z.string().min(1).optional(),
  }),
);

/** The From address when a request names none. */
export const defaultFromAddress = (mailDomain: string) => `marketing@${mailDomain}`;

/** Why `address` cannot be a marketing From address; undefined when it can (its domain is the mail domain). */
export function senderAddressProblem(address: string, mailDomain: string): string | undefined {
  const at = address.lastIndexOf('@');
  const domain = at > 0 ? address.slice(at + 1).toLowerCase() : '';
  if (domain !== mailDomain.toLowerCase()) {
    return `Marketing mail is sent from the mail domain only: use an address @${mailDomain}.`;
  }
  return undefined;
}

/**
 * `"Name" <address>` for SES's FromEmailAddress; a name with non-ASCII characters is RFC 2047 encoded, as SES
 * requires, and quotes or backslashes in it are escaped.
 */
export function formatFrom(from: { address: string; name?: string | undefined }): string {
  if (!from.name) return from.address;
  const name = /^[\x20-\x7e]*$/.test(from.name)
    ? `"${from.name.replace(/(["\\])/g, '\\$1')}"`
    : `=?UTF-8?B?${Buffer.from(from.name, 'utf8').toString('base64')}?=`;
  return `${name} <${from.address}>`;
}

export interface MarketingEmail {
  from: { address: string; name?: string | undefined };
  to: string;
  replyTo?: string | undefined;
  content: RenderedTemplate;
  /** Extra headers, e.g. RFC 8058's List-Unsubscribe and List-Unsubscribe-Post. */
  headers?: Record<string, string>;
  /** SES message tags (they come back on the configuration set's events). */
  tags?: MessageTag[];
}

/** One SES v2 SendEmail (simple content: SES builds the MIME); returns SES's message id. */
export async function sendMarketingEmail(ses: SESv2Client, mail: MarketingEmail): Promise<string> {
  const configurationSet = marketingSendConfig().MARKETING_CONFIGURATION_SET;
  const body = {
    ...(mail.content.html !== undefined ? { Html: { Data: mail.content.html, Charset: 'UTF-8' } } : {}),
    ...(mail.content.text !== undefined ? { Text: { Data: mail.content.text, Charset: 'UTF-8' } } : {}),
  };
  const headers = Object.entries(mail.headers ?? {}).map(([Name, Value]) => ({ Name, Value }));
  const result = await ses.send(
    new SendEmailCommand({
      FromEmailAddress: formatFrom(mail.from),
      Destination: { ToAddresses: [mail.to] },
      ...(mail.replyTo ? { ReplyToAddresses: [mail.replyTo] } : {}),
      Content: {
        Simple: {
          Subject: { Data: mail.content.subject, Charset: 'UTF-8' },
          Body: body,
          ...(headers.length > 0 ? { Headers: headers } : {}),
        },
      },
      ...(configurationSet ? { ConfigurationSetName: configurationSet } : {}),
      ...(mail.tags?.length ? { EmailTags: mail.tags } : {}),
    }),
  );
  return result.MessageId ?? '';
}

/** SES refusals that are the request's doing (an address, the sandbox, an unverified identity), not ours. */
export const SES_REJECTIONS = new Set([
  'MessageRejected',
  'MailFromDomainNotVerifiedException',
  'BadRequestException',
  'NotFoundException',
  'AccountSuspendedException',
  'SendingPausedException',
]);
