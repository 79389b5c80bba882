/**
 * Inbound mail (issue 7), in one tenant of the run's cloud: mails processed per second from SMTP accept to the ticket
 * written (SMTP -> local SES receipt rule -> S3 -> inbound function -> email.received -> ticket-mail consumer: parse,
 * thread, write), with the p50/p99 of that latency, on 50 KB messages that each carry an attachment, beside the raw
 * cost of the same DynamoDB writes in the same run.
 *   - Each message opens a ticket (a new thread) from one of a few requesters, so contacts are matched, not created,
 *     once warm. Latency per mail: from just before the SMTP client starts sending to the ticket's `createdAt` (the
 *     consumer's clock: the same machine). Throughput: mails over the span from the first send to the last write.
 *   - Raw: every write request the consumer sent for one mail (captured by the counting proxy, in order), replayed
 *     with fresh ids and fresh values for the lookups keyed by a value (the SES message id, the Message-ID, the
 *     ticket number), one mail's writes after another, at the same concurrency. The ticket counter is a single item
 *     that every create conditions on its version; the raw side writes it without that condition (otherwise every
 *     replay but the first would fail), so its figure is a floor: no read, no contention.
 */
import {
  PutItemCommand,
  TransactWriteItemsCommand,
  type TransactWriteItemsCommandInput,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import nodemailer from 'nodemailer';
import { ulid } from 'ulid';
import { type ApiCall, apiClient, type RunContext } from './common.ts';
import { percentile, round, runLoad } from './load.ts';
import type { SeenRequest } from './proxy.ts';
import { replayIds, substitute, ulidsIn } from './replay.ts';
import { printTable } from './report.ts';
import type { ServiceMailFigure } from './results.ts';

const TENANT = 'bench-service';
const USER = 'bench-agent';
const MAILBOX = 'support@bench-service.example';
const REQUESTERS = 8;
const MESSAGE_BYTES = 50 * 1024;
const ATTACHMENT_BYTES = 24 * 1024;
const WAIT_MS = 300_000;

type Wire = Record<string, unknown>;
interface TicketItem {
  id: string;
  subject: string;
  createdAt: string;
  requesterId?: string;
  companyId?: string;
  mailboxId?: string;
  teamId?: string;
}

/** A message of about 50 KB: a plain-text body and a binary attachment (base64 in the MIME). */
function message(marker: string, k: number) {
  const line = 'Our order arrived damaged; the photos are attached. Please advise on a replacement. ';
  const attachment = Buffer.alloc(ATTACHMENT_BYTES, k % 251);
  // base64 grows the attachment by 4/3; the text fills the rest of the 50 KB.
  const textBytes = MESSAGE_BYTES - Math.ceil((ATTACHMENT_BYTES * 4) / 3) - 1_500;
  return {
    from: `customer${k % REQUESTERS}@customers.example`,
    to: MAILBOX,
    subject: `Damaged order ${marker}`,
    text: line.repeat(Math.ceil(textBytes / line.length)).slice(0, textBytes),
    attachments: [{ filename: 'photo.jpg', content: attachment, contentType: 'image/jpeg' }],
  };
}

/** Every ticket of the tenant whose subject carries `marker`, paging the recent view. */
async function ticketsMarked(call: ApiCall, marker: string): Promise<TicketItem[]> {
  const found: TicketItem[] = [];
  let cursor: string | null = null;
  do {
    const page = (await call(
      'GET',
      `/v1/tickets?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      200,
      undefined,
      true,
    )) as unknown as { items: TicketItem[]; nextCursor: string | null };
    found.push(...page.items.filter((t) => t.subject.includes(marker)));
    cursor = page.nextCursor;
  } while (cursor);
  return found;
}

async function waitForTickets(call: ApiCall, marker: string, count: number): Promise<TicketItem[]> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const tickets = await ticketsMarked(call, marker);
    if (tickets.length >= count) return tickets;
    if (Date.now() > deadline)
      throw new Error(`service mail: ${tickets.length} of ${count} tickets after ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const WRITES = new Set(['TransactWriteItems', 'PutItem', 'UpdateItem']);

export async function sectionServiceMail(
  ctx: RunContext,
  point: { direct: () => Promise<void>; proxy: () => Promise<void> },
): Promise<ServiceMailFigure> {
  const { cloud, profile, problems } = ctx;
  const { mails, concurrency } = profile.serviceMail;
  const call = apiClient(cloud.apiUrl, await cloud.token({ tenantId: TENANT, roles: ['admin'], userId: USER }));
  await call('POST', '/v1/mailboxes', 201, { address: MAILBOX, name: 'Support', defaultPriority: 'normal' });
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: cloud.smtpPort,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: concurrency,
  });
  try {
    // Warm every requester's contact, then record one mail's writes through the proxy.
    const warm = `warm-${ulid()}`;
    await Promise.all(Array.from({ length: REQUESTERS }, (_, k) => transport.sendMail(message(warm, k))));
    await waitForTickets(call, warm, REQUESTERS);

    await point.proxy();
    const template = `template-${ulid()}`;
    ctx.proxy.record();
    await transport.sendMail(message(template, 0));
    const [templateTicket] = await waitForTickets(call, template, 1);
    // The API calls that waited for the ticket went through the proxy too: only the consumer's requests count.
    const seen = ctx.proxy.stopRecording().filter((r) => !isApiWait(r));
    const writes = seen.filter((r) => WRITES.has(r.operation) && r.body);
    if (writes.length === 0) throw new Error('service mail: no write of the consumer was captured');
    const templateText = JSON.stringify(writes.map((w) => ({ operation: w.operation, body: w.body })));
    if (!ulidsIn(templateText).has(templateTicket!.id.toUpperCase())) {
      problems.push('service mail: the captured writes do not carry the ticket id');
    }

    // --- Timed: SMTP -> ticket, with the functions on DynamoDB Local directly -----------------------------------
    await point.direct();
    const marker = `run-${ulid()}`;
    const sentAt: number[] = [];
    const t0 = Date.now();
    const sendLoad = await runLoad({ concurrency, maxOps: mails, maxMs: WAIT_MS }, async (k) => {
      sentAt[k] = Date.now();
      await transport.sendMail(message(`${marker} #${k}#`, k));
    });
    if (sendLoad.errors > 0)
      problems.push(`service mail: ${sendLoad.errors} SMTP sends failed: ${sendLoad.firstError}`);
    const tickets = await waitForTickets(call, marker, sendLoad.ops);
    if (tickets.length !== sendLoad.ops) {
      problems.push(`service mail: ${sendLoad.ops} mails accepted, ${tickets.length} tickets (expected one each)`);
    }
    const latencies: number[] = [];
    let lastWrite = t0;
    for (const ticket of tickets) {
      const k = Number(/#(\d+)#/.exec(ticket.subject)?.[1]);
      const written = Date.parse(ticket.createdAt);
      lastWrite = Math.max(lastWrite, written);
      if (sentAt[k] !== undefined) latencies.push(written - sentAt[k]!);
    }
    latencies.sort((a, b) => a - b);
    const seconds = (lastWrite - t0) / 1000;

    // --- Raw: the same writes, replayed with fresh ids ------------------------------------------------------------
    // Records the mail refers to (its requester, their company, the mailbox) exist once: the replays keep their ids.
    const t = templateTicket!;
    const keep = new Set(
      [t.requesterId, t.companyId, t.mailboxId, t.teamId]
        .filter((id): id is string => !!id)
        .map((id) => id.toUpperCase()),
    );
    const valued = lookupValues(writes.map((w) => w.body));
    let replayNumber = 0;
    const rawMail = () => {
      replayNumber++;
      let text = substitute(templateText, replayIds(templateText, keep));
      for (const value of valued) {
        const fresh = freshValue(value, replayNumber);
        // Keys hold values lower-cased (ElectroDB's key casing), attributes as they are; only whole values change.
        for (const [from, to] of [
          [value, fresh],
          [value.toLowerCase(), fresh.toLowerCase()],
        ] as const) {
          text = text.replace(wholeValue(from), to);
        }
      }
      const ops = JSON.parse(text) as Array<{ operation: string; body: Wire }>;
      return ops.map(({ operation, body }) => unconditionedCounter(operation, body));
    };
    const prebuilt = Array.from({ length: sendLoad.ops + profile.serviceMail.warmupOps }, rawMail);
    let nextRaw = 0;
    const sendRaw = async () => {
      const ops = prebuilt[nextRaw++];
      if (!ops) throw new Error('service mail raw: out of prebuilt mails');
      for (const op of ops) await ctx.direct.send(op as never);
    };
    await runLoad({ concurrency, maxOps: profile.serviceMail.warmupOps, maxMs: 10_000 }, sendRaw);
    const raw = await runLoad({ concurrency, maxOps: sendLoad.ops, maxMs: WAIT_MS }, sendRaw);
    if (raw.errors > 0) problems.push(`service mail raw: ${raw.errors} errors, first: ${raw.firstError}`);

    const result: ServiceMailFigure = {
      sent: sendLoad.ops,
      mails: tickets.length,
      messageBytes: MESSAGE_BYTES,
      concurrency,
      perSecond: round(tickets.length / seconds, 1),
      p50Ms: round(percentile(latencies, 50), 1),
      p99Ms: round(percentile(latencies, 99), 1),
      raw: { perSecond: raw.perSecond, p50Ms: raw.p50Ms, p99Ms: raw.p99Ms, errors: raw.errors },
      ratio: round(tickets.length / seconds / raw.perSecond, 3),
      writes: writes.map((w) => w.operation),
      requests: seen.length,
    };
    printTable(
      `9. Inbound mail: ${result.mails} mails of ${MESSAGE_BYTES / 1024} KB with an attachment, ${concurrency} SMTP ` +
        'connections (SMTP accept -> parse -> thread -> ticket written), beside the raw writes of one mail replayed',
      ['side', 'mails/s', 'p50 ms', 'p99 ms', 'API/raw', 'writes per mail'],
      [
        ['SMTP -> ticket', result.perSecond, result.p50Ms, result.p99Ms, result.ratio, result.writes.join(' + ')],
        ['raw writes', result.raw.perSecond, result.raw.p50Ms, result.raw.p99Ms, '', result.writes.length],
      ],
    );
    return result;
  } finally {
    transport.close();
  }
}

/** The API's own requests while the bench waits for a ticket: its quota lease and the ticket list's Query. */
function isApiWait(r: SeenRequest): boolean {
  return (
    r.entities.includes('quotaWindow') || (r.operation === 'Query' && /#ticket#recent/.test(JSON.stringify(r.body)))
  );
}

/** The values of the lookup items a mail's writes put (SES message id, Message-ID, ticket number): keys by value. */
function lookupValues(bodies: unknown[]): string[] {
  const values = new Set<string>();
  const visit = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      const item = node as Record<string, { S?: string }>;
      if (item.__edb_e__?.S === 'lookup' && item.value?.S) values.add(item.value.S);
      for (const child of Object.values(node)) visit(child);
    }
  };
  visit(bodies);
  // Longest first, so a value inside another is replaced after it.
  return [...values].sort((a, b) => b.length - a.length);
}

/** `value` where it stands whole: not inside a longer run of letters and digits. */
const wholeValue = (value: string) =>
  new RegExp(`(?<![0-9A-Za-z])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![0-9A-Za-z])`, 'g');

/** A value of the same kind that no other replay uses: a ticket number stays digits (or `T-<digits>`). */
function freshValue(value: string, replay: number): string {
  if (/^\d+$/.test(value)) return String(9_000_000 + replay);
  if (/^T-\d+$/.test(value)) return `T-${9_000_000 + replay}`;
  const suffix = `.r${replay}`;
  return `${value.slice(0, Math.max(1, value.length - suffix.length))}${suffix}`;
}

/**
 * A replayed write without the ticket counter's version condition (see the file comment): the counter item is the one
 * item every replay shares, so it is the one whose condition would refer to a version only the first replay saw.
 */
function unconditionedCounter(operation: string, body: Wire) {
  const isCounter = (item: unknown) => JSON.stringify(item ?? {}).includes('ticketCounter');
  if (operation === 'TransactWriteItems') {
    const input = body as unknown as TransactWriteItemsCommandInput;
    const items = (input.TransactItems ?? []).map((op) => {
      const write = op.Put ?? op.Update;
      if (!write || !isCounter(op.Put?.Item ?? op.Update?.Key)) return op;
      const rest = withoutCondition(write as unknown as Record<string, unknown>);
      return op.Put ? { Put: rest } : { Update: rest };
    });
    const { ClientRequestToken: _t, ...restInput } = input;
    return new TransactWriteItemsCommand({ ...restInput, TransactItems: items } as TransactWriteItemsCommandInput);
  }
  if (operation === 'PutItem') return new PutItemCommand(body as never);
  return new UpdateItemCommand(body as never);
}

/** A write without its ConditionExpression, and without the expression names and values only the condition used. */
function withoutCondition(write: Record<string, unknown>): Record<string, unknown> {
  const { ConditionExpression: _condition, ExpressionAttributeNames, ExpressionAttributeValues, ...rest } = write;
  const used = String(rest.UpdateExpression ?? '');
  const keepUsed = (map: unknown) => {
    const kept = Object.entries((map ?? {}) as Record<string, unknown>).filter(([name]) =>
      new RegExp(`${name.replace(/[^\\w]/g, '\\$&')}(?![\\w])`).test(used),
    );
    return kept.length > 0 ? Object.fromEntries(kept) : undefined;
  };
  const names = keepUsed(ExpressionAttributeNames);
  const values = keepUsed(ExpressionAttributeValues);
  return {
    ...rest,
    ...(names ? { ExpressionAttributeNames: names } : {}),
    ...(values ? { ExpressionAttributeValues: values } : {}),
  };
}
