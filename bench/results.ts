/**
 * The shape of bench/results/latest.json, how several runs fold into it (per figure: the median and the min/max over
 * the runs) and how the goals are judged from it. Pure functions: the README generator and its test use them too.
 */

export const PAGE_KINDS = ['first', 'next', 'middle'] as const;
export type PageKind = (typeof PAGE_KINDS)[number];
export const TENANT_KEYS = ['small', 'large'] as const;
export type TenantKey = (typeof TENANT_KEYS)[number];
export const THROUGHPUT_OPS = ['create', 'get', 'list'] as const;
export type ThroughputOp = (typeof THROUGHPUT_OPS)[number];

export interface Goals {
  /** API throughput at least this share of the raw DynamoDB request's. */
  apiVsRaw: number;
  /** The API's own added cost per list page (API minus raw Query of the page), large tenant over small, at most this. */
  listAddedCostRatio: number;
  /** Minified bundle size, bytes. */
  bundleBytes: number;
  /** Tenant B's error rate while tenant A runs at 10x its quota. */
  quotaNeighbourErrorRate: number;
  /** Assignment fairness: max - min of records per team member after concurrent creates (issue 6: 0). */
  assignmentMaxMinusMin: number;
}

export interface Latency {
  samples: number;
  p50Ms: number;
  p95Ms: number;
}

