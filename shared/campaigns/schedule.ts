import {
  applyOneTimeSchedule,
  atExpression,
  hashedScheduleName,
  type OneTimeScheduleTarget,
  type ScheduleOutcome,
  type WantedSchedule,
} from '../scheduling/one-time.ts';
import { instantOfWallTime, isValidTimeZone } from '../sla/business-time.ts';

/**
 * When a campaign is sent: a local date-time in an IANA time zone, turned into the UTC instant the one-time schedule
 * fires at. DST is resolved like Temporal's `disambiguation: 'compatible'` (shared/sla/business-time.ts): a local
 * time skipped by a spring-forward gap is moved forward by the gap's length (02:30 on the day Berlin jumps from
 * 02:00 to 03:00 is sent at 03:30 local) and reported as `adjusted`; a time that happens twice (fall back) is its
 * first occurrence (the earlier instant).
 */

export const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/** A schedule may be at most this far ahead (Scheduler's one-time schedules have no limit; this catches typos). */
export const MAX_SCHEDULE_AHEAD_MS = 366 * 86_400_000;

export interface ResolvedSchedule {
  /** The UTC instant, ISO 8601 with `Z`. */
  sendAt: string;
  /** The local wall time really used, `YYYY-MM-DDTHH:MM:SS` (differs from the asked one only when `adjusted`). */
  localTime: string;
  /** The asked time does not exist in the zone (a spring-forward gap): it was moved forward by the gap. */
  adjusted: boolean;
}

export type ScheduleProblem = { field: 'at' | 'timeZone'; message: string };

/** Milliseconds of a UTC date with the fields of `local`, or undefined when it is not a real calendar date-time. */
export function parseLocalDateTime(local: string): number | undefined {
  const m = LOCAL_DATE_TIME.exec(local);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map((v) => Number(v ?? 0)) as number[];
  if (month! < 1 || month! > 12 || day! < 1 || hour! > 23 || minute! > 59 || second! > 59) return undefined;
  const wall = Date.UTC(year!, month! - 1, day!, hour!, minute!, second!);
  // Date.UTC rolls 31 April over to 1 May: a date that does not round-trip does not exist.
  if (new Date(wall).getUTCDate() !== day) return undefined;
  return wall;
}

/** The zone's wall-clock time at `instant` as `YYYY-MM-DDTHH:MM:SS`. */
export function localTimeAt(instant: number, timeZone: string): string {
  const parts: Record<string, string> = {};
  const formatter = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  for (const part of formatter.formatToParts(instant)) parts[part.type] = part.value;
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
}

const withSeconds = (local: string) => (local.length === 16 ? `${local}:00` : local);

/**
 * The UTC instant of `at` in `timeZone`, or the problems with the input (a 400's field errors). `now` bounds the
 * result: it must not be in the past, nor more than MAX_SCHEDULE_AHEAD_MS ahead.
 */
export function resolveSchedule(
  at: string,
  timeZone: string,
  now = Date.now(),
): { ok: true; value: ResolvedSchedule } | { ok: false; problems: ScheduleProblem[] } {
  const problems: ScheduleProblem[] = [];
  const wall = parseLocalDateTime(at);
  if (wall === undefined) {
    problems.push({ field: 'at', message: 'Use a local date-time without offset, e.g. "2026-03-29T09:00".' });
  }
  if (!isValidTimeZone(timeZone)) {
    problems.push({ field: 'timeZone', message: 'Use an IANA time zone name, e.g. "Europe/Berlin".' });
  }
  if (wall === undefined || problems.length > 0) return { ok: false, problems };
  const instant = instantOfWallTime(wall, timeZone);
  if (instant < now - 1000) {
    return {
      ok: false,
      problems: [{ field: 'at', message: 'This time has passed; use { "now": true } to send now.' }],
    };
  }
  if (instant > now + MAX_SCHEDULE_AHEAD_MS) {
    return { ok: false, problems: [{ field: 'at', message: 'A campaign can be scheduled at most a year ahead.' }] };
  }
  const localTime = localTimeAt(instant, timeZone);
  return {
    ok: true,
    value: { sendAt: new Date(instant).toISOString(), localTime, adjusted: localTime !== withSeconds(at) },
  };
}

// ---- the one-time schedule of a campaign's run ----------------------------------------------------------------

/**
 * Every campaign run starts from ONE one-time EventBridge Scheduler schedule (name: a hash of tenant and campaign,
 * so every consumer of every change agrees on it) whose target is the send state machine, with input
 * `{ tenantId, campaignId, run }`: at `sendAt` for a scheduled campaign, now for a resumed one whose new run has not
 * started. Anything else (draft, started, paused, cancelled, sent, deleted) has no schedule. The consumer of the
 * campaign's change events reads the campaign as it is now, so retried and reordered events converge; a schedule
 * that fires late or twice starts an execution that finds the run not its own and stops.
 */
export interface CampaignScheduleState {
  tenantId: string;
  campaignId: string;
  status: string;
  run?: number | undefined;
  sendAt?: string | undefined;
  executionRun?: number | undefined;
  deletedAt?: string | undefined;
}

export const campaignScheduleName = (tenantId: string, campaignId: string) =>
  hashedScheduleName('campaign-send', tenantId, campaignId);

export function wantedCampaignSchedule(
  campaign: CampaignScheduleState | undefined,
  now = Date.now(),
): WantedSchedule | undefined {
  if (!campaign || campaign.deletedAt || campaign.run === undefined) return undefined;
  const scheduled = campaign.status === 'scheduled';
  const resumed = campaign.status === 'sending' && (campaign.executionRun ?? 0) < campaign.run;
  if (!scheduled && !resumed) return undefined;
  const at = Math.max(Date.parse(campaign.sendAt ?? '') || now, now);
  return {
    name: campaignScheduleName(campaign.tenantId, campaign.campaignId),
    expression: atExpression(at),
    description: `Campaign ${campaign.campaignId}: run ${campaign.run}`,
    input: { tenantId: campaign.tenantId, campaignId: campaign.campaignId, run: campaign.run },
  };
}

/** Makes the campaign's schedule match what it wants now (reading it again once after a change, as reminders do). */
export async function syncCampaignSchedule(
  target: OneTimeScheduleTarget,
  read: (tenantId: string, campaignId: string) => Promise<CampaignScheduleState | undefined>,
  tenantId: string,
  campaignId: string,
): Promise<ScheduleOutcome> {
  const name = campaignScheduleName(tenantId, campaignId);
  const outcome = await applyOneTimeSchedule(target, name, wantedCampaignSchedule(await read(tenantId, campaignId)));
  if (outcome === 'unchanged' || outcome === 'absent') return outcome;
  // A change that landed while we wrote the schedule: its own event will come too, but converge now.
  await applyOneTimeSchedule(target, name, wantedCampaignSchedule(await read(tenantId, campaignId)));
  return outcome;
}
