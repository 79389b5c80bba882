/**
 * `npm run bench [-- --runs N] [--quick]`: the CRM's performance figures on this machine, against the local cloud
 * (the synthesized CDK app: HTTP API emulation with JWT auth, Lambda functions in worker threads, DynamoDB Local).
 * Timing goals live here, never in tests. Everything runs on 127.0.0.1, every loop is bounded by count and time, and
 * each run's cloud is stopped at its end, also on error or Ctrl-C. One run (a fresh local cloud each):
 *   1. create / get / list through the API vs the same DynamoDB request sent raw with the SDK   (throughput.ts)
 *   2. DynamoDB requests per API call, against the expected ones (a counting proxy)           (counts.ts)
 *   3. list pages (first, next, middle) with 1,000 vs 50,000 contacts, API beside raw Query   (list-scaling.ts)
 *   4. the API without a database: the bundled handler in-process, DynamoDB answering at once  (without-db.ts)
 *   5. per function: bundle size (minified, gzip), module init time, what fills the largest    (bundles.ts)
 *   6. tenant B's error rate while tenant A runs at 10x its quota, in a cloud of its own       (quota hook below)
 *   7. convert-lead and move-stage vs the raw TransactWriteItems they send; the board at 10,000
 *      deals (p50/p99, DynamoDB requests per read: GetItem + one Query per stage)             (sales.ts)
 *   8. assignment fairness after 1,000 concurrent creates                                       (assignment hook below)
 *   9. inbound mail: 50 KB mails with an attachment over SMTP to tickets, vs their raw writes     (service-mail.ts)
 *  10. a campaign to 100,000 recipients in `npm start`, killed with kill -9 halfway and resumed, once per invocation
 *      after the suite (`--only campaign`: only it); its figures go to bench/results/campaign.json  (campaign.ts)
 * The suite runs N times (default 3); bench/results/latest.json gets the commit, the machine and per figure the
 * median and min/max over the runs, and the README's benchmark section is regenerated from it (readme.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PROJECT_ROOT } from '../infra/constructs/crm-function.ts';
import { type LocalCloud, startLocalCloud } from '../infra/local/cloud.ts';
import { parseBenchArgs } from './args.ts';
import { measureAssignmentFairness } from './assignment.ts';
import { bundledFunctions, measureBundle, packageBreakdown } from './bundles.ts';
import { benchCampaign, killCampaignChildren } from './campaign.ts';
import { type Doc, docClient, FULL, type Items, type Profile, QUICK, type RunContext } from './common.ts';
import { sectionRequestCounts } from './counts.ts';
import { sectionListScaling } from './list-scaling.ts';
import { median, round } from './load.ts';
import { CountingProxy } from './proxy.ts';
import { measureTenantQuota } from './quota.ts';
import { LATEST_FILE, updateReadme } from './readme.ts';
import { printTable } from './report.ts';
import {
  type AssignmentFigure,
  aggregate,
  type BundleFigure,
  type Goals,
  type Latest,
  type Machine,
  type QuotaFigure,
  type RunFigures,
  verdicts,
} from './results.ts';
import { sectionSales } from './sales.ts';
import { sectionServiceMail } from './service-mail.ts';
import { sectionThroughput } from './throughput.ts';
import { sectionWithoutDatabase } from './without-db.ts';

const GOALS: Goals = {
  apiVsRaw: 0.5,
  listAddedCostRatio: 1.5,
  bundleBytes: 300 * 1024,
  quotaNeighbourErrorRate: 0,
  assignmentMaxMinusMin: 0,
};
/** Each run is cut off (and its cloud stopped) after this. */
const RUN_LIMIT_MS = 20 * 60_000;
/**
 * CDK context for the measured clouds: the stage throttle (100 req/s per route by default) and the per-tenant quota
 * would measure the limits, not the system, so both go to the maximum (CDK_CONTEXT_JSON is how the CLI passes -c).
 */
