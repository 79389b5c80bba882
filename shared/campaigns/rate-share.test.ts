import { beforeAll, describe, expect, it } from 'vitest';
import { useFreshTable } from '../../test/support/table.ts';
import { type Clock, TokenBucket } from './rate.ts';

let RateShare: typeof import('./rate-share.ts').RateShare;
let SHARE_LAPSE_MS: number;
let model: typeof import('../db/store.ts').model;

beforeAll(async () => {
  await useFreshTable();
  ({ RateShare, SHARE_LAPSE_MS } = await import('./rate-share.ts'));
  ({ model } = await import('../db/store.ts'));
});

/** A clock the test moves by hand. */
const handClock = (): Clock & { t: number } => {
  const clock = {
    t: Date.now(),
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.t += ms;
    },
  };
  return clock;
};

describe('the account’s SES rate, shared by the campaigns sending at once', () => {
  it('gives each live sender an equal share, and a leaver’s share back to the others', async () => {
    const clock = handClock();
    const pool = `pool-${Date.now()}-a`;
    const first = new TokenBucket(30, clock);
    const a = await RateShare.join(30, first, { pool, clock, owner: { tenantId: 't1', campaignId: 'c1' } });
    expect(first.ratePerSecond).toBe(30);

    const second = new TokenBucket(30, clock);
    const b = await RateShare.join(30, second, { pool, clock });
    expect(second.ratePerSecond).toBe(15);
    expect(await a.renew()).toBe(2);
    expect(first.ratePerSecond).toBe(15);
    const third = new TokenBucket(30, clock);
    const c = await RateShare.join(30, third, { pool, clock });
    expect(await a.renew()).toBe(3);
    expect([first, second, third].map((bucket) => bucket.ratePerSecond)).toEqual([10, 15, 10]);

    await c.leave();
    await b.leave();
    expect(await a.renew()).toBe(1);
    expect(first.ratePerSecond).toBe(30);
    const { data } = await model.entities.sendRateShare.query.bySender({ pool }).go();
    expect(data).toEqual([expect.objectContaining({ tenantId: 't1', campaignId: 'c1' })]);
    await a.leave();
  });

  it('stops counting a sender that crashed (never renewed, never left) once its entry lapses', async () => {
    const clock = handClock();
    const pool = `pool-${Date.now()}-b`;
    // What a sender that died mid-send leaves: its last entry, never renewed again.
    const lastRenewal = clock.t;
    await model.entities.sendRateShare
      .put({ pool, senderId: 'crashed', until: lastRenewal + SHARE_LAPSE_MS, expiresAt: 0 })
      .go();
    const bucket = new TokenBucket(20, clock);
    const alive = await RateShare.join(20, bucket, { pool, clock });
    expect(bucket.ratePerSecond).toBe(10);
    clock.t += SHARE_LAPSE_MS - 1;
    expect(await alive.renew()).toBe(2);
    clock.t += 2;
    expect(await alive.renew()).toBe(1);
    expect(bucket.ratePerSecond).toBe(20);
    await alive.leave();
  });
});

describe('token bucket rate changes', () => {
  it('hands out tokens at the new rate from the change on', async () => {
    const clock = handClock();
    const start = clock.t;
    const bucket = new TokenBucket(10, clock);
    await bucket.take(); // the first token at once
    await bucket.take(); // 1/10 s later
    expect(clock.t - start).toBe(100);
    bucket.setRate(2);
    await bucket.take(); // 1/2 s later
    expect(clock.t - start).toBe(600);
    expect(() => bucket.setRate(0)).toThrow();
  });
});
