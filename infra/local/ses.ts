import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import sesLocalModule from 'aws-ses-v2-local';
import type { Email as StoredEmail } from 'aws-ses-v2-local/dist/store.js';
import PostalMime from 'postal-mime';
import * as z from 'zod';
import { isOwnHost } from './aws-http.ts';
import type { PutEventsEntry, PutEventsResponse } from './eventbridge.ts';
import {
  InjectRequest,
  type LocalSesEventKind,
  MATCHING_EVENT_TYPE,
  type OutboxMessage,
  type SesAccount,
  sesEventEntry,
  sesMessageId,
} from './ses-events.ts';
import { SesOutbox } from './ses-outbox.ts';
import type { TemplateResolver } from './template.ts';
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

/** Where the local SES puts SES's own events (the local EventBridge's in-process `putServiceEvents`). */
export interface SesEventPutter {
  putServiceEvents(entries: PutEventsEntry[]): Promise<PutEventsResponse>;
}

/** A configuration set the template declares, with the event types its EventBridge destinations publish. */
export interface LocalConfigurationSet {
  name: string;
  eventTypes: Set<string>;
}

/**
 * The template's configuration sets and the event types each publishes to EventBridge (only the default bus exists
 * as a destination on AWS; disabled destinations publish nothing).
 */
export function configurationSetsOf(resolver: TemplateResolver): Map<string, LocalConfigurationSet> {
  const sets = new Map<string, LocalConfigurationSet>();
  const names = new Map<string, string>();
  for (const [logicalId, resource] of resolver.resourcesOfType('AWS::SES::ConfigurationSet')) {
    const name = String(resolver.resolve(resource.Properties?.Name) ?? logicalId);
    names.set(logicalId, name);
    sets.set(name, { name, eventTypes: new Set() });
  }
  for (const [logicalId] of resolver.resourcesOfType('AWS::SES::ConfigurationSetEventDestination')) {
    const props = resolver.properties(logicalId) as {
      ConfigurationSetName?: string;
      EventDestination?: { Enabled?: boolean; MatchingEventTypes?: string[]; EventBridgeDestination?: unknown };
    };
    const set = sets.get(String(props.ConfigurationSetName));
    const destination = props.EventDestination;
    if (!set || !destination?.EventBridgeDestination || destination.Enabled === false) continue;
    // CloudFormation writes `renderingFailure`, SES v2 `RENDERING_FAILURE`: keep the latter.
    for (const type of destination.MatchingEventTypes ?? []) {
      set.eventTypes.add(
        String(type)
          .replace(/([a-z])([A-Z])/g, '$1_$2')
          .toUpperCase(),
      );
    }
  }
  return sets;
}

export interface LocalSesOptions {
  port?: number;
  log?: (line: string) => void;
  /** Where the outbox lives (`<dataDir>/ses/outbox.jsonl`); absent: in memory only. */
  dataDir?: string;
  /** The bus SES's sending events go to, and the configuration sets that publish them (from the template). */
  events?: SesEventPutter;
  configurationSets?: Map<string, LocalConfigurationSet>;
  account?: SesAccount;
}

const SEND_EMAIL_PATH = '/v2/email/outbound-emails';
const INJECT_PATH = '/_local/events';
/** SES v2 takes messages up to 40 MB; aws-ses-v2-local's body parser stops at 25 MB. */
const MAX_BODY_BYTES = 40 * 1024 * 1024;

