import { performance } from 'node:perf_hooks';

export interface LoadResult {
  ops: number;
  errors: number;
  firstError?: string;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

export interface LoadOptions {
  concurrency: number;
  /** Stop after this many operations... */
  maxOps: number;
  /** ...or after this long, whichever comes first. */
  maxMs: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** What one bounded run produced; runs (e.g. interleaved slices) are merged by `summarize`. */
export interface LoadSample {
  latencies: number[];
  errors: number;
  firstError?: string;
  seconds: number;
}

/**
 * Runs `op` with a fixed number in flight until the count or the time is used up. Each worker takes the next
 * sequence number (`i`, from 0 in every run). An op that throws counts as an error, never as a latency sample.
 */
export async function runLoadSample(options: LoadOptions, op: (i: number) => Promise<unknown>): Promise<LoadSample> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + options.maxMs;
  const worker = async () => {
    while (next < options.maxOps && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      try {
        await op(i);
        latencies.push(performance.now() - t0);
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return { latencies, errors, ...(firstError ? { firstError } : {}), seconds: (performance.now() - started) / 1000 };
}

/** Throughput over the summed time of the runs, percentiles over all their latencies. */
export function summarize(samples: LoadSample[]): LoadResult {
  const latencies = samples.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const seconds = samples.reduce((sum, s) => sum + s.seconds, 0);
  const errors = samples.reduce((sum, s) => sum + s.errors, 0);
  const firstError = samples.find((s) => s.firstError)?.firstError;
  return {
    ops: latencies.length,
    errors,
    ...(firstError ? { firstError } : {}),
    seconds: round(seconds, 2),
    perSecond: round(latencies.length / seconds, 1),
    p50Ms: round(percentile(latencies, 50), 2),
    p99Ms: round(percentile(latencies, 99), 2),
    meanMs: round(latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length), 2),
  };
}

export async function runLoad(options: LoadOptions, op: (i: number) => Promise<unknown>): Promise<LoadResult> {
  return summarize([await runLoadSample(options, op)]);
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}
