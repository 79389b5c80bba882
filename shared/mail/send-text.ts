import { type SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';

/** A plain-text mail through SES (v2) from the stack's sender: what reminders and SLA notices send. */
export async function sendTextEmail(
  ses: SESv2Client,
  from: string,
  mail: { to: string; subject: string; text: string },
): Promise<void> {
  await ses.send(
    new SendEmailCommand({
      FromEmailAddress: from,
      Destination: { ToAddresses: [mail.to] },
      Content: {
        Simple: {
          Subject: { Data: mail.subject, Charset: 'UTF-8' },
          Body: { Text: { Data: mail.text, Charset: 'UTF-8' } },
        },
      },
    }),
  );
}