const SendEmailBody = z.looseObject({
  FromEmailAddress: z.string().optional(),
  Destination: z
    .looseObject({
      ToAddresses: z.array(z.string()).optional(),
      CcAddresses: z.array(z.string()).optional(),
      BccAddresses: z.array(z.string()).optional(),
    })
    .optional(),
  ReplyToAddresses: z.array(z.string()).optional(),
  ConfigurationSetName: z.string().optional(),
  EmailTags: z.array(z.object({ Name: z.string(), Value: z.string() })).optional(),
  Content: z.looseObject({
    Simple: z
      .looseObject({
        Subject: z.looseObject({ Data: z.string() }),
        Body: z.looseObject({
          Text: z.looseObject({ Data: z.string() }).optional(),
          Html: z.looseObject({ Data: z.string() }).optional(),
        }),
        Headers: z.array(z.object({ Name: z.string(), Value: z.string() })).optional(),
      })
      .optional(),
    Raw: z.looseObject({ Data: z.string() }).optional(),
    Template: z
      .looseObject({
        TemplateName: z.string().optional(),
        TemplateArn: z.string().optional(),
        TemplateData: z.string().optional(),
        Headers: z.array(z.object({ Name: z.string(), Value: z.string() })).optional(),
      })
      .optional(),
  }),
});
type SendEmailBody = z.infer<typeof SendEmailBody>;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, 'MessageRejected', 'Message length exceeds the SES limit.'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, type?: string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    ...(type ? { 'x-amzn-errortype': type } : {}),
  });
  res.end(JSON.stringify(body));
}

/** The outbox record of a SendEmail request (Simple, Raw or Template content). */
async function outboxMessage(body: SendEmailBody, messageId: string): Promise<OutboxMessage> {
  const tags = Object.fromEntries((body.EmailTags ?? []).map((t) => [t.Name, t.Value]));
  const common = {
    messageId,
    time: new Date().toISOString(),
    to: body.Destination?.ToAddresses ?? [],
    cc: body.Destination?.CcAddresses ?? [],
    bcc: body.Destination?.BccAddresses ?? [],
    replyTo: body.ReplyToAddresses ?? [],
    ...(body.ConfigurationSetName ? { configurationSet: body.ConfigurationSetName } : {}),
    tags,
  };
  const headersOf = (list?: Array<{ Name: string; Value: string }>) =>
    (list ?? []).map((h) => ({ name: h.Name, value: h.Value }));
  const { Simple, Raw, Template } = body.Content;
  if (Simple) {
    return {
      ...common,
      from: body.FromEmailAddress ?? '',
      subject: Simple.Subject.Data,
      headers: headersOf(Simple.Headers),
      ...(Simple.Body.Text ? { text: Simple.Body.Text.Data } : {}),
      ...(Simple.Body.Html ? { html: Simple.Body.Html.Data } : {}),
    };
  }
  if (Raw) {
    const parsed = await PostalMime.parse(Buffer.from(Raw.Data, 'base64'));
    const list = (addresses?: Array<{ address?: string }>) =>
      (addresses ?? []).map((a) => a.address ?? '').filter((a) => a !== '');
    return {
      ...common,
      // The envelope (Destination) wins, as with SES; the headers name the recipients otherwise.
      to: common.to.length > 0 ? common.to : list(parsed.to),
      cc: common.cc.length > 0 ? common.cc : list(parsed.cc),
      from: body.FromEmailAddress ?? parsed.from?.address ?? '',
      subject: parsed.subject ?? '',
      headers: parsed.headers.map((h) => ({ name: h.originalKey ?? h.key, value: h.value })),
      ...(parsed.text ? { text: parsed.text } : {}),
      ...(parsed.html ? { html: parsed.html } : {}),
    };
  }
  return {
    ...common,
    from: body.FromEmailAddress ?? '',
    subject: '',
    headers: headersOf(Template?.Headers),
    template: {
      ...(Template?.TemplateName ? { name: Template.TemplateName } : {}),
      ...(Template?.TemplateArn ? { arn: Template.TemplateArn } : {}),
      ...(Template?.TemplateData ? { data: Template.TemplateData } : {}),
    },
  };
}

