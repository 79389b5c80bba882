import { randomBytes } from 'node:crypto';

/**
 * A small RFC 5322 / MIME writer for outbound replies: SES's Raw content is the only way to set Message-ID,
 * In-Reply-To, References and Reply-To. Headers are RFC 2047-encoded when not ASCII, bodies are base64 (so no line
 * is ever too long and no dot-stuffing matters), lines end in CRLF.
 */

export interface OutboundMail {
  from: { address: string; name?: string | undefined };
  to: string[];
  cc?: string[] | undefined;
  replyTo?: string | undefined;
  subject: string;
  messageId: string;
  inReplyTo?: string | undefined;
  references?: string[] | undefined;
  date: Date;
  text: string;
  html?: string | undefined;
  attachments?: Array<{ fileName: string; contentType: string; content: Uint8Array }> | undefined;
}

const CRLF = '\r\n';
const UNSAFE = /[^\x20-\x7e]|[\r\n]/;

/** An RFC 2047 encoded-word when the text is not plain printable ASCII. */
export function encodeWord(text: string): string {
  const clean = text.replace(/[\r\n]+/g, ' ');
  if (!UNSAFE.test(clean)) return clean;
  return `=?UTF-8?B?${Buffer.from(clean, 'utf8').toString('base64')}?=`;
}

/** `"Name" <address>` with the name quoted or encoded. */
export function mailbox(address: string, name?: string): string {
  if (!name) return `<${address}>`;
  const word = encodeWord(name);
  const shown = word === name ? `"${name.replace(/["\\]/g, '\\$&')}"` : word;
  return `${shown} <${address}>`;
}

const base64Lines = (bytes: Uint8Array) =>
  (
    Buffer.from(bytes)
      .toString('base64')
      .match(/.{1,76}/g) ?? []
  ).join(CRLF);

const boundary = () => `=_crm_${randomBytes(12).toString('hex')}`;

function textPart(type: 'plain' | 'html', body: string): string {
  return [
    `Content-Type: text/${type}; charset=UTF-8`,
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(Buffer.from(body, 'utf8')),
  ].join(CRLF);
}

function alternative(text: string, html?: string): string {
  if (html === undefined) return textPart('plain', text);
  const b = boundary();
  return [
    `Content-Type: multipart/alternative; boundary="${b}"`,
    '',
    `--${b}`,
    textPart('plain', text),
    `--${b}`,
    textPart('html', html),
    `--${b}--`,
  ].join(CRLF);
}

function attachmentPart(file: { fileName: string; contentType: string; content: Uint8Array }): string {
  const ascii = file.fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return [
    `Content-Type: ${file.contentType}; name="${ascii}"`,
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(file.fileName)}`,
    '',
    base64Lines(file.content),
  ].join(CRLF);
}

/** The whole message, ready for SES SendEmail's Content.Raw.Data. */
export function buildRawMail(mail: OutboundMail): Uint8Array {
  const headers = [
    `From: ${mailbox(mail.from.address, mail.from.name)}`,
    `To: ${mail.to.map((a) => mailbox(a)).join(', ')}`,
    ...(mail.cc?.length ? [`Cc: ${mail.cc.map((a) => mailbox(a)).join(', ')}`] : []),
    ...(mail.replyTo ? [`Reply-To: ${mailbox(mail.replyTo)}`] : []),
    `Subject: ${encodeWord(mail.subject)}`,
    `Date: ${mail.date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${mail.messageId}`,
    ...(mail.inReplyTo ? [`In-Reply-To: ${mail.inReplyTo}`] : []),
    // Folded one id per line, so a long thread never passes the 998-character line limit.
    ...(mail.references?.length ? [`References: ${mail.references.join(`${CRLF} `)}`] : []),
    'MIME-Version: 1.0',
  ];
  const body = alternative(mail.text, mail.html);
  if (!mail.attachments?.length) return Buffer.from([...headers, body].join(CRLF) + CRLF, 'utf8');
  const b = boundary();
  const parts = [
    `Content-Type: multipart/mixed; boundary="${b}"`,
    '',
    `--${b}`,
    body,
    ...mail.attachments.flatMap((file) => [`--${b}`, attachmentPart(file)]),
    `--${b}--`,
  ];
  return Buffer.from([...headers, ...parts].join(CRLF) + CRLF, 'utf8');
}
