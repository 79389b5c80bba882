/**
 * When a ticket's SLA targets fall due, from its policy, the policy's business calendar and the ticket's clock
 * (priority, opening time, and the intervals it waited on the customer, which do not count). Pure.
 */
import { addBusinessMillis, type BusinessCalendarRules, businessMillisBetween } from './business-time.ts';
import type { SlaPriority, SlaTargetsView } from './schema.ts';

export interface SlaPolicyRules {
  targets: SlaTargetsView;
  warnBeforeMinutes: number;
}

export interface SlaPause {
  from: Date | string;
  /** Absent or null: the ticket is still waiting on the customer. */
  to?: Date | string | null | undefined;
}

export interface SlaTicketClock {
  priority: SlaPriority;
  createdAt: Date | string;
  /** Spans in `pending` (waiting on the customer); may overlap or be unordered, and may start before `createdAt`. */
  pausedIntervals?: readonly SlaPause[] | undefined;
}

export interface SlaDueTimesView {
  firstResponseDueAt: string | null;
  firstResponseWarnAt: string | null;
  resolutionDueAt: string | null;
  resolutionWarnAt: string | null;
  /** The clock is stopped now: a target not reached before the open pause has no due time until it ends. */
  paused: boolean;
}

const ms = (value: Date | string) => (value instanceof Date ? value.getTime() : Date.parse(value));

/** The pauses after `start`, ordered and merged; an open pause ends at +Infinity. */
function mergedPauses(start: number, pauses: readonly SlaPause[]): Array<[number, number]> {
  const spans = pauses
    .map((p): [number, number] => [Math.max(ms(p.from), start), p.to == null ? Number.POSITIVE_INFINITY : ms(p.to)])
    .filter(([from, to]) => !Number.isNaN(from) && !Number.isNaN(to) && to > from)
    .sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const span of spans) {
    const last = merged.at(-1);
    if (last && span[0] <= last[1]) last[1] = Math.max(last[1], span[1]);
    else merged.push([...span]);
  }
  return merged;
}

/**
 * The instant at which `minutes` business minutes have run on the ticket's clock (business time outside the pauses),
 * or null when the clock stops for good (an open pause) before they have. Counts in whole milliseconds.
 */
export function clockDueAt(
  calendar: BusinessCalendarRules,
  start: number,
  pauses: ReadonlyArray<readonly [number, number]>,
  minutes: number,
): Date | null {
  let cursor = start;
  let remaining = Math.round(minutes * 60_000);
  for (const [from, to] of pauses) {
    if (to <= cursor) continue;
    if (from >= cursor) {
      const due = addBusinessMillis(calendar, cursor, remaining);
      if (due <= from) return new Date(due);
      remaining -= businessMillisBetween(calendar, cursor, from);
    }
    if (!Number.isFinite(to)) return null;
    cursor = to;
  }
  return new Date(addBusinessMillis(calendar, cursor, remaining));
}

/**
 * Due times of a ticket's first response and resolution, and when to warn (`warnBeforeMinutes` business minutes
 * before each; none when 0). Paused time counts for neither target. A target already reached before an open pause
 * keeps its due time (it is breached however long the pause lasts).
 */
export function slaDueTimes(
  policy: SlaPolicyRules,
  calendar: BusinessCalendarRules,
  ticket: SlaTicketClock,
): SlaDueTimesView {
  const start = ms(ticket.createdAt);
  if (Number.isNaN(start)) throw new RangeError('createdAt is not a valid instant.');
  const pauses = mergedPauses(start, ticket.pausedIntervals ?? []);
  const target = policy.targets[ticket.priority];
  const at = (minutes: number) => clockDueAt(calendar, start, pauses, minutes)?.toISOString() ?? null;
  const warn = (minutes: number) =>
    policy.warnBeforeMinutes > 0 ? at(Math.max(0, minutes - policy.warnBeforeMinutes)) : null;
  return {
    firstResponseDueAt: at(target.firstResponseMinutes),
    firstResponseWarnAt: warn(target.firstResponseMinutes),
    resolutionDueAt: at(target.resolutionMinutes),
    resolutionWarnAt: warn(target.resolutionMinutes),
    paused: pauses.some(([, to]) => !Number.isFinite(to)),
  };
}

export type SlaTargetState = 'achieved' | 'breached' | 'running' | 'warning' | 'paused';

/**
 * Where one target stands at `now`: achieved (met in time), breached (missed, whether or not met since), warning
 * (past its warn time), paused, or running. What the escalation workflow and reports record.
 */
export function slaTargetState(
  dueAt: string | null,
  warnAt: string | null,
  metAt: Date | string | null | undefined,
  now: Date,
): SlaTargetState {
  if (metAt != null) return dueAt !== null && ms(metAt) > Date.parse(dueAt) ? 'breached' : 'achieved';
  if (dueAt === null) return 'paused';
  if (now.getTime() > Date.parse(dueAt)) return 'breached';
  if (warnAt !== null && now.getTime() >= Date.parse(warnAt)) return 'warning';
  return 'running';
}