export interface LoadFigure {
  ops: number;
  errors: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface CpuSplit {
  mainMs: number;
  lambdaMs: number;
  nodeOtherMs: number;
  dynamoMs: number;
  totalMs: number;
}

export interface ThroughputFigure {
  api: LoadFigure;
  /** The function's own duration per invoke (the runtime's REPORT line, whole ms). */
  inLambdaP50Ms: number;
  raw: LoadFigure;
  /** API req/s over raw req/s. */
  ratio: number;
  cpuMsPerRequest?: { api: CpuSplit; raw: CpuSplit };
}

export interface WithoutDatabaseFigure {
  calls: number;
  /** Wall time per call, mean and median, in microseconds. */
  wallUsPerCall: number;
  p50Us: number;
  /** CPU time of the process per call (all its threads: JS, GC): the cost a core pays. */
  cpuUsPerCall: number;
  callsPerSecondPerCore: number;
}

export interface RequestCountFigure {
  /** What the call is expected to send, in order (the goal). */
  expected: string[];
  calls: number;
  perCall: number;
  minPerCall: number;
  maxPerCall: number;
  /** Requests seen over all calls, by DynamoDB operation. */
  operations: Record<string, number>;
  /** ElectroDB entities the requests carried. */
  entities: string[];
  /** Every call sent exactly the expected requests (beside the tenant guards). */
  asExpected: boolean;
  /**
   * Requests of the per-tenant guards over all calls, not counted per call: the quota lease (one UpdateItem per block
   * of requests) and the settings read (one GetItem per 30 s, for writes without If-Match).
   */
  guardRequests?: number;
  /** The API's request has the same shape as the raw one of the throughput section (create, get, list only). */
  sameAsRaw?: boolean;
}

export interface PageFigure {
  api: Latency;
  raw: Latency;
  /** The API's own cost on this page: the median over rounds of API minus raw Query (measured back to back). */
  addedP50Ms: number;
}

export interface ListTenantFigure {
  contacts: number;
  seedSeconds: number;
  pages: Record<PageKind, PageFigure>;
}

export interface BundleFigure {
  entry: string;
  bytes: number;
  gzipBytes: number;
  /** Module init in a fresh process (median of this run's init runs). */
  initMs: number;
  /** Importing only the @aws-sdk packages the bundle imports. */
  sdkInitMs: number;
}

/** A latency distribution with its tail: p50 and p99 (with ~100 samples the p99 is about the slowest). */
export interface TailLatency {
  samples: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * A sales write through the API beside the raw TransactWriteItems it amounts to: the API's own request (captured by
 * the counting proxy) replayed with fresh ids, so the same items, sizes and conditions.
 */
export interface SalesWriteFigure {
  api: LoadFigure;
  /** The function's own duration per invoke (the runtime's REPORT line, whole ms): the rest is HTTP and queueing. */
  inLambdaP50Ms: number;
  raw: LoadFigure;
  /** API per second over raw per second. */
  ratio: number;
  /** The DynamoDB requests one API call sent, in order, beside the tenant guards (reads first, then the write). */
  requests: string[];
  /** Operations in the transaction (Put, ConditionCheck, ...), the same in the raw one. */
  transactItems: number;
  /** Size of the TransactWriteItems request body as sent. */
  requestBytes: number;
}

/** DynamoDB requests per read, beside the tenant guards. */
export interface ReadCountFigure {
  calls: number;
  perCall: number;
  /** Per call, by DynamoDB operation. */
  operations: Record<string, number>;
  /** What each call must send: the operations in any order (the board's Queries run in parallel). */
  expected: string[];
  /** Every call sent exactly the expected requests. */
  asExpected: boolean;
}

/** The deal board with many deals in one pipeline. */
export interface BoardFigure {
  deals: number;
  stages: number;
  /** Deals per stage page (the board's `limit`, and the next page's). */
  limit: number;
  seedSeconds: number;
  /** GET /v1/pipelines/{id}/board, beside the raw reads it amounts to (GetItem + one Query per stage, in parallel). */
  board: { api: TailLatency; raw: TailLatency };
  /** GET /v1/pipelines/{id}/stages/{stageId}/deals?cursor= (the first stage's second page), beside its raw Query. */
  nextPage: { api: TailLatency; raw: TailLatency };
  boardRequests: ReadCountFigure;
  nextPageRequests: ReadCountFigure;
  /** The API's board and next page returned the deals the raw Queries did. */
  sameDeals: boolean;
  /** A seeded deal item has exactly the attributes (names and types) of one the API wrote. */
  seededAsApi: boolean;
}

export interface SalesFigures {
  /** POST /v1/leads/{id}/convert creating contact, company and deal (one TransactWriteItems with the lead). */
  convertLead: SalesWriteFigure;
  /** POST /v1/deals/{id}/stage between two open stages. */
  moveStage: SalesWriteFigure;
  board: BoardFigure;
}

/** Inbound mail: SMTP accept -> parse -> thread -> ticket written (bench/service-mail.ts). */
export interface ServiceMailFigure {
  /** Mails the SMTP server accepted... */
  sent: number;
  /** ...and the tickets they became (every one, or the run reports a loss). */
  mails: number;
  messageBytes: number;
  concurrency: number;
  /** Mails over the span from the first SMTP send to the last ticket written. */
  perSecond: number;
  /** Per mail, from the SMTP send to the ticket's createdAt. */
  p50Ms: number;
  p99Ms: number;
  /** The DynamoDB writes of one mail, replayed with fresh ids, one mail after another per worker. */
  raw: { perSecond: number; p50Ms: number; p99Ms: number; errors: number };
  /** perSecond / raw.perSecond. */
  ratio: number;
  /** The write operations of one mail, in order. */
  writes: string[];
  /** Every DynamoDB request of one mail (reads included). */
  requests: number;
}

/** Round-robin assignment after concurrent creates without an owner (bench/assignment.ts, s6-assignment branch). */
export interface AssignmentFigure {
  members: number;
  creates: number;
  /** Creates that succeeded and got an owner; failed ones are a miss. */
  assigned: number;
  failed: number;
  /** max - min of creates per member, from the create responses... */
  maxMinusMin: number;
  /** ...and from the stored owner lists, which must agree. */
  storedMaxMinusMin: number;
  /** The best possible: 0 when the member count divides the creates, else 1. */
  ideal: number;
}

export interface QuotaFigure {
  /** Share of tenant A's requests refused or failed while it ran at 10x its quota (mostly 429s, as intended). */
  tenantAErrorRate: number;
  /** Share of tenant B's requests that failed meanwhile, at its normal rate: the goal is 0. */
  tenantBErrorRate: number;
}

/** Everything one run of the suite measures. */
export interface RunFigures {
  startupSeconds: number;
  throughput: Record<ThroughputOp, ThroughputFigure>;
  /** Through HTTP but never reaching DynamoDB (a path parameter refused by validation): the HTTP + Lambda floor. */
  httpNoDynamo: LoadFigure;
  coldFirstCallMs: Record<ThroughputOp, number>;
  buildMsPerCreate: number;
  withoutDatabase: Record<ThroughputOp, WithoutDatabaseFigure>;
  requestsPerCall: Record<string, RequestCountFigure>;
  listScaling: {
    tenants: Record<TenantKey, ListTenantFigure>;
    /** addedP50Ms of the large tenant over the small one's, per page kind. */
    addedRatio: Record<PageKind, number | null>;
    /** The API's Query of each page was the raw Query (same key condition, limit, start key) and gave the same items. */
    samePage: boolean;
  };
  bundles: Record<string, BundleFigure>;
  largestBundle: {
    function: string;
    entry: string;
    outputBytes: number;
    packages: Array<{ name: string; bytes: number }>;
  };
  tenantQuota?: QuotaFigure;
  /** Lead conversion, stage moves and the board (bench/sales.ts); absent from results older than them. */
  sales?: SalesFigures;
  /** Inbound mail to tickets (bench/service-mail.ts); absent from results older than it. */
  serviceMail?: ServiceMailFigure;
  /** Absent until bench/assignment.ts is wired into run.ts (see connectedAssignmentProbe there). */
  assignmentFairness?: AssignmentFigure;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  values: number[];
}

/** A run's figures with every number replaced by its spread over the runs. */
export type Aggregated<T> = T extends number
  ? Spread
  : T extends string | boolean | null | undefined
    ? T
    : T extends Array<infer U>
      ? Array<Aggregated<U>>
      : { [K in keyof T]: Aggregated<T[K]> };

export interface Machine {
  cores: number;
  model: string;
  memoryGiB: number;
  node: string;
  platform: string;
}

export interface Latest {
  schema: 2;
  commit: { sha: string; dirty: boolean };
  date: string;
  machine: Machine;
  runs: number;
  /** --quick: small sizes, for developing the bench; not reference figures. */
  quick: boolean;
  durationSeconds: number;
  config: Record<string, unknown>;
  goals: Goals;
  figures: Aggregated<RunFigures>;
  verdicts: Verdict[];
  notes: string[];
  problems: string[];
}

export function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const roundTo = (value: number, digits = 4) => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

/**
 * Folds runs into one: numbers become their spread, booleans hold only if they held in every run, strings and arrays
 * are taken element by element; objects by key (a key missing from some runs is folded over the runs that have it).
 * Non-finite numbers (a ratio with nothing to divide by) are left out of the spread; with none left it is null.
 */
export function aggregate<T>(runs: T[]): Aggregated<T> {
  const present = runs.filter((r) => r !== undefined && r !== null);
  const first = present[0];
  if (first === undefined) return runs[0] as Aggregated<T>;
  if (typeof first === 'number') {
    const values = (present as number[]).filter((v) => Number.isFinite(v));
    if (values.length === 0) return null as Aggregated<T>;
    return {
      median: roundTo(medianOf(values)),
      min: Math.min(...values),
      max: Math.max(...values),
      values,
    } as Aggregated<T>;
  }
  if (typeof first === 'boolean') return present.every(Boolean) as Aggregated<T>;
  if (typeof first === 'string') {
    const distinct = [...new Set(present as string[])];
    return distinct.join(' | ') as Aggregated<T>;
  }
  if (Array.isArray(first)) {
    const length = Math.max(...(present as unknown[][]).map((a) => a.length));
    return Array.from({ length }, (_, i) => aggregate((present as unknown[][]).map((a) => a[i]))) as Aggregated<T>;
  }
  const keys: string[] = [];
  for (const run of present as Array<Record<string, unknown>>) {
    for (const key of Object.keys(run)) if (!keys.includes(key)) keys.push(key);
  }
  return Object.fromEntries(
    keys.map((key) => [key, aggregate((present as Array<Record<string, unknown>>).map((r) => r[key]))]),
  ) as Aggregated<T>;
}

/** The large tenant's added cost over the small one's; null when the small one's is too small to divide by. */
export function addedRatio(small: number, large: number): number | null {
  if (!(small > 0.05) || !Number.isFinite(large)) return null;
  return roundTo(large / small, 3);
}

export interface Verdict {
  goal: string;
  value: string;
  pass: boolean;
}

const n = (s: Spread | null | undefined) => s?.median ?? Number.NaN;

/** Every goal, judged on the medians over the runs. */
export function verdicts(figures: Aggregated<RunFigures>, goals: Goals): Verdict[] {
  const out: Verdict[] = [];
  for (const op of THROUGHPUT_OPS) {
    const t = figures.throughput[op];
    out.push({
      goal: `${op}: API throughput >= ${goals.apiVsRaw} x raw`,
      value: String(n(t.ratio)),
      pass: n(t.ratio) >= goals.apiVsRaw && n(t.api.errors) === 0,
    });
  }
  for (const [op, r] of Object.entries(figures.requestsPerCall)) {
    out.push({
      goal: `${op}: DynamoDB requests = ${r.expected.join(' + ')}`,
      value: String(n(r.perCall)),
      pass: r.asExpected,
    });
  }
  for (const kind of PAGE_KINDS) {
    const ratio = figures.listScaling.addedRatio[kind] as Spread | null;
    out.push({
      goal: `list ${kind} page: API added cost large/small <= ${goals.listAddedCostRatio}`,
      value: ratio ? String(ratio.median) : 'n/a',
      pass: ratio !== null && ratio.median <= goals.listAddedCostRatio,
    });
  }
  out.push({
    goal: 'list: API and raw Query read the same pages',
    value: String(figures.listScaling.samePage),
    pass: figures.listScaling.samePage,
  });
  for (const [name, b] of Object.entries(figures.bundles)) {
    out.push({
      goal: `${name}: bundle < ${goals.bundleBytes / 1024} KiB`,
      value: String(n(b.bytes)),
      pass: n(b.bytes) < goals.bundleBytes,
    });
  }
  const sales = figures.sales;
  if (sales) {
    for (const [name, w] of [
      ['convert lead', sales.convertLead],
      ['move stage', sales.moveStage],
    ] as const) {
      out.push({
        goal: `${name}: API throughput >= ${goals.apiVsRaw} x raw TransactWriteItems`,
        value: String(n(w.ratio)),
        pass: n(w.ratio) >= goals.apiVsRaw && n(w.api.errors) === 0 && n(w.raw.errors) === 0,
      });
    }
    const b = sales.board;
    out.push({
      goal: `board: DynamoDB requests = GetItem + one Query per stage (${n(b.stages)})`,
      value: String(n(b.boardRequests.perCall)),
      pass: b.boardRequests.asExpected,
    });
    out.push({
      goal: 'board next page: DynamoDB requests = Query',
      value: String(n(b.nextPageRequests.perCall)),
      pass: b.nextPageRequests.asExpected,
    });
    out.push({
      goal: 'board: the API read the deals the raw Queries did, from deals seeded as the API writes them',
      value: String(b.sameDeals && b.seededAsApi),
      pass: b.sameDeals && b.seededAsApi,
    });
  }
  const mail = figures.serviceMail;
  if (mail) {
    out.push({
      goal: 'inbound mail: every mail accepted over SMTP became one ticket',
      value: `${n(mail.mails)} of ${n(mail.sent)}`,
      // The worst run counts: one lost or duplicated mail is a miss.
      pass: mail.mails.min === mail.sent.min && mail.mails.max === mail.sent.max && mail.sent.min > 0,
    });
  }
  const fair = figures.assignmentFairness;
  if (fair) {
    out.push({
      goal: `assignment: max - min per member after ${n(fair.creates)} concurrent creates = ${goals.assignmentMaxMinusMin}`,
      value: String(n(fair.maxMinusMin)),
      // The worst run counts, and both counts (responses, stored owner lists) must meet it, with every create
      // succeeding and getting a member as its owner.
      pass:
        fair.maxMinusMin.max <= goals.assignmentMaxMinusMin &&
        fair.storedMaxMinusMin.max <= goals.assignmentMaxMinusMin &&
        fair.failed.max === 0 &&
        fair.assigned.min === fair.creates.max,
    });
  }
  if (figures.tenantQuota) {
    const rate = n(figures.tenantQuota.tenantBErrorRate);
    out.push({
      goal: `tenant B error rate while tenant A runs at 10x its quota = ${goals.quotaNeighbourErrorRate}`,
      value: String(rate),
      // The worst run counts: one failed request of tenant B's is a miss.
      pass: figures.tenantQuota.tenantBErrorRate.max <= goals.quotaNeighbourErrorRate,
    });
  }
  return out;
}