/**
 * Local SES outbound: our front on 127.0.0.1 before aws-ses-v2-local (which listens on another loopback port and
 * keeps its web UI and `/store` of sent mail; every request reaches it). The front adds what the campaign loop needs:
 * - every SES v2 SendEmail is appended durably to the outbox (`<dataDir>/ses/outbox.jsonl`, see ses-outbox.ts)
 *   before it is answered, with a unique SES-shaped message id (aws-ses-v2-local's own ids are 9 random digits,
 *   which collide within a 100,000-recipient campaign); its store's id is mapped to ours;
 * - a send through a configuration set the template declares with an EventBridge destination puts `Email Sent` and
 *   `Email Delivered` (as that destination's event types allow) on the local default bus, shaped as SES's;
 * - `POST /_local/events` (local only: nothing of it exists in AWS) injects a bounce, complaint, open, click, reject
 *   (or delivery) of a message in the outbox: `{ messageId, type, bounceType?, link?, recipient?, at? }`.
 * It speaks the SES v2 API (SendEmail Simple/Raw/Template, templates, bulk) and the v1 SendEmail/SendRawEmail, but
 * only v2 SendEmail goes through the outbox (nothing here sends with v1 or bulk).
 *
 * Note: aws-ses-v2-local keeps one store per process, so two instances in one process see the same messages, and
 * it forwards mail to an SMTP server if the SMTP_TRANSPORT variable is set (we warn: that would leave the machine).
 */
export class LocalSes implements LocalService {
  readonly name = 'ses';
  /** Store id (aws-ses-v2-local's) → our message id. */
  private readonly ids = new Map<string, string>();
  private readonly inFlight = new Set<Promise<unknown>>();

  private constructor(
    private readonly server: Server,
    private readonly backend: Server,
    private readonly backendPort: number,
    readonly port: number,
    readonly outbox: SesOutbox,
    private readonly options: LocalSesOptions,
  ) {}

  /** Base URL for AWS_ENDPOINT_URL_SESV2 and AWS_ENDPOINT_URL_SES. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The web UI listing sent mail. */
  get webUiUrl(): string {
    return `${this.endpoint}/`;
  }

  /** The local-only endpoint that injects SES events. */
  get injectUrl(): string {
    return `${this.endpoint}${INJECT_PATH}`;
  }

