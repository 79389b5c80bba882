import { describe, expect, it } from 'vitest';
import {
  busiestSecond,
  countOutbox,
  expectedAudience,
  ratesAroundKill,
  seedAddress,
  seedKind,
  sendRate,
} from './campaign.ts';

const line = (to: string, time: string, campaignId = 'c1') =>
  JSON.stringify({ messageId: `m-${to}-${time}`, time, to: [to], tags: { campaignId, tenantId: 'demo' } });

describe('the seeded audience', () => {
  it('has ~1% each withdrawn, unsubscribed, suppressed and a few shared addresses', () => {
    const kinds = Array.from({ length: 10_000 }, (_, i) => seedKind(i));
    const count = (k: string) => kinds.filter((x) => x === k).length;
    expect([count('withdrawn'), count('unsubscribed'), count('suppressed'), count('shared')]).toEqual([
      100, 100, 100, 10,
    ]);
    // A shared address is the address of the ordinary recipient before it.
    expect(seedKind(998)).toBe('ok');
    expect(seedAddress(999)).toBe(seedAddress(998));
  });

  it('expects every ordinary recipient mailed once and forbids the others', () => {
    const e = expectedAudience(2_000);
    expect(e).toMatchObject({ sendable: 2_000 - 60 - 2, skipped: 60 });
    expect(e.forbidden.size).toBe(60);
    expect(e.forbidden.has(seedAddress(11))).toBe(true);
    expect(e.forbidden.has(seedAddress(0))).toBe(false);
  });
});

describe('busiestSecond', () => {
  it('finds the most sends in any one-second window', () => {
    expect(busiestSecond([])).toBe(0);
    expect(busiestSecond([0, 100, 999, 1000, 1500, 1600, 1700, 1999])).toBe(5);
    expect(busiestSecond([0, 1000, 2000])).toBe(1);
  });
});

describe('countOutbox', () => {
  it("counts this campaign's lines, duplicates beyond the first and forbidden addresses, ignoring torn lines", () => {
    const text = [
      line('A@x.com', '2026-01-01T00:00:02.000Z'),
      line('a@x.com', '2026-01-01T00:00:01.000Z'),
      line('a@x.com', '2026-01-01T00:00:03.000Z'),
      line('b@x.com', '2026-01-01T00:00:04.000Z'),
      line('bad@x.com', '2026-01-01T00:00:05.000Z'),
      line('a@x.com', '2026-01-01T00:00:06.000Z', 'other'),
      '{"messageId":"torn',
      '',
    ].join('\n');
    const c = countOutbox(text, 'c1', new Set(['bad@x.com']));
    expect(c).toMatchObject({ lines: 5, addresses: 3, duplicates: 2, forbiddenMailed: 1 });
    expect(c.times).toEqual([1, 2, 3, 4, 5].map((s) => Date.parse(`2026-01-01T00:00:0${s}.000Z`)));
  });
});

describe('send rates', () => {
  it('is sends after the first over the span', () => {
    // 101 sends, 10 ms apart: 100 per second, exactly the configured rate.
    const times = Array.from({ length: 101 }, (_, i) => i * 10);
    expect(sendRate(times, 100)).toEqual({ sends: 101, seconds: 1, perSecond: 100, ofConfigured: 1 });
    expect(sendRate([5], 100)).toMatchObject({ sends: 1, perSecond: 0, ofConfigured: 0 });
  });

  it('leaves the downtime around the kill out of the whole run', () => {
    // 51 sends at 50/s over 1 s, killed at 1.5 s, 61 sends at 60/s over 1 s from 11 s.
    const before = Array.from({ length: 51 }, (_, i) => i * 20);
    const after = Array.from({ length: 61 }, (_, i) => 11_000 + Math.round((i * 1000) / 60));
    const r = ratesAroundKill([...before, ...after], 1_500, 100);
    expect(r.before).toMatchObject({ sends: 51, perSecond: 50, ofConfigured: 0.5 });
    expect(r.after).toMatchObject({ sends: 61, perSecond: 60, ofConfigured: 0.6 });
    expect(r.downtimeSeconds).toBe(10);
    expect(r.overall).toMatchObject({ sends: 112, seconds: 2, perSecond: 55, ofConfigured: 0.55 });
  });
});
