import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type {
  SESEvent,
  SESMail,
  SESMailCommonHeaders,
  SESReceipt,
  SESReceiptLambdaAction,
  SESReceiptStatus,
} from 'aws-lambda';
import PostalMime, { type Address } from 'postal-mime';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { LOCAL_S3_CREDENTIALS } from './s3.ts';
import type { TemplateResolver } from './template.ts';
import type { InvocationType, Invoker, LocalService } from './types.ts';

/** SES accepts messages up to 40 MB; locally 10 MB is plenty and keeps memory bounded. */
export const DEFAULT_MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

type VerdictStatus = SESReceiptStatus['status'];
/** Verdicts the receipt reports; nothing is checked locally. */
export type Verdicts = Record<'spam' | 'virus' | 'spf' | 'dkim' | 'dmarc', VerdictStatus>;

/** An `AWS::SES::ReceiptRule` of the template, resolved. */
export interface ReceiptRule {
  logicalId: string;
  name: string;
  ruleSet: string;
  enabled: boolean;
  /** Addresses, domains, or `.domain` for every subdomain; empty matches every recipient. */
  recipients: string[];
  scanEnabled: boolean;
  actions: Array<Record<string, unknown>>;
}

/** What one action did for one message. */
export type ActionOutcome = { error?: string } & (
  | { type: 'S3'; bucketName: string; objectKey: string }
  | { type: 'Lambda'; functionArn: string; invocationType: InvocationType; event?: SESEvent; result?: unknown }
  | { type: 'AddHeader'; header: string }
  | { type: 'Stop'; scope: string }
  | { type: 'Unsupported'; action: string }
);

/** What the receipt rules did with one accepted message; `waitForDelivery` resolves with it. */
export interface InboundDelivery {
  messageId: string;
  /** Envelope sender (MAIL FROM); empty for a null sender. */
  source: string;
  /** Envelope recipients (RCPT TO) that were accepted. */
  destination: string[];
  rules: Array<{ rule: string; recipients: string[]; actions: ActionOutcome[] }>;
  /** True when every action succeeded. */
  ok: boolean;
  /** Set when the message could not be processed at all. */
  error?: string;
}

type Log = (line: string) => void;

/**
 * Local only: a message may set its own verdicts with this header, e.g. `X-Local-Verdicts: spam=FAIL, dkim=GRAY`, so
 * tests can drive verdict handling end to end. SES ignores it (it computes verdicts itself); nothing in AWS reads it.
 */
export const LOCAL_VERDICTS_HEADER = 'X-Local-Verdicts';
const VERDICT_NAMES = ['spam', 'virus', 'spf', 'dkim', 'dmarc'] as const;
const VERDICT_STATUSES = ['PASS', 'FAIL', 'GRAY', 'PROCESSING_FAILED', 'DISABLED'] as const;

/** The verdicts an `X-Local-Verdicts` header in the message's header section sets (unknown names and values ignored). */
export function localVerdictsOf(message: Buffer): Partial<Verdicts> {
  const end = message.indexOf('\r\n\r\n');
  const head = message.subarray(0, end < 0 ? Math.min(message.length, 64 * 1024) : end).toString('latin1');
  const line = new RegExp(`^${LOCAL_VERDICTS_HEADER}:[ \\t]*(.*(?:\\r\\n[ \\t].*)*)`, 'im').exec(head);
  const verdicts: Partial<Verdicts> = {};
  for (const pair of (line?.[1] ?? '').split(/[,;\s]+/)) {
    const [name, status] = pair.split('=').map((p) => p.trim());
    const key = name?.toLowerCase() as (typeof VERDICT_NAMES)[number];
    const value = status?.toUpperCase() as VerdictStatus;
    if (VERDICT_NAMES.includes(key) && (VERDICT_STATUSES as readonly string[]).includes(value)) verdicts[key] = value;
  }
  return verdicts;
}

/** Whether some tenant's mailbox owns an address (the local cloud reads the address claim in DynamoDB Local). */
export type AcceptRecipient = (address: string) => Promise<boolean>;