const UNTHROTTLED = { throttleRateLimit: 10_000, throttleBurstLimit: 5_000, tenantRateLimit: 10_000 };
/** The tenant-quota cloud: the stage throttle out of the way, the per-tenant quota at the app's default. */
const QUOTA_CLOUD = { throttleRateLimit: 10_000, throttleBurstLimit: 5_000 };

/**
 * The tenant-quota probe (bench/quota.ts): drives tenant A at 10x its quota and tenant B at half of it against a
 * running local cloud. The quota is set to 20 req/s for the measurement: 10x the default 50 would be more than one
 * 2-core machine serves, and then the figure would measure the machine, not the quota.
 */
const quotaProbe: QuotaProbe = async (cloud, { quick }) => {
  const result = await measureTenantQuota(cloud, { quotaRps: 20, durationMs: quick ? 6_000 : 12_000 });
  return { tenantAErrorRate: result.tenantA.errorRate, tenantBErrorRate: result.tenantB.errorRate };
};
export type QuotaProbe = (cloud: LocalCloud, options: { quick: boolean }) => Promise<QuotaFigure>;
/** The probe (a function, so a run can leave it out). */
const connectedQuotaProbe = (): QuotaProbe | undefined => quotaProbe;

/**
 * Assignment fairness (issue 6): max - min of records per team member after 1,000 concurrent contact creates without
 * an owner (a round-robin rule over 8 members, which divide both counts: the goal is exactly 0), in the run's cloud
 * after the sales section. A function, so a run can leave it out.
 */
const assignmentProbe: AssignmentProbe = async (ctx) => {
  const tenantId = 'bench-assignment';
  const r = await measureAssignmentFairness({
    apiUrl: ctx.cloud.apiUrl,
    token: await ctx.cloud.token({ tenantId, roles: ['admin'], userId: 'bench-admin' }),
    tenantId,
    table: { client: ctx.direct, tableName: ctx.cloud.tableName },
    creates: ctx.profile === QUICK ? 200 : 1_000,
  });
  const { members, creates, assigned, failed, ideal } = r;
  return { members, creates, assigned, failed, ideal, maxMinusMin: r.fairness, storedMaxMinusMin: r.storedFairness };
};
const connectedAssignmentProbe = (): AssignmentProbe | undefined => assignmentProbe;
export type AssignmentProbe = (ctx: RunContext) => Promise<AssignmentFigure>;

function machine(): Machine & { loadAverage: number[] } {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    model: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => round(l, 2)),
  };
}

function commit(): Latest['commit'] {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
  try {
    // Tracked files only: the worktree's node_modules link and scratch files are not the code measured.
    return { sha: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no') !== '' };
  } catch {
    return { sha: 'unknown', dirty: true };
  }
}

/** Starts a local cloud for the bench: in-memory database, data under .data/ (never the system temp dir). */
class BenchCloud {
  cloud: LocalCloud | undefined;
  proxy: CountingProxy | undefined;
  readonly clients: Doc[] = [];
  readonly log: string[] = [];
  /** Function durations from the Lambda runtime's REPORT lines. */
  readonly lambdaDurations: number[] = [];
  private readonly dataDir: string;
  private stopping: Promise<void> | undefined;

  constructor(name: string) {
    this.dataDir = join(PROJECT_ROOT, '.data', `bench-${process.pid}-${name}`);
  }

  async start(context: Record<string, unknown>): Promise<LocalCloud> {
    const base = JSON.parse(process.env.CDK_CONTEXT_JSON ?? '{}') as Record<string, unknown>;
    process.env.CDK_CONTEXT_JSON = JSON.stringify({ ...base, ...context });
    try {
      this.cloud = await startLocalCloud({
        dataDir: this.dataDir,
        persist: false,
        waitTimeScale: 0,
        functionDynamoEndpoint: async (real) => {
          this.proxy = await CountingProxy.start(real);
          return this.proxy.endpoint;
        },
        // Only failures are kept: the per-request REPORT and access lines would be noise.
        log: (line) => {
          const report = /\] REPORT RequestId: \S+ Duration: (\d+) ms/.exec(line);
          if (report) {
            if (this.lambdaDurations.length < 100_000) this.lambdaDurations.push(Number(report[1]));
            return;
          }
          if (this.log.length < 50 && /ERROR|failed|crashed|timed out|Timedout/i.test(line)) this.log.push(line);
        },
      });
    } finally {
      if (base && Object.keys(base).length > 0) process.env.CDK_CONTEXT_JSON = JSON.stringify(base);
      else delete process.env.CDK_CONTEXT_JSON;
    }
    return this.cloud;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const c of this.clients) c.destroy();
      await this.cloud?.stop().catch((e: Error) => console.error(`stopping the cloud failed: ${e.message}`));
      await this.proxy?.stop().catch(() => undefined);
      await rm(this.dataDir, { recursive: true, force: true }).catch(() => undefined);
    })();
    return this.stopping;
  }
}

