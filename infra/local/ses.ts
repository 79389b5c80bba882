import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sesLocalModule from 'aws-ses-v2-local';
import type { Email as StoredEmail } from 'aws-ses-v2-local/dist/store.js';
import type { LocalService } from './types.ts';

/** One message the local SES accepted, as its store records it (simple, raw and template sends alike). */
export interface SentEmail {
  messageId: string;
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  replyTo: string[];
  subject: string;
  text?: string;
  html?: string;
  attachments: Array<{ filename?: string; contentType: string; size: number; content: string }>;
  headers: Array<{ name: string; value: string }>;
  /** Epoch seconds when it was sent. */
  at: number;
}

type Serve = (config?: { host?: string; port?: number }) => Promise<Server>;

// Under Node's ESM-from-CJS interop the default import is module.exports ({ default, defaultConfig }); some
// loaders unwrap it to the function itself. Accept both.
const serve: Serve =
  typeof sesLocalModule === 'function' ? (sesLocalModule as unknown as Serve) : sesLocalModule.default;

/**
 * Local SES outbound: aws-ses-v2-local on 127.0.0.1. It speaks the SES v2 API (SendEmail Simple/Raw/Template,
 * templates, bulk) and the v1 SendEmail/SendRawEmail, and keeps every message in memory; its web UI lists them.
 *
 * Note: aws-ses-v2-local keeps one store per process, so two instances in one process see the same messages, and
 * it forwards mail to an SMTP server if the SMTP_TRANSPORT variable is set (we warn: that would leave the machine).
 */
export class LocalSes implements LocalService {
  readonly name = 'ses';

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Base URL for AWS_ENDPOINT_URL_SESV2 and AWS_ENDPOINT_URL_SES. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The web UI listing sent mail. */
  get webUiUrl(): string {
    return `${this.endpoint}/`;
  }

  static async start(opts: { port?: number; log?: (line: string) => void } = {}): Promise<LocalSes> {
    const log = opts.log ?? ((line: string) => console.log(line));
    if (process.env.SMTP_TRANSPORT?.trim()) {
      log('local SES: SMTP_TRANSPORT is set, so aws-ses-v2-local will also relay every sent message over SMTP');
    }
    const server = await serve({ host: '127.0.0.1', port: opts.port ?? 0 });
    // aws-ses-v2-local resolves even when listen fails (e.g. port in use): check that it is really listening.
    const address = server.address() as AddressInfo | null;
    if (!server.listening || !address) {
      server.close();
      throw new Error(`local SES could not listen on 127.0.0.1:${opts.port ?? 0}`);
    }
    return new LocalSes(server, address.port);
  }

  /** Every message sent since start (or since clear), oldest first, read from the server's /store endpoint. */
  async sentEmails(opts: { sinceEpochSeconds?: number } = {}): Promise<SentEmail[]> {
    const query = opts.sinceEpochSeconds === undefined ? '' : `?since=${Math.floor(opts.sinceEpochSeconds)}`;
    const response = await fetch(`${this.endpoint}/store${query}`);
    if (!response.ok) throw new Error(`local SES store: HTTP ${response.status}`);
    const store = (await response.json()) as { emails: StoredEmail[] };
    return store.emails.map((email) => ({
      messageId: email.messageId,
      from: email.from,
      to: email.destination.to,
      cc: email.destination.cc,
      bcc: email.destination.bcc,
      replyTo: email.replyTo,
      subject: email.subject,
      ...(email.body.text === undefined ? {} : { text: email.body.text }),
      ...(email.body.html === undefined ? {} : { html: email.body.html }),
      attachments: email.attachments,
      headers: email.headers ?? [],
      at: email.at,
    }));
  }

  /** Forgets every sent message and template. */
  async clear(): Promise<void> {
    const response = await fetch(`${this.endpoint}/clear-store`, { method: 'POST' });
    if (!response.ok) throw new Error(`local SES clear-store: HTTP ${response.status}`);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.close((err) => (err ? reject(err) : resolve()));
      // Keep-alive connections from SDK clients would hold close() open.
      this.server.closeAllConnections();
    });
  }
}
