/**
 * The campaign benchmark (issue 8): one campaign to N recipients (100,000; `--quick` 5,000) in the real `npm start`,
 * killed with `kill -9` (the whole process group) when about half are processed and started again on the same data
 * dir and ports, so the local cloud resumes the journaled execution and the sender goes on from `progress`. When the
 * campaign is `sent`, the local SES outbox (`<dataDir>/ses/outbox.jsonl`, this campaign's lines by tag) is the truth
 * of what was mailed: duplicates, forbidden addresses mailed, the achieved send rate before and after the kill.
 *
 * The recipients are seeded straight into DynamoDB Local (BatchWriteItem, 25 a call, several in flight), built with
 * the service's own entity code (bench/items.ts); the template, list, categories and campaign go through the API.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { persistentAssemblyDir } from '../infra/local/cloud.ts';
import { DurableQueue } from '../infra/local/durable-queue.ts';
import { SEND_BURST_SECONDS } from '../shared/campaigns/rate.ts';
import { npmStart, npmStartEnv, waitForGroupExit } from '../test/support/npm-start.ts';
import { round } from './load.ts';
import { printTable } from './report.ts';

// ---- the seeded audience (pure) -------------------------------------------------------------------------------

export type SeedKind = 'ok' | 'withdrawn' | 'unsubscribed' | 'suppressed' | 'shared';

/**
 * What recipient `i` of `n` is: ~1% each with consent withdrawn, unsubscribed from the category, suppressed; one in
 * 1,000 shares the address of the one before it (which is an ordinary recipient). Everybody else is sendable.
 */
export function seedKind(i: number): SeedKind {
  const r = i % 100;
  if (r === 11) return 'withdrawn';
  if (r === 22) return 'unsubscribed';
  if (r === 33) return 'suppressed';
  if (i % 1000 === 999) return 'shared';
  return 'ok';
}

export const seedAddress = (i: number) =>
  seedKind(i) === 'shared' ? `r${i - 1}@bench.example.com` : `r${i}@bench.example.com`;

/** How many of `n` recipients should be mailed, and the addresses that must never be. */
export function expectedAudience(n: number): { sendable: number; forbidden: Set<string>; skipped: number } {
  const forbidden = new Set<string>();
  let sendable = 0;
  let skipped = 0;
  for (let i = 0; i < n; i++) {
    const kind = seedKind(i);
    if (kind === 'ok') sendable++;
    else if (kind !== 'shared') {
      forbidden.add(seedAddress(i));
      skipped++;
    }
  }
  return { sendable, forbidden, skipped };
}

// ---- the outbox (pure) ----------------------------------------------------------------------------------------

export interface OutboxCount {
  /** This campaign's lines. */
  lines: number;
  addresses: number;
  /** Lines per address beyond the first, summed. */
  duplicates: number;
  /** Lines to addresses that must never be mailed. */
  forbiddenMailed: number;
  /** Send times (epoch ms), sorted. */
  times: number[];
}

/** Counts one campaign's lines of an outbox.jsonl text (lines of other campaigns and torn lines are ignored). */
export function countOutbox(text: string, campaignId: string, forbidden: ReadonlySet<string>): OutboxCount {
  const perAddress = new Map<string, number>();
  const times: number[] = [];
  let lines = 0;
  let forbiddenMailed = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let message: { time?: string; to?: string[]; tags?: Record<string, string> };
    try {
      message = JSON.parse(line);
    } catch {
      continue;
    }
    if (message.tags?.campaignId !== campaignId) continue;
    lines++;
    times.push(Date.parse(message.time ?? ''));
    for (const to of message.to ?? []) {
      const address = to.trim().toLowerCase();
      perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
      if (forbidden.has(address)) forbiddenMailed++;
    }
  }
  let duplicates = 0;
  for (const count of perAddress.values()) duplicates += count - 1;
  times.sort((a, b) => a - b);
  return { lines, addresses: perAddress.size, duplicates, forbiddenMailed, times };
}

export interface RateFigures {
  sends: number;
  /** From the first to the last send, seconds. */
  seconds: number;
  perSecond: number;
  /** perSecond ÷ the configured rate. */
  ofConfigured: number;
}

