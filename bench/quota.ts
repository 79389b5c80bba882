/**
 * Per-tenant quota under load: tenant A is driven at a multiple (10×) of its quota while tenant B sends at a normal
 * rate, both through the local cloud's HTTP API at the same time. The point: A is refused (429, Retry-After) once its
 * window's quota is spent and B's error rate stays 0. For `npm run bench` (bench/run.ts calls measureTenantQuota).
 *
 * The quota is the cloud's (`tenantRateLimit`), or `quotaRps` when given: then the API functions are reconfigured for
 * the measurement and put back afterwards, as Lambda's UpdateFunctionConfiguration would (running containers are
 * retired, the next invocation reads the new value), so the other bench sections can run with the quota raised out of
 * their way. The stage throttle must be well above A's offered rate (e.g. bench/run.ts's 10,000 req/s): otherwise
 * it, shared by all tenants, refuses B too; that is reported separately as `stageThrottled`. Requests are paced open-loop
 * (a fixed schedule, not "as fast as responses come back"); when `maxInFlight` requests are outstanding the next
 * ones are skipped and counted in `skipped`, so `achievedRps` says what was really offered.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { quotaConfigSchema } from '../shared/quota/config.ts';
import { round } from './load.ts';

export interface QuotaBenchOptions {
  /** The per-tenant quota (requests per second) to measure with; default: the cloud's own (`tenantRateLimit`). */
  quotaRps?: number;
  /** How long both tenants send; default 12 s (more than one 10 s window, so A also meets a window change). */
  durationMs?: number;
  /** A's offered rate as a multiple of the quota rate; default 10. */
  overload?: number;
  /** B's offered rate in requests per second; default half the quota rate. */
  tenantBRps?: number;
  /** Outstanding requests per tenant beyond which the schedule skips; default 64. */
  maxInFlight?: number;
}

export interface TenantLoad {
  tenantId: string;
  offeredRps: number;
  /** Requests sent (the schedule minus skipped) and how they were answered. */
  sent: number;
  ok: number;
  /** 429 problem+json `request.quota_exceeded` from the tenant quota. */
  quotaRefused: number;
  /** 429 from the API stage's throttle (API Gateway's own body), shared by all tenants. */
  stageThrottled: number;
  /** Anything else that was not a 200 (including network errors). */
  otherErrors: number;
  /** Not sent because maxInFlight requests were outstanding. */
  skipped: number;
  /** (sent − ok) / sent. */
  errorRate: number;
  achievedRps: number;
  /** Retry-After values seen on quota refusals (seconds). */
  retryAfter?: { min: number; max: number };
  firstOtherError?: string;
}

export interface QuotaBenchResult {
  /** The quota as the template configures it: requests per second per tenant, and the window in seconds. */
  quotaRps: number;
  windowSeconds: number;
  durationMs: number;
  tenantA: TenantLoad;
  tenantB: TenantLoad;
}

/** TENANT_RATE_LIMIT (and the window) of the template's API functions, read as the functions read them. */
export function quotaOf(cloud: LocalCloud): { quotaRps: number; windowSeconds: number } {
  const environments = Object.values(cloud.template.Resources)
    .filter((r) => r.Type === 'AWS::Lambda::Function')
    .map((r) => (r.Properties as { Environment?: { Variables?: Record<string, unknown> } })?.Environment?.Variables)
    .filter((vars): vars is Record<string, unknown> => vars !== undefined && 'TENANT_RATE_LIMIT' in vars);
  const configs = new Set(
    environments.map((vars) => JSON.stringify([vars.TENANT_RATE_LIMIT, vars.TENANT_QUOTA_WINDOW_SECONDS])),
  );
  if (configs.size !== 1) throw new Error(`expected one tenant quota across the API functions, found ${configs.size}`);
  const config = quotaConfigSchema.parse(environments[0]);
  return { quotaRps: config.TENANT_RATE_LIMIT, windowSeconds: config.TENANT_QUOTA_WINDOW_SECONDS };
}

export async function measureTenantQuota(
  cloud: LocalCloud,
  options: QuotaBenchOptions = {},
): Promise<QuotaBenchResult> {
  if (options.quotaRps === undefined) return measure(cloud, quotaOf(cloud), options);
  const configured = quotaOf(cloud);
  const functions = cloud.lambda.functions().filter((fn) => 'TENANT_RATE_LIMIT' in fn.environment);
  const saved = functions.map((fn) => fn.environment.TENANT_RATE_LIMIT!);
  for (const fn of functions) fn.environment.TENANT_RATE_LIMIT = String(options.quotaRps);
  await cloud.lambda.updateEnvironment({});
  try {
    return await measure(cloud, { ...configured, quotaRps: options.quotaRps }, options);
  } finally {
    functions.forEach((fn, i) => {
      fn.environment.TENANT_RATE_LIMIT = saved[i]!;
    });
    await cloud.lambda.updateEnvironment({});
  }
}

