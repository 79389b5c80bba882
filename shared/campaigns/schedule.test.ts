import { ResourceNotFoundException } from '@aws-sdk/client-scheduler';
import { describe, expect, it } from 'vitest';
import {
  campaignScheduleName,
  localTimeAt,
  parseLocalDateTime,
  resolveSchedule,
  syncCampaignSchedule,
  wantedCampaignSchedule,
} from './schedule.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const resolved = (at: string, timeZone: string) => {
  const result = resolveSchedule(at, timeZone, NOW);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.value;
};

describe('campaign schedule time', () => {
  it('turns an ordinary local time into its UTC instant (winter and summer offsets)', () => {
    expect(resolved('2026-02-10T09:00', 'Europe/Berlin')).toEqual({
      sendAt: '2026-02-10T08:00:00.000Z',
      localTime: '2026-02-10T09:00:00',
      adjusted: false,
    });
    expect(resolved('2026-07-10T09:00:30', 'Europe/Berlin').sendAt).toBe('2026-07-10T07:00:30.000Z');
    expect(resolved('2026-07-10T09:00', 'America/New_York').sendAt).toBe('2026-07-10T13:00:00.000Z');
    expect(resolved('2026-07-10T09:00', 'UTC').sendAt).toBe('2026-07-10T09:00:00.000Z');
  });

  it('moves a time skipped by spring forward past the gap, and says so', () => {
    // Berlin: 2026-03-29 02:00 CET jumps to 03:00 CEST. 02:30 does not exist: sent at 03:30 CEST = 01:30 UTC.
    expect(resolved('2026-03-29T02:30', 'Europe/Berlin')).toEqual({
      sendAt: '2026-03-29T01:30:00.000Z',
      localTime: '2026-03-29T03:30:00',
      adjusted: true,
    });
    // New York: 2026-03-08 02:00 EST jumps to 03:00 EDT.
    expect(resolved('2026-03-08T02:15', 'America/New_York')).toMatchObject({
      sendAt: '2026-03-08T07:15:00.000Z',
      localTime: '2026-03-08T03:15:00',
      adjusted: true,
    });
    // The minutes around the gap are untouched.
    expect(resolved('2026-03-29T01:59', 'Europe/Berlin')).toMatchObject({ sendAt: '2026-03-29T00:59:00.000Z' });
    expect(resolved('2026-03-29T03:00', 'Europe/Berlin')).toMatchObject({ sendAt: '2026-03-29T01:00:00.000Z' });
  });

  it('takes the first occurrence of a time repeated by fall back', () => {
    // Berlin: 2026-10-25 03:00 CEST falls back to 02:00 CET; 02:30 happens at 00:30 UTC and again at 01:30 UTC.
    expect(resolved('2026-10-25T02:30', 'Europe/Berlin')).toEqual({
      sendAt: '2026-10-25T00:30:00.000Z',
      localTime: '2026-10-25T02:30:00',
      adjusted: false,
    });
    expect(resolved('2026-11-01T01:30', 'America/New_York').sendAt).toBe('2026-11-01T05:30:00.000Z');
  });

  it('handles half-hour zones and zones south of the equator', () => {
    expect(resolved('2026-05-01T12:00', 'Asia/Kolkata').sendAt).toBe('2026-05-01T06:30:00.000Z');
    // Sydney leaves DST on 2026-04-05 (03:00 AEDT -> 02:00 AEST): 02:30 is repeated, the first is AEDT (+11).
    expect(resolved('2026-04-05T02:30', 'Australia/Sydney').sendAt).toBe('2026-04-04T15:30:00.000Z');
  });

  it('refuses malformed dates, unknown zones, the past and more than a year ahead', () => {
    const problems = (at: string, tz: string) => {
      const r = resolveSchedule(at, tz, NOW);
      return r.ok ? [] : r.problems.map((p) => p.field);
    };
    expect(problems('2026-02-30T09:00', 'Europe/Berlin')).toEqual(['at']);
    expect(problems('2026-02-10T09:00Z', 'Europe/Berlin')).toEqual(['at']);
    expect(problems('2026-02-10T24:00', 'Europe/Berlin')).toEqual(['at']);
    expect(problems('2026-02-10T09:00', 'Mars/Olympus')).toEqual(['timeZone']);
    expect(problems('nonsense', 'nowhere')).toEqual(['at', 'timeZone']);
    expect(problems('2025-12-31T23:00', 'UTC')).toEqual(['at']);
    expect(problems('2027-06-01T00:00', 'UTC')).toEqual(['at']);
  });

  it('parses and formats local times', () => {
    expect(parseLocalDateTime('2028-02-29T00:00')).toBe(Date.UTC(2028, 1, 29));
    expect(parseLocalDateTime('2027-02-29T00:00')).toBeUndefined();
    expect(localTimeAt(Date.parse('2026-07-10T07:00:00Z'), 'Europe/Berlin')).toBe('2026-07-10T09:00:00');
  });
});