/**
 * The send rate of sorted send times: sends after the first over the span first → last (n sends over a span have
 * n-1 intervals; the first send opens the span). Fewer than two sends: no rate.
 */
export function sendRate(times: readonly number[], configured: number): RateFigures {
  const sends = times.length;
  const seconds = sends > 1 ? (times[sends - 1]! - times[0]!) / 1000 : 0;
  const perSecond = seconds > 0 ? (sends - 1) / seconds : 0;
  return {
    sends,
    seconds: round(seconds, 2),
    perSecond: round(perSecond, 1),
    ofConfigured: round(perSecond / configured, 3),
  };
}

/**
 * Splits sorted send times at the kill: before `killedAt` and after it. The whole run's rate excludes the downtime
 * (last send before the kill → first send after the restart): the sending time is the two spans added.
 */
/** The most sends any one-second window holds (sorted send times, epoch ms): how far a burst went over the rate. */
export function busiestSecond(times: readonly number[]): number {
  let most = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while (times[end]! - times[start]! >= 1000) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

export function ratesAroundKill(
  times: readonly number[],
  killedAt: number,
  configured: number,
): { before: RateFigures; after: RateFigures; overall: RateFigures; downtimeSeconds: number } {
  const beforeTimes = times.filter((t) => t <= killedAt);
  const afterTimes = times.filter((t) => t > killedAt);
  const before = sendRate(beforeTimes, configured);
  const after = sendRate(afterTimes, configured);
  const sendingSeconds = before.seconds + after.seconds;
  const intervals = Math.max(0, beforeTimes.length - 1) + Math.max(0, afterTimes.length - 1);
  const perSecond = sendingSeconds > 0 ? intervals / sendingSeconds : 0;
  const downtime =
    beforeTimes.length > 0 && afterTimes.length > 0
      ? (afterTimes[0]! - beforeTimes[beforeTimes.length - 1]!) / 1000
      : 0;
  return {
    before,
    after,
    overall: {
      sends: times.length,
      seconds: round(sendingSeconds, 2),
      perSecond: round(perSecond, 1),
      ofConfigured: round(perSecond / configured, 3),
    },
    downtimeSeconds: round(downtime, 1),
  };
}

// ---- the run --------------------------------------------------------------------------------------------------

export interface CampaignBenchOptions {
  quick: boolean;
  projectRoot: string;
}

type Json = Record<string, unknown>;
const liveChildren: ChildProcess[] = [];
const liveOutput: Array<() => string> = [];

/** Kills the campaign bench's `npm start` process groups (also from bench/run.ts on Ctrl-C). */
export function killCampaignChildren(): void {
  for (const child of liveChildren) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
const TENANT = 'demo'; // npm start's dev token is for tenant "demo"
const CATEGORY = 'news';

export async function benchCampaign(options: CampaignBenchOptions): Promise<Json> {
  const recipients = Number(process.env.BENCH_CAMPAIGN_RECIPIENTS ?? (options.quick ? 5_000 : 100_000));
  const rate = Number(process.env.BENCH_CAMPAIGN_RATE ?? 40);
  const dataDir = join(options.projectRoot, '.data', `bench-campaign-${process.pid}`);
  const children = liveChildren;
  const killGroups = killCampaignChildren;
  await rm(dataDir, { recursive: true, force: true });
  // The local cloud's durable work is fsynced: DynamoDB Local's SQLite commits, the outbox, the queues of EventBridge
  // deliveries and Lambda invocations (a file, fsynced and renamed, per item). This VM's disk does ~160 synced 4 KiB
  // writes a second, which alone held a first run to ~10 recipients/s; so the data dir is a link to one on tmpfs
  // when there is one. A kill -9 of the processes keeps what tmpfs holds: the crash and the resume are the same.
  const shm = tmpfsDir();
  const realDir = shm ? join(shm, `bench-campaign-${process.pid}`) : undefined;
  if (realDir) {
    await rm(dataDir, { recursive: true, force: true });
    await rm(realDir, { recursive: true, force: true });
    await mkdir(realDir, { recursive: true });
    await mkdir(join(options.projectRoot, '.data'), { recursive: true });
    await symlink(realDir, dataDir);
  }
  if (!realDir) await mkdir(dataDir, { recursive: true });
  const env = {
    ...(await npmStartEnv(dataDir)),
    CDK_CONTEXT_JSON: JSON.stringify({
      sesMaxSendRate: rate,
      throttleRateLimit: 10_000,
      throttleBurstLimit: 5_000,
      tenantRateLimit: 10_000,
    }),
  };
  try {
    console.log(`\n=== campaign: ${recipients} recipients at ${rate}/s configured; starting npm start in ${dataDir}`);
    let t = Date.now();
    let started = await npmStart(env, children);
    liveOutput.push(started.output);
    const startupSeconds = (Date.now() - t) / 1000;
    // DynamoDB Local gets a new port on every start: a client for the running one, from what npm start wrote.
    const dynamoOfStart = async () => {
      const info = JSON.parse(await readFile(join(dataDir, 'local-cloud.json'), 'utf8')) as {
        aws: { region: string; accessKeyId: string; secretAccessKey: string; endpoints: Record<string, string> };
      };
      return new DynamoDBClient({
        region: info.aws.region,
        endpoint: info.aws.endpoints.AWS_ENDPOINT_URL_DYNAMODB,
        credentials: { accessKeyId: info.aws.accessKeyId, secretAccessKey: info.aws.secretAccessKey },
      });
    };
    const raw = await dynamoOfStart();
    const doc = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    const tables = (await raw.send(new ListTablesCommand({}))).TableNames ?? [];
    if (tables.length !== 1) throw new Error(`expected one table in DynamoDB Local, found ${tables.join(', ')}`);
    process.env.TABLE_NAME = tables[0]!;

    let token = started.token;
    const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`${started.apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
      return (text ? JSON.parse(text) : {}) as Json;
    };

    await api('PUT', '/v1/subscription-categories', { categories: [{ id: CATEGORY, name: 'News' }] });
    const list = await api('POST', '/v1/segments', { kind: 'static', name: 'Bench recipients' });
    const listId = String(list.id);
    t = Date.now();
    await seed(doc, recipients, listId);
    const seedSeconds = (Date.now() - t) / 1000;
    console.log(`   seeded ${recipients} recipients in ${round(seedSeconds, 1)} s`);
    // The seeded contacts' own events (duplicate candidates, scoring, segments, the audit trail) are an import's work,
    // not the campaign's: the send starts once the cloud has drained them, as it would after a real import.
    t = Date.now();
    await waitForQuiet(dataDir, started.child.pid!);
    const drainSeconds = (Date.now() - t) / 1000;
    console.log(`   the import's events drained in ${round(drainSeconds, 1)} s`);

    const template = await api(
      'POST',
      '/v1/email-templates',
      { name: 'Bench', subject: 'Hello {{ contact.firstName }}', text: 'Hi {{ contact.firstName }}, news.' },
      { 'idempotency-key': `bench-tpl-${process.pid}` },
    );
    const campaign = await api(
      'POST',
      '/v1/campaigns',
      {
        name: 'Bench campaign',
        audience: { listIds: [listId] },
        templateId: template.id,
        categoryId: CATEGORY,
        from: { address: 'news@crm.local', name: 'Bench' },
      },
      { 'idempotency-key': `bench-cmp-${process.pid}` },
    );
    const campaignId = String(campaign.id);
    await api('POST', `/v1/campaigns/${campaignId}/schedule`, { now: true });
    const scheduledAt = Date.now();

    let peakRssKiB = 0;
    const sampleRss = () => {
      const pgid = started.child.pid;
      if (pgid) peakRssKiB = Math.max(peakRssKiB, groupRssKiB(pgid));
    };
    const poll = async (until: (c: Json) => boolean, limitMs: number): Promise<Json> => {
      const deadline = Date.now() + limitMs;
      let last = 0;
      for (;;) {
        const c = await api('GET', `/v1/campaigns/${campaignId}`);
        sampleRss();
        const stats = (c.stats ?? {}) as Record<string, number>;
        if (Date.now() - last > 10_000) {
          last = Date.now();
          console.log(`   ${c.status}: ${stats.recipients ?? 0} processed, ${stats.sent ?? 0} sent`);
        }
        if (until(c)) return c;
        if (['failed', 'cancelled'].includes(String(c.status))) throw new Error(`campaign ${c.status}: ${c.failure}`);
        if (Date.now() > deadline) throw new Error(`campaign still ${c.status} after ${limitMs / 1000} s`);
        await new Promise((r) => setTimeout(r, 300));
      }
    };
    // Generous: a loaded machine sends far below the configured rate, and the figures should say so, not a timeout.
    const limitMs = Math.max(900_000, (recipients / rate) * 10_000);
    const half = await poll((c) => Number((c.stats as Json | undefined)?.recipients ?? 0) >= recipients / 2, limitMs);
    const killedAt = Date.now();
    const pgid = started.child.pid!;
    process.kill(-pgid, 'SIGKILL');
    await waitForGroupExit(pgid, 30_000);
    console.log(`   kill -9 at ${(half.stats as Json).recipients} processed; restarting on the same data dir`);
    t = Date.now();
    started = await npmStart(env, children);
    liveOutput.push(started.output);
    const restartSeconds = (Date.now() - t) / 1000;
    token = started.token;
    const done = await poll((c) => c.status === 'sent', limitMs);
    const finishedAt = Date.now();

    // The ledger's claims left in doubt (claimed, never settled): at most once leaves them unsent.
    let claimed = 0;
    let cursor: string | undefined;
    do {
      const page = await api(
        'GET',
        `/v1/campaigns/${campaignId}/recipients?state=claimed&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      claimed += ((page.items as unknown[]) ?? []).length;
      cursor = (page.nextCursor as string | null | undefined) ?? undefined;
    } while (cursor);

    const expected = expectedAudience(recipients);
    const outbox = countOutbox(
      await readFile(join(dataDir, 'ses', 'outbox.jsonl'), 'utf8'),
      campaignId,
      expected.forbidden,
    );
    const rates = ratesAroundKill(outbox.times, killedAt, rate);
    const stats = (done.stats ?? {}) as Record<string, number>;
    const skipped = Object.entries(stats)
      .filter(([k]) => k.startsWith('skipped_'))
      .reduce((s, [, v]) => s + v, 0);
    const processed = (stats.sent ?? 0) + skipped;
    const wallSeconds = (finishedAt - scheduledAt) / 1000;
    const first = outbox.times[0] ?? scheduledAt;
    const activeSeconds = (outbox.times[outbox.times.length - 1]! - first) / 1000 - rates.downtimeSeconds;
    const figures = {
      date: new Date().toISOString(),
      quick: options.quick,
      recipients,
      configuredRate: rate,
      dataDirOnTmpfs: realDir !== undefined,
      startupSeconds: round(startupSeconds, 1),
      seedSeconds: round(seedSeconds, 1),
      importDrainSeconds: round(drainSeconds, 1),
      restartSeconds: round(restartSeconds, 1),
      wallSeconds: round(wallSeconds, 1),
      processed,
      processedPerSecond: round(processed / activeSeconds, 1),
      processedPerWallSecond: round(processed / wallSeconds, 1),
      expected: {
        sendable: expected.sendable,
        skipped: expected.skipped,
        sharedAddressPairs: recipients - expected.sendable - expected.skipped,
      },
      stats,
      outbox: { lines: outbox.lines, addresses: outbox.addresses },
      duplicatesSent: outbox.duplicates,
      forbiddenMailed: outbox.forbiddenMailed,
      claimedInDoubt: claimed,
      busiestSecond: busiestSecond(outbox.times),
      busiestSecondAtSender: busiestSecond(
        await turnTimes(DynamoDBDocumentClient.from(await dynamoOfStart()), campaignId),
      ),
      statsMatchOutbox: stats.sent === outbox.lines,
      killedAtProcessed: Number((half.stats as Json).recipients),
      rate: rates,
      peakRssMiB: round(peakRssKiB / 1024, 0),
      goals: { duplicatesSent: 0, forbiddenMailed: 0, achievedOfConfigured: 0.9 },
    };
    printTable(
      `Campaign: ${recipients} recipients, ${rate}/s configured, kill -9 at ${figures.killedAtProcessed} processed`,
      ['figure', 'value', 'goal'],
      [
        ['seeding, then the import’s events drained (s)', `${figures.seedSeconds}, ${figures.importDrainSeconds}`, ''],
        ['recipients processed / s (sending time)', figures.processedPerSecond, ''],
        ['sent (stats / outbox lines)', `${stats.sent} / ${outbox.lines}`, `${expected.sendable}`],
        ['duplicates sent', outbox.duplicates, 0],
        ['suppressed/unsubscribed/unconsented mailed', outbox.forbiddenMailed, 0],
        ['achieved ÷ configured rate (overall)', rates.overall.ofConfigured, '≥ 0.9'],
        ['  before the kill', rates.before.ofConfigured, '≥ 0.9'],
        ['  after the restart', rates.after.ofConfigured, '≥ 0.9'],
        ['downtime around the kill (s)', rates.downtimeSeconds, ''],
        [
          'most sends in any one second: at the sender / at SES',
          `${figures.busiestSecondAtSender} / ${figures.busiestSecond}`,
          `≤ ${rate + Math.max(1, rate * SEND_BURST_SECONDS)} at the sender`,
        ],
        ['claims left in doubt', claimed, ''],
        ['peak RSS of npm start (MiB)', figures.peakRssMiB, ''],
      ],
    );
    await mkdir(join(options.projectRoot, 'bench', 'results'), { recursive: true });
    await writeFile(
      join(options.projectRoot, 'bench', 'results', 'campaign.json'),
      `${JSON.stringify(figures, null, 2)}\n`,
    );
    return figures;
  } catch (error) {
    // npm start's own words say why it went away (its output is otherwise not shown).
    const last = liveOutput.at(-1)?.();
    if (last) console.error(`npm start's output (last 4,000 characters):\n${last.slice(-4000)}`);
    throw error;
  } finally {
    killGroups();
    for (const child of children) if (child.pid) await waitForGroupExit(child.pid, 30_000).catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
    if (realDir) await rm(realDir, { recursive: true, force: true });
    await rm(persistentAssemblyDir(dataDir), { recursive: true, force: true });
  }
}

/** /dev/shm when it is a writable tmpfs (BENCH_CAMPAIGN_TMPFS=0: keep the data dir on disk). */
function tmpfsDir(): string | undefined {
  if (process.env.BENCH_CAMPAIGN_TMPFS === '0') return undefined;
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by every process of the group (all threads), from /proc. */
function groupCpuSeconds(pgid: number): number {
  let ticks = 0;
  try {
    const out = execFileSync('ps', ['-o', 'pgid=,pid=', '-e'], { encoding: 'utf8' });
    for (const line of out.split('\n')) {
      const [g, pid] = line.trim().split(/\s+/);
      if (Number(g) !== pgid) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the line)
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    return 0;
  }
  return ticks / 100;
}

/**
 * Waits until the local cloud has no accepted work left: no pending EventBridge delivery or async invocation on
 * disk, the stream checkpoints unchanged, and the process group using under a fifth of a core, for 5 s in a row.
 */
async function waitForQuiet(dataDir: string, pgid: number, limitMs = 3_600_000): Promise<void> {
  const pending = async (dir: string) => (await DurableQueue.pendingIn(join(dataDir, dir))).length;
  const checkpoints = () => readFile(join(dataDir, 'streams', 'checkpoints.json'), 'utf8').catch(() => '');
  const deadline = Date.now() + limitMs;
  let quietFor = 0;
  let cpu = groupCpuSeconds(pgid);
  let marks = await checkpoints();
  while (quietFor < 5) {
    if (Date.now() > deadline) throw new Error(`the local cloud was still busy after ${limitMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 1000));
    const nowCpu = groupCpuSeconds(pgid);
    const nowMarks = await checkpoints();
    const queued = (await pending('eventbridge/deliveries')) + (await pending('lambda/async-invocations'));
    const idle = queued === 0 && nowMarks === marks && nowCpu - cpu < 0.2;
    quietFor = idle ? quietFor + 1 : 0;
    cpu = nowCpu;
    marks = nowMarks;
  }
}

/** RSS of every process in the group (npm, tsx, node, the DynamoDB Local JVM), KiB. */
function groupRssKiB(pgid: number): number {
  try {
    const out = execFileSync('ps', ['-o', 'pgid=,rss=', '-e'], { encoding: 'utf8' });
    let total = 0;
    for (const line of out.split('\n')) {
      const [g, rss] = line.trim().split(/\s+/);
      if (Number(g) === pgid) total += Number(rss) || 0;
    }
    return total;
  } catch {
    return 0;
  }
}

/**
 * When the sender took each sent mail's turn of the rate: the ledger's `claimedAt` (set once the token is in hand),
 * sorted. Its busiest second is the sender's own pace; the outbox's adds the local SES's receipt jitter.
 */
async function turnTimes(doc: DynamoDBDocumentClient, campaignId: string): Promise<number[]> {
  const { model } = await import('../shared/db/store.ts');
  const params = model.entities.campaignRecipient.query
    .byRecipient({ tenantId: TENANT, campaignId })
    .params() as QueryCommandInput;
  const times: number[] = [];
  let ExclusiveStartKey: QueryCommandInput['ExclusiveStartKey'];
  do {
    const page = await doc.send(
      new QueryCommand({
        ...params,
        ProjectionExpression: '#claimedAt, #state',
        ExpressionAttributeNames: { ...params.ExpressionAttributeNames, '#claimedAt': 'claimedAt', '#state': 'state' },
        ...(ExclusiveStartKey ? { ExclusiveStartKey } : {}),
      }),
    );
    for (const item of page.Items ?? []) {
      if (item.state === 'sent' && typeof item.claimedAt === 'string') times.push(Date.parse(item.claimedAt));
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return times.sort((a, b) => a - b);
}

/** Contacts, suppression entries and the list's members, written raw; then the list's memberCount. */
async function seed(doc: DynamoDBDocumentClient, n: number, listId: string): Promise<void> {
  const items = await import('./items.ts');
  const { model } = await import('../shared/db/store.ts');
  const { suppressionItem } = await import('../shared/suppression/store.ts');
  const { contactKind } = await import('../shared/contacts/service.ts');
  const table = process.env.TABLE_NAME!;
  const now = new Date().toISOString();
  const batches: Json[][] = [];
  let batch: Json[] = [];
  const push = (item: Json) => {
    batch.push(item);
    if (batch.length === 25) {
      batches.push(batch);
      batch = [];
    }
  };
  for (let i = 0; i < n; i++) {
    const kind = seedKind(i);
    const stored = items.storedContact(TENANT, 'bench-seed', {
      firstName: `R${i}`,
      lastName: 'Bench',
      emails: [seedAddress(i)],
    });
    const contact = {
      ...stored,
      consent: { email: kind === 'withdrawn' ? 'withdrawn' : 'granted' },
      ...(kind === 'unsubscribed' ? { subscriptions: { [CATEGORY]: { status: 'unsubscribed' } } } : {}),
    };
    const item = (model.entities.contact.put({ ...contact, ...contactKind.keys(contact) } as never).params() as Json)
      .Item as Json;
    push(item);
    push(
      (
        model.entities.segmentMember
          .put({
            tenantId: TENANT,
            segmentId: listId,
            contactId: String(stored.contactId),
            addedAt: now,
            source: 'import',
          })
          .params() as Json
      ).Item as Json,
    );
    if (kind === 'suppressed') {
      const entry = suppressionItem(TENANT, { email: seedAddress(i), reason: 'manual' } as never);
      push((model.entities.suppression.put(entry as never).params() as Json).Item as Json);
    }
  }
  if (batch.length > 0) batches.push(batch);
  let next = 0;
  const lanes = Array.from({ length: 6 }, async () => {
    while (next < batches.length) {
      let pending: Json[] = batches[next++]!.map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 8) throw new Error('BatchWriteItem: items stayed unprocessed');
        if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
        const out = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending as never } }));
        pending = (out.UnprocessedItems?.[table] ?? []) as Json[];
      }
    }
  });
  await Promise.all(lanes);
  const update = model.entities.segment
    .patch({ tenantId: TENANT, segmentId: listId })
    .set({ memberCount: n })
    .params() as never;
  await doc.send(new UpdateCommand(update));
}