let current: BenchCloud | undefined;
let items: Items | undefined;

async function sectionBundles(cloud: LocalCloud, profile: Profile) {
  const bundles: Record<string, BundleFigure> = {};
  const measures = [];
  for (const fn of bundledFunctions(cloud.lambda.functions())) {
    measures.push(await measureBundle(fn, cloud.resolver.region, profile.initRuns));
  }
  measures.sort((a, b) => (a.function < b.function ? -1 : 1));
  for (const m of measures) {
    bundles[m.function] = {
      entry: m.entry,
      bytes: m.bytes,
      gzipBytes: m.gzipBytes,
      initMs: m.initMedianMs,
      sdkInitMs: m.sdkInitMedianMs,
    };
  }
  printTable(
    `5. Function bundles (index.mjs, minified, no .map) and module init (median of ${profile.initRuns} fresh processes)`,
    ['function', 'KiB', 'gzip KiB', 'init ms', 'SDK-only ms'],
    measures.map((m) => [
      m.function,
      round(m.bytes / 1024, 1),
      round(m.gzipBytes / 1024, 1),
      m.initMedianMs,
      m.sdkInitMedianMs,
    ]),
  );
  const largest = [...measures].sort((a, b) => b.bytes - a.bytes)[0]!;
  const breakdown = await packageBreakdown(largest.entry);
  const largestBundle = {
    function: largest.function,
    entry: largest.entry,
    outputBytes: breakdown.outputBytes,
    packages: breakdown.packages.slice(0, 10).map((p) => ({ name: p.name, bytes: p.bytes })),
  };
  console.log(
    `   largest (${largest.function}): ${largestBundle.packages
      .slice(0, 5)
      .map((p) => `${p.name} ${round(p.bytes / 1024, 1)} KiB`)
      .join(', ')}`,
  );
  return { bundles, largestBundle };
}