/**
 * Local SES inbound: an SMTP server on 127.0.0.1 that plays the template's SES receipt rules as SES does.
 *
 * RCPT TO is refused with 550 unless an enabled rule matches the recipient. Each accepted message gets an SES-style
 * message id and the SES receipt headers, then the rules run in order (the `After` chain): S3 actions write the
 * message to `<prefix><messageId>` in local S3, Lambda actions invoke the function with the event SES sends, with
 * `disposition` (STOP_RULE / STOP_RULE_SET) honoured for RequestResponse invocations; AddHeader and Stop work too.
 * Like SES, the SMTP reply comes before the actions run: use `waitForDelivery` to wait for them.
 * Not emulated: TlsPolicy (no TLS locally), SNS/Bounce/WorkMail actions (logged and skipped), spam/virus/SPF/DKIM
 * checks (verdicts are configurable, PASS by default; spam and virus are DISABLED when the rule does not scan).
 */
export class LocalSmtpInbound implements LocalService {
  readonly name = 'smtp-inbound';
  readonly deliveries: InboundDelivery[] = [];

  private readonly inFlight = new Set<Promise<void>>();
  private readonly waiters = new Set<(delivery: InboundDelivery) => void>();
  private readonly s3: S3Client;
  private server!: SMTPServer;
  private listeningPort = 0;

  private constructor(
    resolver: TemplateResolver,
    private readonly invoker: Invoker,
    readonly rules: ReceiptRule[],
    s3Endpoint: string,
    private readonly verdicts: Partial<Verdicts>,
    private readonly log: Log,
    private readonly acceptRecipient?: AcceptRecipient,
  ) {
    this.s3 = new S3Client({
      region: resolver.region,
      endpoint: s3Endpoint,
      forcePathStyle: true,
      credentials: LOCAL_S3_CREDENTIALS,
    });
  }

  get port(): number {
    return this.listeningPort;
  }

  /** Host to point an SMTP client at, with `port`. */
  get host(): string {
    return '127.0.0.1';
  }