describe('the campaign run schedule', () => {
  const NOW_MS = Date.parse('2026-05-01T10:00:00.000Z');
  const base = { tenantId: 't1', campaignId: 'c1', run: 2 };

  it('wants one schedule at the send time for a scheduled campaign, now for a resumed run not yet started', () => {
    const scheduled = wantedCampaignSchedule(
      { ...base, status: 'scheduled', sendAt: '2026-05-02T08:00:00.000Z' },
      NOW_MS,
    );
    expect(scheduled).toEqual({
      name: campaignScheduleName('t1', 'c1'),
      expression: 'at(2026-05-02T08:00:00)',
      description: 'Campaign c1: run 2',
      input: { tenantId: 't1', campaignId: 'c1', run: 2 },
    });
    // A send time that passed (a late event, "now"): as soon as possible, never in the past.
    expect(
      wantedCampaignSchedule({ ...base, status: 'scheduled', sendAt: '2026-05-01T09:00:00.000Z' }, NOW_MS)?.expression,
    ).toBe('at(2026-05-01T10:00:00)');
    expect(
      wantedCampaignSchedule(
        { ...base, status: 'sending', executionRun: 1, sendAt: '2026-05-01T10:00:00.000Z' },
        NOW_MS,
      )?.input,
    ).toEqual({ tenantId: 't1', campaignId: 'c1', run: 2 });
  });

  it('wants none once the run started, or for drafts, paused, cancelled, sent, failed and deleted campaigns', () => {
    const none = (changes: Record<string, unknown>) =>
      wantedCampaignSchedule({ ...base, status: 'scheduled', sendAt: '2026-05-02T08:00:00Z', ...changes }, NOW_MS);
    expect(none({ status: 'sending', executionRun: 2 })).toBeUndefined();
    for (const status of ['draft', 'paused', 'cancelled', 'sent', 'failed']) expect(none({ status })).toBeUndefined();
    expect(none({ deletedAt: '2026-05-01T00:00:00Z' })).toBeUndefined();
    expect(wantedCampaignSchedule(undefined)).toBeUndefined();
  });

  it('names the schedule from a hash of tenant and campaign, within Scheduler’s 64 characters', () => {
    const name = campaignScheduleName('tenant-with-a-long-name', 'c'.repeat(64));
    expect(name).toMatch(/^campaign-send-[0-9a-f]{40}$/);
    expect(campaignScheduleName('a', 'c1')).not.toBe(campaignScheduleName('a', 'c2'));
    expect(campaignScheduleName('a', 'c1')).not.toBe(campaignScheduleName('b', 'c1'));
  });

  it('keeps the schedule in step with the campaign as it is now (create, leave, delete)', async () => {
    const stored = new Map<string, { Name: string; ScheduleExpression: string; Target: { Input: string } }>();
    const scheduler = {
      send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
        const { Name } = command.input as { Name: string };
        const kind = command.constructor.name;
        const missing = () => new ResourceNotFoundException({ message: 'gone', Message: 'gone', $metadata: {} });
        if (kind === 'GetScheduleCommand') {
          if (!stored.has(Name)) throw missing();
          return stored.get(Name);
        }
        if (kind === 'DeleteScheduleCommand') {
          if (!stored.delete(Name)) throw missing();
          return {};
        }
        stored.set(Name, command.input as never);
        return {};
      },
    };
    const target = { scheduler: scheduler as never, groupName: 'g', targetArn: 'arn:sm', roleArn: 'arn:role' };
    let campaign: Record<string, unknown> | undefined = {
      ...base,
      status: 'scheduled',
      sendAt: new Date(Date.now() + 3_600_000).toISOString(),
    };
    const read = async () => campaign as never;
    expect(await syncCampaignSchedule(target, read, 't1', 'c1')).toBe('created');
    const made = stored.get(campaignScheduleName('t1', 'c1'))!;
    expect(JSON.parse(made.Target.Input)).toEqual({ tenantId: 't1', campaignId: 'c1', run: 2 });
    expect(made).toMatchObject({ ActionAfterCompletion: 'DELETE', ScheduleExpressionTimezone: 'UTC' });
    expect(await syncCampaignSchedule(target, read, 't1', 'c1')).toBe('unchanged');
    campaign = { ...campaign, status: 'cancelled' };
    expect(await syncCampaignSchedule(target, read, 't1', 'c1')).toBe('deleted');
    expect(stored.size).toBe(0);
    campaign = undefined;
    expect(await syncCampaignSchedule(target, read, 't1', 'c1')).toBe('absent');
  });
});
