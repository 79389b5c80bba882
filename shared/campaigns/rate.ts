/**
 * Sending within the account's SES rate: a token bucket refilled at `ratePerSecond`. It starts with one token, so
 * sends start evenly spaced (1/rate apart); it may hold up to `burstSeconds` of the rate (at least one token), so a
 * sender that fell behind for a moment (every lane busy, a slow page) catches up that much instead of losing it for
 * good. SES allows short bursts over the rate ("you can exceed this quota for short bursts"); a one-second window
 * holds at most the rate plus the burst. Throttling answers are retried with exponential backoff and full jitter.
 * One bucket per sending invocation: the workflow runs one batch at a time, and campaigns sending at once share the
 * account's rate (shared/campaigns/rate-share.ts sets each bucket to its share).
 */

export interface Clock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class TokenBucket {
  private tokens: number;
  private last: number;
  private capacity: number;
  /** Takers queue here so tokens are handed out in order, one waiter at a time. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private rate: number,
    private readonly clock: Clock = realClock,
    private readonly burstSeconds = 0,
  ) {
    if (!(rate > 0)) throw new Error('rate must be positive');
    this.capacity = Math.max(1, rate * burstSeconds);
    this.tokens = 1;
    this.last = clock.now();
  }

  get ratePerSecond(): number {
    return this.rate;
  }

  /** Changes the rate from now on (a sender's share of the account's rate changed: shared/campaigns/rate-share.ts). */
  setRate(ratePerSecond: number): void {
    if (!(ratePerSecond > 0)) throw new Error('rate must be positive');
    this.refill();
    this.rate = ratePerSecond;
    this.capacity = Math.max(1, ratePerSecond * this.burstSeconds);
    this.tokens = Math.min(this.tokens, this.capacity);
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }

  /** Resolves once a token was taken (waiting as long as the rate requires). */
  take(): Promise<void> {
    const turn = this.queue.then(async () => {
      this.refill();
      while (this.tokens < 1) {
        await this.clock.sleep(Math.ceil(((1 - this.tokens) / this.rate) * 1000));
        this.refill();
      }
      this.tokens -= 1;
    });
    this.queue = turn;
    return turn;
  }

  /** Gives back a token taken for nothing (the address was already in the ledger: no send). */
  giveBack(): void {
    this.refill();
    this.tokens = Math.min(this.capacity, this.tokens + 1);
  }
}

/**
 * Sends in flight needed to keep `ratePerSecond`: a send (claim, SES, settle) takes well under a second on AWS and up
 * to about that on a busy local cloud, so one lane per message a second, at least 8 and at most 64 (one invocation's
 * sockets and memory).
 */
export function sendLanesFor(ratePerSecond: number): number {
  return Math.min(64, Math.max(8, Math.ceil(ratePerSecond)));
}

/** How far behind (seconds of the rate) a sender may catch up at once: see TokenBucket. */
export const SEND_BURST_SECONDS = 0.25;

/** SES v2's throttling answers (and the SDK's generic ones): retried, never counted as a failed recipient. */
export function isThrottle(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number }; message?: string } | undefined;
  if (!e) return false;
  if (e.name === 'TooManyRequestsException' || e.name === 'ThrottlingException' || e.name === 'Throttling') return true;
  if (e.name === 'LimitExceededException' && /rate/i.test(e.message ?? '')) return true;
  return e.$metadata?.httpStatusCode === 429;
}

export interface BackoffOptions {
  /** Attempts in all (the first one included). */
  attempts: number;
  baseMs: number;
  maxMs: number;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { attempts: 8, baseMs: 100, maxMs: 5_000 };

/**
 * Runs `fn`, retrying while it throws a throttle: waits a random time up to base·2^n (capped; "full jitter"), so
 * senders that were throttled together do not retry together. Other errors, and the last throttle, are thrown.
 * Each attempt takes a token, so retries stay within the rate too; `tokenInHand`: the caller took the first one.
 */
export async function withThrottleRetry<T>(
  fn: () => Promise<T>,
  bucket: TokenBucket,
  options: BackoffOptions = DEFAULT_BACKOFF,
  clock: Clock = realClock,
  tokenInHand = false,
): Promise<T> {
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    if (attempt > 1 || !tokenInHand) await bucket.take();
    try {
      return await fn();
    } catch (error) {
      if (!isThrottle(error) || attempt >= options.attempts) throw error;
      const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** (attempt - 1));
      await clock.sleep(Math.floor(random() * ceiling));
    }
  }
}