/** One run of the suite in a fresh local cloud. */
async function runOnce(index: number, profile: Profile, problems: string[], notes: string[]): Promise<RunFigures> {
  const bench = new BenchCloud(`run${index}`);
  current = bench;
  try {
    const t0 = performance.now();
    const cloud = await bench.start(UNTHROTTLED);
    const startupSeconds = round((performance.now() - t0) / 1000, 1);
    console.log(`\n=== run ${index + 1}: local cloud up in ${startupSeconds} s: ${cloud.apiUrl}`);
    const proxy = bench.proxy;
    if (!proxy) throw new Error('the functions were not pointed at the counting proxy');
    // Stream consumers (publisher, audit trail) run on their own capacity in AWS; here they would share the cores
    // with whatever is being measured, and 51k seeded contacts would each become an event. Stop them.
    await cloud.streams.stop();

    // items.ts binds the entity model to TABLE_NAME at import (see there): the same table name in every run.
    if (process.env.TABLE_NAME && process.env.TABLE_NAME !== cloud.tableName) {
      throw new Error(`the table name changed between runs: ${process.env.TABLE_NAME} -> ${cloud.tableName}`);
    }
    process.env.TABLE_NAME = cloud.tableName;
    items ??= await import('./items.ts');
    const region = cloud.resolver.region;
    const direct = docClient(cloud.dynamo.endpoint, region);
    const viaProxy = docClient(proxy.endpoint, region);
    bench.clients.push(direct, viaProxy);
    const ctx: RunContext = {
      cloud,
      profile,
      items,
      direct,
      viaProxy,
      proxy,
      lambdaDurations: bench.lambdaDurations,
      problems,
      notes,
    };
    const toDirect = () => cloud.lambda.updateEnvironment({ AWS_ENDPOINT_URL_DYNAMODB: cloud.dynamo.endpoint });
    const toProxy = () => cloud.lambda.updateEnvironment({ AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint });

    // Inbound mail first, on a fresh cloud: later in a run (after the sections' 60,000 seeded items) the local SMTP
    // server's recipient check once answered 451 (see problems when it does).
    const serviceMail = await sectionServiceMail(ctx, { direct: toDirect, proxy: toProxy });
    // Timed with the functions talking to DynamoDB Local directly, like the raw side; counted through the proxy.
    await toDirect();
    const throughput = await sectionThroughput(ctx);
    await toProxy();
    const requestsPerCall = await sectionRequestCounts(ctx, throughput.call, throughput.rawOpsVia(viaProxy));
    const listScaling = await sectionListScaling(ctx, toDirect);
    const sales = await sectionSales(ctx, { direct: toDirect, proxy: toProxy });
    const assignment = connectedAssignmentProbe();
    const assignmentFairness = assignment ? await assignment(ctx) : undefined;
    const withoutDatabase = await sectionWithoutDatabase(ctx, throughput.tenantId);
    const { bundles, largestBundle } = await sectionBundles(cloud, profile);
    if (bench.log.length > 0) problems.push(...bench.log.map((l) => `run ${index + 1} cloud log: ${l}`));
    return {
      startupSeconds,
      throughput: throughput.throughput,
      httpNoDynamo: throughput.httpNoDynamo,
      coldFirstCallMs: throughput.coldFirstCallMs,
      buildMsPerCreate: throughput.buildMsPerCreate,
      withoutDatabase,
      requestsPerCall,
      listScaling,
      sales,
      serviceMail,
      ...(assignmentFairness ? { assignmentFairness } : {}),
      bundles,
      largestBundle,
    };
  } catch (error) {
    // The cloud's failure lines say why; the cloud (and its log) is gone once this run's finally has run.
    for (const line of bench.log) console.error(`cloud log: ${line}`);
    throw error;
  } finally {
    await bench.stop();
    current = undefined;
  }
}

/** Tenant B's error rate while tenant A runs at 10x its quota, in a cloud with the app's default quota. */
async function runQuota(probe: QuotaProbe, index: number, quick: boolean): Promise<QuotaFigure> {
  const bench = new BenchCloud(`quota${index}`);
  current = bench;
  try {
    const cloud = await bench.start(QUOTA_CLOUD);
    await cloud.streams.stop();
    const figure = await probe(cloud, { quick });
    console.log(
      `\n6. Tenant quota: tenant A at 10x its quota: ${round(figure.tenantAErrorRate * 100, 2)}% errors; ` +
        `tenant B meanwhile: ${round(figure.tenantBErrorRate * 100, 4)}%`,
    );
    return figure;
  } finally {
    await bench.stop();
    current = undefined;
  }
}