  static async start(opts: LocalSesOptions = {}): Promise<LocalSes> {
    const log = opts.log ?? ((line: string) => console.log(line));
    if (process.env.SMTP_TRANSPORT?.trim()) {
      log('local SES: SMTP_TRANSPORT is set, so aws-ses-v2-local will also relay every sent message over SMTP');
    }
    const backend = await serve({ host: '127.0.0.1', port: 0 });
    // aws-ses-v2-local resolves even when listen fails (e.g. port in use): check that it is really listening.
    const backendAddress = backend.address() as AddressInfo | null;
    if (!backend.listening || !backendAddress) {
      backend.close();
      throw new Error('local SES (aws-ses-v2-local) could not listen on 127.0.0.1');
    }
    const outbox = await SesOutbox.open(opts.dataDir === undefined ? undefined : join(opts.dataDir, 'ses'));
    let ses: LocalSes | undefined;
    const server = createServer((req, res) => void ses!.handle(req, res));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
      });
    } catch (error) {
      backend.close();
      await outbox.close();
      throw new Error(`local SES could not listen on 127.0.0.1:${opts.port ?? 0}: ${(error as Error).message}`);
    }
    const port = (server.address() as AddressInfo).port;
    ses = new LocalSes(server, backend, backendAddress.port, port, outbox, { ...opts, log });
    return ses;
  }

  /**
   * Puts again the events of the previous run's sends whose events may not have reached the bus (a crash between the
   * outbox line and the put); the consumer applies each once, so a repeat is harmless. Call it once the bus's targets
   * run (the local cloud does, after starting the functions), as EventBridge's own pending deliveries are.
   */
  async replayUnconfirmed(): Promise<number> {
    const unconfirmed = this.outbox.unconfirmed().splice(0);
    if (unconfirmed.length > 0) {
      this.options.log?.(`local SES: putting the sending events of ${unconfirmed.length} message(s) again`);
    }
    for (const { line, message } of unconfirmed) await this.publishSendEvents(message, line);
    return unconfirmed.length;
  }

  /** Every message sent since start (or since clear), oldest first, read from the server's /store endpoint. */
  async sentEmails(opts: { sinceEpochSeconds?: number } = {}): Promise<SentEmail[]> {
    const query = opts.sinceEpochSeconds === undefined ? '' : `?since=${Math.floor(opts.sinceEpochSeconds)}`;
    const response = await fetch(`${this.endpoint}/store${query}`);
    if (!response.ok) throw new Error(`local SES store: HTTP ${response.status}`);
    const store = (await response.json()) as { emails: StoredEmail[] };
    return store.emails.map((email) => ({
      messageId: this.ids.get(email.messageId) ?? email.messageId,
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

  /** Forgets every sent message and template of the web UI's store (the outbox file keeps its lines). */
  async clear(): Promise<void> {
    const response = await fetch(`${this.endpoint}/clear-store`, { method: 'POST' });
    if (!response.ok) throw new Error(`local SES clear-store: HTTP ${response.status}`);
  }

  async stop(): Promise<void> {
    const close = (server: Server) =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive connections from SDK clients would hold close() open.
        server.closeAllConnections();
      });
    await close(this.server);
    await Promise.allSettled([...this.inFlight]);
    await close(this.backend);
    await this.outbox.close();
  }

  // -------------------------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const work = (async () => {
      try {
        // Every process and web page of the machine can reach 127.0.0.1: a page that rebinds its own host name to it
        // names that host, never ours.
        if (!isOwnHost(req.headers.host, this.port)) {
          throw new HttpError(400, 'BadRequestException', `This local SES answers only to 127.0.0.1:${this.port}.`);
        }
        if (req.method === 'POST' && path === SEND_EMAIL_PATH) await this.sendEmail(req, res);
        else if (path === INJECT_PATH) await this.inject(req, res);
        else this.forward(req, res);
      } catch (error) {
        if (error instanceof HttpError) {
          sendJson(res, error.status, { message: error.message }, error.type);
          return;
        }
        this.options.log?.(`local SES: ${(error as Error).stack ?? String(error)}`);
        if (!res.headersSent) sendJson(res, 500, { message: 'local SES failed' }, 'InternalFailure');
        else res.destroy();
      }
    })();
    this.inFlight.add(work);
    await work;
    this.inFlight.delete(work);
  }

  /** Passes a request to aws-ses-v2-local as it came (streamed both ways). */
  private forward(req: IncomingMessage, res: ServerResponse, body?: Buffer): void {
    const upstream = request(
      {
        host: '127.0.0.1',
        port: this.backendPort,
        method: req.method,
        path: req.url,
        headers: body ? { ...req.headers, 'content-length': String(body.length) } : req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      if (!res.headersSent) sendJson(res, 502, { message: `local SES backend: ${error.message}` }, 'InternalFailure');
      else res.destroy();
    });
    if (body) upstream.end(body);
    else req.pipe(upstream);
  }

  /** aws-ses-v2-local's answer to a buffered request. */
  private backendCall(
    req: IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; text: string; headers: Record<string, string> }> {
    return new Promise((resolve, reject) => {
      const upstream = request(
        {
          host: '127.0.0.1',
          port: this.backendPort,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, 'content-length': String(body.length) },
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (c: Buffer) => chunks.push(c));
          answer.on('end', () =>
            resolve({
              status: answer.statusCode ?? 502,
              text: Buffer.concat(chunks).toString('utf8'),
              headers: Object.fromEntries(
                Object.entries(answer.headers).filter((e): e is [string, string] => typeof e[1] === 'string'),
              ),
            }),
          );
          answer.on('error', reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  /**
   * SES v2 SendEmail: aws-ses-v2-local validates and stores it (its answer stands when it refuses), then the message
   * is appended to the outbox (fsync) under our id and its Sent/Delivered events are put, and only then answered.
   */
  private async sendEmail(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const answer = await this.backendCall(req, raw);
    if (answer.status !== 200) {
      res.writeHead(answer.status, answer.headers);
      res.end(answer.text);
      return;
    }
    const parsed = SendEmailBody.safeParse(JSON.parse(raw.toString('utf8')));
    if (!parsed.success) throw new HttpError(400, 'BadRequestException', z.prettifyError(parsed.error));
    const storeId = (JSON.parse(answer.text) as { MessageId?: string }).MessageId;
    const messageId = sesMessageId();
    const message = await outboxMessage(parsed.data, messageId);
    const line = await this.outbox.append(message);
    if (storeId) this.ids.set(storeId, messageId);
    await this.publishSendEvents(message, line);
    sendJson(res, 200, { MessageId: messageId });
  }

  /** The event types the message's configuration set publishes to EventBridge (none without one). */
  private publishedTypes(message: Pick<OutboxMessage, 'configurationSet'>): Set<string> | undefined {
    if (!message.configurationSet || !this.options.events) return undefined;
    return this.options.configurationSets?.get(message.configurationSet)?.eventTypes;
  }

  /** Puts Email Sent and Email Delivered for a new message, then confirms its outbox line. */
  private async publishSendEvents(message: OutboxMessage, line: number | undefined): Promise<void> {
    const types = this.publishedTypes(message);
    const kinds = (['send', 'delivery'] as const).filter((k) => types?.has(MATCHING_EVENT_TYPE[k]));
    if (kinds.length > 0) {
      const account = this.options.account ?? { account: '000000000000', region: 'us-east-1' };
      await this.put(kinds.map((kind) => sesEventEntry(kind, message, account)));
    }
    if (line !== undefined) this.outbox.confirm(line);
  }

  private async put(entries: PutEventsEntry[]): Promise<void> {
    const result = await this.options.events!.putServiceEvents(entries);
    if (result.FailedEntryCount > 0) {
      throw new Error(
        `local SES: the bus refused ${result.FailedEntryCount} event(s): ${JSON.stringify(result.Entries)}`,
      );
    }
  }

  /** `POST /_local/events`: an SES event for a message of the outbox, put on the default bus as SES would. */
  private async inject(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') throw new HttpError(405, 'MethodNotAllowed', 'Use POST.');
    // JSON only: a cross-site form post cannot send it without a CORS preflight, which this endpoint never answers.
    if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) {
      throw new HttpError(415, 'UnsupportedMediaType', 'Send the event as application/json.');
    }
    const text = (await readBody(req)).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'BadRequestException', 'The body must be JSON.');
    }
    const parsed = InjectRequest.safeParse(json);
    if (!parsed.success) throw new HttpError(400, 'BadRequestException', z.prettifyError(parsed.error));
    const request = parsed.data;
    const message = this.outbox.get(request.messageId);
    if (!message) {
      throw new HttpError(404, 'NotFoundException', 'No message with this id was sent through a configuration set.');
    }
    const types = this.publishedTypes(message);
    const kind: LocalSesEventKind = request.type;
    if (!types?.has(MATCHING_EVENT_TYPE[kind])) {
      throw new HttpError(
        409,
        'ConflictException',
        `Configuration set ${message.configurationSet} publishes no ${MATCHING_EVENT_TYPE[kind]} events to EventBridge.`,
      );
    }
    const account = this.options.account ?? { account: '000000000000', region: 'us-east-1' };
    const withLink = message.firstLink && !request.link ? { ...request, link: message.firstLink } : request;
    const entry = sesEventEntry(kind, message, account, withLink);
    await this.put([entry]);
    sendJson(res, 202, {
      messageId: message.messageId,
      detailType: entry.DetailType,
      detail: JSON.parse(entry.Detail!),
    });
  }
}
