import { describe, expect, it } from 'vitest';
import { type Clock, isThrottle, sendLanesFor, TokenBucket, withThrottleRetry } from './rate.ts';

/** Virtual time: sleeping advances the clock at once, so rates are measured exactly and instantly. */
function fakeClock(): Clock & { t: number; sleeps: number[] } {
  const clock = {
    t: 0,
    sleeps: [] as number[],
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.sleeps.push(ms);
      clock.t += ms;
    },
  };
  return clock;
}

const throttle = () => Object.assign(new Error('Maximum sending rate exceeded.'), { name: 'TooManyRequestsException' });

describe('token bucket', () => {
  it('hands out tokens evenly at the rate, never more in any second', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(14, clock);
    const times: number[] = [];
    for (let i = 0; i < 14 * 5; i++) {
      await bucket.take();
      times.push(clock.t);
    }
    // The first at once, then one every 1/14 s: the 70th at about 69/14 s (sleeps round up to whole ms).
    expect(times[0]).toBe(0);
    expect(times.at(-1)).toBeGreaterThanOrEqual(Math.floor((69 / 14) * 1000));
    expect(times.at(-1)).toBeLessThanOrEqual(Math.ceil((69 / 14) * 1000) + 69);
    // No window of one second ever holds more than the rate.
    for (let i = 0; i < times.length; i++) {
      const inWindow = times.filter((t) => t > times[i]! - 1000 && t <= times[i]!).length;
      expect(inWindow).toBeLessThanOrEqual(14);
    }
  });

  it('serves concurrent takers in order without exceeding the rate', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(10, clock);
    const order: number[] = [];
    await Promise.all(Array.from({ length: 30 }, (_, i) => bucket.take().then(() => order.push(i))));
    expect(order).toEqual([...Array(30).keys()]);
    expect(clock.t).toBeGreaterThanOrEqual(2900);
  });

  it('with a burst, catches up a stall only that much, and stays within rate + burst in any second', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(20, clock, 0.25); // up to 5 tokens
    const times: number[] = [];
    const take = async () => {
      await bucket.take();
      times.push(clock.t);
    };
    await take(); // starts with one token: no burst at the start
    await take();
    expect(times).toEqual([0, 50]);
    await clock.sleep(1_000); // the sender stalled for a second
    for (let i = 0; i < 8; i++) await take();
    // Five at once (the bucket's capacity), then evenly spaced again.
    expect(times.slice(2, 7)).toEqual([1050, 1050, 1050, 1050, 1050]);
    expect(times[7]).toBeGreaterThanOrEqual(1100);
    expect(times[9]! - times[8]!).toBeGreaterThanOrEqual(49);
    for (let i = 0; i < 40; i++) await take();
    for (let i = 0; i < times.length; i++) {
      const inWindow = times.filter((t) => t > times[i]! - 1000 && t <= times[i]!).length;
      expect(inWindow).toBeLessThanOrEqual(20 + 5);
    }
  });

  it('takes back a token given back, so the next taker needs no wait for it', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(10, clock);
    await bucket.take();
    bucket.giveBack();
    await bucket.take();
    expect(clock.t).toBe(0);
    await bucket.take();
    expect(clock.t).toBe(100);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new TokenBucket(0)).toThrow();
  });
});

describe('throttle retries', () => {
  it('recognises SES and SDK throttling answers only', () => {
    expect(isThrottle(throttle())).toBe(true);
    expect(isThrottle(Object.assign(new Error('x'), { name: 'ThrottlingException' }))).toBe(true);
    expect(isThrottle({ name: 'Other', $metadata: { httpStatusCode: 429 } })).toBe(true);
    expect(isThrottle(Object.assign(new Error('bad address'), { name: 'BadRequestException' }))).toBe(false);
    expect(isThrottle(undefined)).toBe(false);
  });

  it('retries throttles with exponential backoff and jitter, then succeeds', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1000, clock);
    let calls = 0;
    const result = await withThrottleRetry(
      async () => {
        calls++;
        if (calls <= 3) throw throttle();
        return 'sent';
      },
      bucket,
      { attempts: 5, baseMs: 100, maxMs: 1000, random: () => 0.5 },
      clock,
    );
    expect(result).toBe('sent');
    expect(calls).toBe(4);
    // Half of 100, 200, 400 (random 0.5 of each ceiling).
    expect(clock.sleeps.filter((ms) => ms >= 50)).toEqual([50, 100, 200]);
  });

  it('with the first token in hand, takes tokens for the retries only', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(10, clock);
    await bucket.take();
    let calls = 0;
    const result = await withThrottleRetry(
      async () => {
        calls++;
        if (calls === 1) throw throttle();
        return clock.t;
      },
      bucket,
      { attempts: 3, baseMs: 1, maxMs: 1, random: () => 0 },
      clock,
      true,
    );
    // The first call spent the caller's token at once; the retry waited for the next one (1/10 s later).
    expect(calls).toBe(2);
    expect(result).toBe(100);
  });

  it('gives up after the attempts and never retries other errors', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1000, clock);
    let calls = 0;
    await expect(
      withThrottleRetry(
        async () => {
          calls++;
          throw throttle();
        },
        bucket,
        { attempts: 3, baseMs: 10, maxMs: 100 },
        clock,
      ),
    ).rejects.toThrow('Maximum sending rate');
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      withThrottleRetry(
        async () => {
          calls++;
          throw new Error('rejected');
        },
        bucket,
        undefined,
        clock,
      ),
    ).rejects.toThrow('rejected');
    expect(calls).toBe(1);
  });
});

describe('send lanes', () => {
  it('keeps enough sends in flight for the rate, within 8 to 64', () => {
    expect(sendLanesFor(1)).toBe(8);
    expect(sendLanesFor(14)).toBe(14);
    expect(sendLanesFor(40)).toBe(40);
    expect(sendLanesFor(63.5)).toBe(64);
    expect(sendLanesFor(500)).toBe(64);
  });
});