async function measure(
  cloud: LocalCloud,
  { quotaRps, windowSeconds }: { quotaRps: number; windowSeconds: number },
  options: QuotaBenchOptions,
): Promise<QuotaBenchResult> {
  const durationMs = options.durationMs ?? 12_000;
  const maxInFlight = options.maxInFlight ?? 64;
  const run = randomUUID().slice(0, 8);
  const tenants = [
    { tenantId: `bench-quota-a-${run}`, rps: quotaRps * (options.overload ?? 10) },
    { tenantId: `bench-quota-b-${run}`, rps: options.tenantBRps ?? quotaRps / 2 },
  ];
  const drivers = await Promise.all(
    tenants.map(async (t) => {
      const token = await cloud.token({ tenantId: t.tenantId, roles: ['readonly'], userId: 'bench-quota' });
      return new PacedTenant(cloud.apiUrl, token, t.tenantId, t.rps, maxInFlight);
    }),
  );
  const started = performance.now();
  await Promise.all(drivers.map((d) => d.run(started, durationMs)));
  const [tenantA, tenantB] = drivers.map((d) => d.result()) as [TenantLoad, TenantLoad];
  return { quotaRps, windowSeconds, durationMs, tenantA, tenantB };
}

/** Sends GET /v1/contacts?limit=1 for one tenant on a fixed schedule and tallies the answers. */
class PacedTenant {
  private readonly url: URL;
  private inFlight = 0;
  private sent = 0;
  private skipped = 0;
  private ok = 0;
  private quotaRefused = 0;
  private stageThrottled = 0;
  private otherErrors = 0;
  private firstOtherError?: string;
  private readonly retryAfter: number[] = [];
  private seconds = 0;

  constructor(
    apiUrl: string,
    private readonly token: string,
    private readonly tenantId: string,
    private readonly rps: number,
    private readonly maxInFlight: number,
  ) {
    this.url = new URL('/v1/contacts?limit=1', apiUrl);
    if (this.url.hostname !== '127.0.0.1') throw new Error(`refusing to send traffic to ${this.url.host}`);
  }

  async run(started: number, durationMs: number): Promise<void> {
    const pending = new Set<Promise<void>>();
    let scheduled = 0;
    for (;;) {
      const elapsed = performance.now() - started;
      if (elapsed >= durationMs) break;
      const due = Math.floor((elapsed / 1000) * this.rps);
      for (; scheduled < due; scheduled++) {
        if (this.inFlight >= this.maxInFlight) {
          this.skipped++;
          continue;
        }
        const request = this.send().finally(() => pending.delete(request));
        pending.add(request);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await Promise.all(pending);
    this.seconds = (performance.now() - started) / 1000;
  }

  private async send(): Promise<void> {
    this.inFlight++;
    this.sent++;
    try {
      const response = await fetch(this.url, { headers: { authorization: `Bearer ${this.token}` } });
      const text = await response.text();
      if (response.status === 200) this.ok++;
      else if (response.status === 429 && text.includes('"request.quota_exceeded"')) {
        this.quotaRefused++;
        const retryAfter = Number(response.headers.get('retry-after'));
        if (Number.isFinite(retryAfter)) this.retryAfter.push(retryAfter);
      } else if (response.status === 429) this.stageThrottled++;
      else this.other(`${response.status} ${text.slice(0, 200)}`);
    } catch (error) {
      this.other(error instanceof Error ? error.message : String(error));
    } finally {
      this.inFlight--;
    }
  }

  private other(description: string): void {
    this.otherErrors++;
    this.firstOtherError ??= description;
  }

  result(): TenantLoad {
    return {
      tenantId: this.tenantId,
      offeredRps: round(this.rps, 1),
      sent: this.sent,
      ok: this.ok,
      quotaRefused: this.quotaRefused,
      stageThrottled: this.stageThrottled,
      otherErrors: this.otherErrors,
      skipped: this.skipped,
      errorRate: this.sent === 0 ? 0 : round((this.sent - this.ok) / this.sent, 4),
      achievedRps: round(this.sent / Math.max(this.seconds, 0.001), 1),
      ...(this.retryAfter.length > 0
        ? { retryAfter: { min: Math.min(...this.retryAfter), max: Math.max(...this.retryAfter) } }
        : {}),
      ...(this.firstOtherError ? { firstOtherError: this.firstOtherError } : {}),
    };
  }
}