  static async start(opts: {
    resolver: TemplateResolver;
    invoker: Invoker;
    s3Endpoint: string;
    port?: number;
    /** Which rule set is the active one; by default the template's only (or first) rule set. */
    ruleSetName?: string;
    maxMessageBytes?: number;
    /** Verdicts reported in the event (nothing is really checked locally); a message's X-Local-Verdicts wins. */
    verdicts?: Partial<Verdicts>;
    /**
     * Asked for each RCPT TO a receipt rule covers: false answers 550 5.1.1, as for an address no mailbox owns
     * (in AWS such mail is accepted by SES and dropped by the inbound function; locally the sender learns at once).
     */
    acceptRecipient?: AcceptRecipient;
    log?: Log;
  }): Promise<LocalSmtpInbound> {
    const log = opts.log ?? ((line: string) => console.log(line));
    const rules = activeRules(opts.resolver, opts.ruleSetName, log);
    if (!rules.some((rule) => rule.enabled)) {
      log('local SES inbound: no enabled receipt rule, every recipient is refused');
    }
    const inbound = new LocalSmtpInbound(
      opts.resolver,
      opts.invoker,
      rules,
      opts.s3Endpoint,
      opts.verdicts ?? {},
      log,
      opts.acceptRecipient,
    );
    await inbound.listen(opts.port ?? 0, opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
    return inbound;
  }

  private listen(port: number, maxBytes: number): Promise<void> {
    this.server = new SMTPServer({
      name: 'inbound-smtp.local',
      banner: 'local SES inbound',
      // Plain SMTP without AUTH, as a receiving MX is; no TLS locally.
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      size: maxBytes,
      rejectOversized: true,
      // Nothing may leave the machine: no reverse DNS of the client address.
      disableReverseLookup: true,
      logger: false,
      closeTimeout: 2_000,
      onRcptTo: (address, _session, callback) => {
        // What SES answers for an address no active rule covers (and, locally, one no mailbox owns).
        const unavailable = () =>
          callback(
            Object.assign(new Error('5.1.1 Requested action not taken: mailbox unavailable'), { responseCode: 550 }),
          );
        if (!this.rules.some((rule) => rule.enabled && matchesRecipient(address.address, rule.recipients))) {
          unavailable();
          return;
        }
        if (!this.acceptRecipient) {
          callback();
          return;
        }
        this.acceptRecipient(address.address).then(
          (accepted) => (accepted ? callback() : unavailable()),
          (err: unknown) => {
            this.log(`local SES inbound: checking recipient ${address.address} failed: ${errorText(err)}`);
            callback(Object.assign(new Error('4.3.0 Try again later'), { responseCode: 451 }));
          },
        );
      },
      onData: (stream, session, callback) => this.receive(stream, session, callback),
    });
    return new Promise((resolve, reject) => {
      this.server.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.server.off('error', reject);
        this.listeningPort = (this.server.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private receive(
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    callback: (err?: Error | null, message?: string) => void,
  ): void {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => {
      // Past the limit smtp-server answers 552 itself (rejectOversized); just stop buffering.
      if (!stream.sizeExceeded) chunks.push(chunk);
    });
    stream.on('error', (err) => callback(err));
    stream.on('end', () => {
      if (stream.sizeExceeded) {
        callback(Object.assign(new Error('5.3.4 Message too big'), { responseCode: 552 }));
        return;
      }
      const messageId = sesMessageId();
      const envelope = {
        source: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        destination: session.envelope.rcptTo.map((rcpt) => rcpt.address),
        helo: session.hostNameAppearsAs || session.clientHostname,
        clientHostname: session.clientHostname,
        remoteAddress: session.remoteAddress,
      };
      callback(null, `Ok ${messageId}`);
      const body = Buffer.concat(chunks);
      const verdicts = { ...this.verdicts, ...localVerdictsOf(body) };
      const work = this.deliver(messageId, body, envelope, new Date(), verdicts)
        .then((delivery) => this.record(delivery))
        .catch((err: unknown) => {
          this.log(`local SES inbound: message ${messageId} failed: ${errorText(err)}`);
          const { source, destination } = envelope;
          this.record({ messageId, source, destination, rules: [], ok: false, error: errorText(err) });
        })
        .finally(() => this.inFlight.delete(work));
      this.inFlight.add(work);
    });
  }

  private record(delivery: InboundDelivery): void {
    this.deliveries.push(delivery);
    for (const waiter of [...this.waiters]) waiter(delivery);
  }

  /** Runs the receipt rules for one message, in order, as SES does after accepting it. */
  private async deliver(
    messageId: string,
    body: Buffer,
    envelope: { source: string; destination: string[]; helo: string; clientHostname: string; remoteAddress: string },
    receivedAt: Date,
    verdicts: Partial<Verdicts>,
  ): Promise<InboundDelivery> {
    const matching = this.rules
      .filter((rule) => rule.enabled)
      .map((rule) => ({ rule, recipients: envelope.destination.filter((r) => matchesRecipient(r, rule.recipients)) }))
      .filter((m) => m.recipients.length > 0);
    const scanned = matching.some((m) => m.rule.scanEnabled);
    // SES prepends its own trace headers to the stored message; the event lists them too.
    let raw = Buffer.concat([
      Buffer.from(sesTraceHeaders(messageId, envelope, receivedAt, scanned ? verdicts : undefined)),
      body,
    ]);
    let mail: SESMail | undefined;
    const delivery: InboundDelivery = {
      messageId,
      source: envelope.source,
      destination: envelope.destination,
      rules: [],
      ok: true,
    };
    this.log(`local SES inbound: ${messageId} from <${envelope.source}> to ${envelope.destination.join(', ')}`);

    ruleLoop: for (const { rule, recipients } of matching) {
      const outcomes: ActionOutcome[] = [];
      delivery.rules.push({ rule: rule.name, recipients, actions: outcomes });
      for (const action of rule.actions) {
        const [kind, rawConfig] = Object.entries(action)[0] ?? [];
        const config = (rawConfig ?? {}) as Record<string, unknown>;
        try {
          switch (kind) {
            case 'S3Action': {
              const bucketName = String(config.BucketName);
              const objectKey = `${config.ObjectKeyPrefix ?? ''}${messageId}`;
              outcomes.push({ type: 'S3', bucketName, objectKey });
              await this.s3.send(new PutObjectCommand({ Bucket: bucketName, Key: objectKey, Body: raw }));
              break;
            }
            case 'LambdaAction': {
              const functionArn = String(config.FunctionArn);
              const invocationType: InvocationType =
                config.InvocationType === 'RequestResponse' ? 'RequestResponse' : 'Event';
              const outcome: ActionOutcome = { type: 'Lambda', functionArn, invocationType };
              outcomes.push(outcome);
              mail ??= await sesMail(raw, messageId, envelope, receivedAt);
              const event = this.lambdaEvent(mail, rule, recipients, receivedAt, verdicts, {
                functionArn,
                invocationType,
              });
              outcome.event = event;
              const result = await this.invoker.invoke(functionArn, event, invocationType);
              if (invocationType === 'RequestResponse') {
                outcome.result = result;
                // A synchronous function can stop the rule or the rule set, as with SES.
                const disposition = (result as { disposition?: unknown } | null | undefined)?.disposition;
                if (disposition === 'STOP_RULE_SET') break ruleLoop;
                if (disposition === 'STOP_RULE') continue ruleLoop;
              }
              break;
            }
            case 'AddHeaderAction': {
              const header = `${config.HeaderName}: ${config.HeaderValue}`;
              outcomes.push({ type: 'AddHeader', header });
              raw = Buffer.concat([Buffer.from(`${header}\r\n`), raw]);
              mail = undefined;
              break;
            }
            case 'StopAction':
              outcomes.push({ type: 'Stop', scope: String(config.Scope ?? 'RuleSet') });
              break ruleLoop;
            default:
              outcomes.push({ type: 'Unsupported', action: String(kind) });
              this.log(`local SES inbound: rule ${rule.name}: ${kind} is not emulated locally, skipped`);
          }
        } catch (err) {
          // A failed action ends this rule's actions (later ones may depend on it); other rules still run.
          const last = outcomes.at(-1);
          if (last) last.error = errorText(err);
          delivery.ok = false;
          this.log(`local SES inbound: ${messageId}: rule ${rule.name}: ${kind} failed: ${errorText(err)}`);
          continue ruleLoop;
        }
      }
    }
    return delivery;
  }

  private lambdaEvent(
    mail: SESMail,
    rule: ReceiptRule,
    recipients: string[],
    receivedAt: Date,
    verdicts: Partial<Verdicts>,
    action: { functionArn: string; invocationType: InvocationType },
  ): SESEvent {
    const verdict = (key: keyof Verdicts, fallback: VerdictStatus): SESReceiptStatus => ({
      status: verdicts[key] ?? fallback,
    });
    const lambdaAction: SESReceiptLambdaAction = { type: 'Lambda', ...action };
    const receipt: SESReceipt = {
      timestamp: receivedAt.toISOString(),
      processingTimeMillis: Date.now() - receivedAt.getTime(),
      recipients,
      spamVerdict: rule.scanEnabled ? verdict('spam', 'PASS') : { status: 'DISABLED' },
      virusVerdict: rule.scanEnabled ? verdict('virus', 'PASS') : { status: 'DISABLED' },
      spfVerdict: verdict('spf', 'PASS'),
      dkimVerdict: verdict('dkim', 'PASS'),
      dmarcVerdict: verdict('dmarc', 'PASS'),
      action: lambdaAction,
    };
    return { Records: [{ eventSource: 'aws:ses', eventVersion: '1.0', ses: { mail, receipt } }] };
  }

  /**
   * Resolves with the first completed delivery matching `match` (already recorded or still to come), e.g.
   * `waitForDelivery((d) => d.destination.includes('inbox@crm.example'))`.
   */
  waitForDelivery(
    match: (delivery: InboundDelivery) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<InboundDelivery> {
    const done = this.deliveries.find(match);
    if (done) return Promise.resolve(done);
    return new Promise<InboundDelivery>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no inbound delivery matched within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (delivery: InboundDelivery) => {
        if (!match(delivery)) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(delivery);
      };
      this.waiters.add(waiter);
    });
  }

  /** Resolves once every accepted message has been through the rules. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.idle();
    this.s3.destroy();
  }
}

/** The enabled-or-not rules of the active rule set, in SES order (rules without `After` first, then the chain). */
export function activeRules(resolver: TemplateResolver, ruleSetName: string | undefined, log: Log): ReceiptRule[] {
  const all = resolver.resourcesOfType('AWS::SES::ReceiptRule').map(([logicalId]) => {
    const props = resolver.properties(logicalId);
    const rule = (props.Rule ?? {}) as Record<string, unknown>;
    return {
      logicalId,
      name: typeof rule.Name === 'string' ? rule.Name : logicalId,
      ruleSet: String(props.RuleSetName ?? ''),
      after: typeof props.After === 'string' ? props.After : undefined,
      // SES defaults: Enabled and ScanEnabled are false unless set.
      enabled: rule.Enabled === true || rule.Enabled === 'true',
      recipients: Array.isArray(rule.Recipients) ? rule.Recipients.map(String) : [],
      scanEnabled: rule.ScanEnabled === true || rule.ScanEnabled === 'true',
      actions: Array.isArray(rule.Actions) ? (rule.Actions as Array<Record<string, unknown>>) : [],
    };
  });
  const sets = [...new Set(all.map((r) => r.ruleSet))];
  const active = ruleSetName ?? sets[0];
  if (ruleSetName === undefined && sets.length > 1) {
    log(`local SES inbound: ${sets.length} receipt rule sets in the template, using ${active} (pass ruleSetName)`);
  }
  const rules = all.filter((r) => r.ruleSet === active);
  // `After` names the rule this one follows; `Ref` of a rule may give its name or its logical id.
  const byKey = new Map<string, (typeof rules)[number]>();
  for (const r of rules) byKey.set(r.logicalId, r).set(r.name, r);
  const ordered: typeof rules = [];
  const visit = (r: (typeof rules)[number]) => {
    if (ordered.includes(r)) return;
    ordered.push(r);
    for (const next of rules) if (next.after !== undefined && byKey.get(next.after) === r) visit(next);
  };
  for (const r of rules) if (r.after === undefined || !byKey.has(r.after)) visit(r);
  for (const r of rules) visit(r); // a cycle in After: keep template order for what is left
  return ordered.map(({ after: _after, ...rule }) => rule);
}

/** SES recipient conditions: a full address, a domain (not its subdomains), or `.domain` (its subdomains). */
export function matchesRecipient(recipient: string, conditions: string[]): boolean {
  if (conditions.length === 0) return true;
  const address = recipient.toLowerCase();
  const domain = address.slice(address.lastIndexOf('@') + 1);
  return conditions.some((raw) => {
    const condition = raw.toLowerCase();
    if (condition.includes('@')) return condition === address;
    if (condition.startsWith('.')) return domain.endsWith(condition);
    return domain === condition;
  });
}

/** SES inbound message ids are 40 lowercase base32 characters, e.g. `o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g01`. */
function sesMessageId(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuv';
  return [...randomBytes(40)].map((b) => alphabet[b % 32]).join('');
}

function sesTraceHeaders(
  messageId: string,
  envelope: { source: string; destination: string[]; helo: string; clientHostname: string; remoteAddress: string },
  receivedAt: Date,
  verdicts: Partial<Verdicts> | undefined,
): string {
  const date = receivedAt.toUTCString().replace('GMT', '+0000 (UTC)');
  const lines = [
    `Return-Path: <${envelope.source}>`,
    `Received: from ${envelope.helo} (${envelope.clientHostname} [${envelope.remoteAddress}])\r\n` +
      ` by inbound-smtp.local with SMTP id ${messageId}\r\n for ${envelope.destination[0] ?? ''}; ${date}`,
  ];
  if (verdicts) {
    lines.push(`X-SES-Spam-Verdict: ${verdicts.spam ?? 'PASS'}`, `X-SES-Virus-Verdict: ${verdicts.virus ?? 'PASS'}`);
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** The `mail` object of the SES event: every header in order, and the common ones parsed. */
async function sesMail(
  raw: Buffer,
  messageId: string,
  envelope: { source: string; destination: string[] },
  receivedAt: Date,
): Promise<SESMail> {
  const parsed = await PostalMime.parse(raw);
  const header = (name: string) => parsed.headers.find((h) => h.key === name)?.value.trim();
  const common: Partial<SESMailCommonHeaders> = { returnPath: envelope.source };
  const addresses = {
    from: parsed.from ? [parsed.from] : undefined,
    sender: parsed.sender ? [parsed.sender] : undefined,
    replyTo: parsed.replyTo,
    to: parsed.to,
    cc: parsed.cc,
    bcc: parsed.bcc,
  } as const;
  for (const [key, list] of Object.entries(addresses) as Array<[keyof typeof addresses, Address[] | undefined]>) {
    if (list?.length) common[key] = formatAddresses(list);
  }
  const date = header('date');
  if (date !== undefined) common.date = date;
  const headerMessageId = header('message-id');
  if (headerMessageId !== undefined) common.messageId = headerMessageId;
  if (parsed.subject !== undefined) common.subject = parsed.subject;
  return {
    timestamp: receivedAt.toISOString(),
    source: envelope.source,
    messageId,
    destination: envelope.destination,
    headersTruncated: false,
    headers: parsed.headers.map((h) => ({ name: h.originalKey, value: h.value })),
    // SES leaves out the common headers a message lacks (e.g. no Date), whatever the type says.
    commonHeaders: common as SESMailCommonHeaders,
  };
}

/** `"Doe, John" <john@example.com>` style, as SES lists addresses in commonHeaders. */
function formatAddresses(list: Address[]): string[] {
  return list
    .flatMap((a) => (a.group ? a.group : [a]))
    .map((a) => {
      if (!a.name) return a.address;
      const name = /[()<>[\]:;@\\,."]/.test(a.name) ? `"${a.name.replace(/(["\\])/g, '\\$1')}"` : a.name;
      return `${name} <${a.address}>`;
    });
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