async function main(): Promise<number> {
  const args = parseBenchArgs(process.argv.slice(2));
  const profile = args.quick ? QUICK : FULL;
  const started = new Date();
  const m = machine();
  const code = commit();
  console.log(
    `bench: ${args.only ? `only ${args.only}` : `${args.runs} run(s)`}${args.quick ? ' (--quick: small sizes, not reference figures)' : ''} of ` +
      `${code.sha.slice(0, 12)}${code.dirty ? ' (dirty)' : ''}; ${m.cores} x ${m.model}, ${m.memoryGiB} GiB, ` +
      `node ${m.node}, load average ${m.loadAverage.join(' ')}`,
  );
  const problems: string[] = [];
  const notes: string[] = [
    'API stage throttle raised to 10,000 req/s (burst 5,000) and the per-tenant quota to 10,000 via CDK context.',
    'Stream poller stopped after start: no stream → EventBridge → audit-trail work during the measurements.',
    ...(connectedQuotaProbe() ? [] : ['Tenant quota not measured: bench/quota.ts is not connected in bench/run.ts.']),
    ...(connectedAssignmentProbe()
      ? []
      : ['Assignment fairness not measured: bench/assignment.ts is not connected in bench/run.ts.']),
  ];

  const interrupt = (signal: string) => {
    console.error(`\nbench: ${signal}, stopping the local cloud`);
    killCampaignChildren();
    void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', () => interrupt('SIGINT'));
  process.once('SIGTERM', () => interrupt('SIGTERM'));

  if (args.only === 'campaign') {
    try {
      await benchCampaign({ quick: args.quick, projectRoot: PROJECT_ROOT });
      return 0;
    } catch (error) {
      console.error('bench failed:', error);
      return 1;
    }
  }

  try {
    const runs: RunFigures[] = [];
    for (let i = 0; i < args.runs; i++) {
      const limit = setTimeout(() => {
        console.error(`bench: run ${i + 1} took over ${RUN_LIMIT_MS / 60_000} minutes, giving up`);
        void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(1));
      }, RUN_LIMIT_MS);
      try {
        const figures = await runOnce(i, profile, problems, notes);
        const probe = connectedQuotaProbe();
        if (probe) figures.tenantQuota = await runQuota(probe, i, args.quick);
        runs.push(figures);
      } finally {
        clearTimeout(limit);
      }
    }
    const finished = new Date();
    const figures = aggregate(runs);
    const { loadAverage, ...machineFigures } = m;
    const latest: Latest = {
      schema: 2,
      commit: code,
      date: finished.toISOString(),
      machine: machineFigures,
      runs: args.runs,
      quick: args.quick,
      durationSeconds: round((finished.getTime() - started.getTime()) / 1000, 1),
      config: { ...profile, loadAverageAtStart: loadAverage, loadAverageAtEnd: machine().loadAverage },
      goals: GOALS,
      figures,
      verdicts: verdicts(figures, GOALS),
      notes: [...new Set(notes)],
      problems,
    };
    await mkdir(join(PROJECT_ROOT, 'bench', 'results'), { recursive: true });
    await writeFile(LATEST_FILE, `${JSON.stringify(latest, null, 2)}\n`);
    const readmeChanged = updateReadme(latest);

    console.log('\nGoals (median over the runs):');
    for (const v of latest.verdicts) console.log(`  ${v.pass ? 'met   ' : 'MISSED'}  ${v.goal}: ${v.value}`);
    const met = latest.verdicts.filter((v) => v.pass).length;
    console.log(`goals met: ${met}/${latest.verdicts.length}`);
    for (const n of latest.notes) console.log(`note: ${n}`);
    for (const p of problems) console.log(`problem: ${p}`);
    console.log(
      `wrote ${LATEST_FILE} (${latest.durationSeconds} s, median of ${args.runs} run(s): ` +
        `${median(runs.map((r) => r.startupSeconds))} s cloud start)` +
        `${readmeChanged ? '; README.md benchmark section regenerated' : ''}`,
    );
    // Once per invocation: its own npm start (kill -9 and restart), never in a run's cloud.
    await benchCampaign({ quick: args.quick, projectRoot: PROJECT_ROOT });
    return 0;
  } catch (error) {
    console.error('bench failed:', error);
    for (const line of current?.log ?? []) console.error(line);
    return 1;
  } finally {
    await current?.stop();
  }
}

// Exit explicitly: a stray keep-alive socket must not keep a finished benchmark running.
process.exit(await main());
