/**
 * A ticket's SLA clock: the spans it waited on the customer (`pending`), which the SLA targets do not count, kept by
 * the tickets service on every status change, and the due times they lead to under a policy. Pure.
 *
 * Bounded: at most MAX_PAUSE_SPANS spans are kept. When a new one would pass that, the oldest are folded into
 * `folded`: how many there were, when the last of them ended, and the business time they covered on the policy's
 * calendar (what the clock did not count). Due times after `folded.until` are then exact: the clock needs that much
 * more business time from creation with only the kept spans as pauses. A due time before it lay in the past when the
 * spans were folded; it is kept as the SLA workflow last stored it.
 */
import { type BusinessCalendarRules, businessMillisBetween } from '../sla/business-time.ts';
import { type SlaDueTimesView, type SlaPolicyRules, slaDueTimes } from '../sla/due-times.ts';
import type { SlaPriority } from '../sla/schema.ts';

/** Spans kept one by one; older ones are folded into a total. */
export const MAX_PAUSE_SPANS = 50;

export interface PauseSpan {
  from: string;
  /** Absent: still waiting on the customer. */
  to?: string;
}

export interface SlaPauses {
  spans: PauseSpan[];
  folded?: { count: number; until: string; businessMillis: number };
}

/** The spans after a status change at `now`: entering `pending` opens one, leaving it closes the open one. */
export function pausesAfterStatus(
  pauses: SlaPauses | undefined,
  from: string | undefined,
  to: string,
  now: string,
): SlaPauses | undefined {
  if (from === to || (from !== 'pending' && to !== 'pending')) return pauses;
  const spans = [...(pauses?.spans ?? [])];
  if (to === 'pending') {
    if (!spans.some((s) => s.to === undefined)) spans.push({ from: now });
  } else {
    const open = spans.findIndex((s) => s.to === undefined);
    if (open >= 0) spans[open] = { from: spans[open]!.from, to: now };
  }
  return { ...(pauses?.folded ? { folded: pauses.folded } : {}), spans };
}

/** Whether the spans passed the bound (the service then folds them, with the calendar, before writing). */
export const needsFolding = (pauses: SlaPauses | undefined) => (pauses?.spans.length ?? 0) > MAX_PAUSE_SPANS;

/**
 * Folds the oldest closed spans so that MAX_PAUSE_SPANS remain, adding the business time they covered after
 * `createdAt` (overlaps counted once). Without a calendar (the ticket has no SLA policy yet), wall-clock time is
 * added: a 24x7 reading of them.
 */
export function foldPauses(
  pauses: SlaPauses,
  createdAt: string,
  calendar: BusinessCalendarRules | undefined,
): SlaPauses {
  const excess = pauses.spans.length - MAX_PAUSE_SPANS;
  if (excess <= 0) return pauses;
  const ordered = [...pauses.spans].sort((a, b) => Date.parse(a.from) - Date.parse(b.from));
  const old = ordered.slice(0, excess).filter((s) => s.to !== undefined);
  const kept = ordered.filter((s) => !old.includes(s));
  const start = Math.max(Date.parse(createdAt), Date.parse(pauses.folded?.until ?? createdAt));
  let cursor = start;
  let millis = 0;
  for (const span of old) {
    const from = Math.max(Date.parse(span.from), cursor);
    const to = Date.parse(span.to!);
    if (to <= from) continue;
    millis += calendar ? businessMillisBetween(calendar, from, to) : to - from;
    cursor = to;
  }
  const until = Math.max(cursor, Date.parse(pauses.folded?.until ?? createdAt));
  return {
    spans: kept,
    folded: {
      count: (pauses.folded?.count ?? 0) + old.length,
      until: new Date(until).toISOString(),
      businessMillis: (pauses.folded?.businessMillis ?? 0) + millis,
    },
  };
}

export interface TicketClock {
  priority: SlaPriority;
  createdAt: string;
  slaPauses?: SlaPauses | undefined;
}

type DueField = 'firstResponseDueAt' | 'firstResponseWarnAt' | 'resolutionDueAt' | 'resolutionWarnAt';
const DUE_FIELDS: DueField[] = ['firstResponseDueAt', 'firstResponseWarnAt', 'resolutionDueAt', 'resolutionWarnAt'];

/**
 * The ticket's due times under a policy: `slaDueTimes` with the kept spans, the folded business time added to each
 * target (see the module comment), and `previous` (what was stored) for a time that fell before the folded spans.
 */
export function ticketDueTimes(
  policy: SlaPolicyRules,
  calendar: BusinessCalendarRules,
  ticket: TicketClock,
  previous?: Partial<SlaDueTimesView>,
): SlaDueTimesView {
  const folded = ticket.slaPauses?.folded;
  const extraMinutes = (folded?.businessMillis ?? 0) / 60_000;
  const rules: SlaPolicyRules = extraMinutes
    ? {
        ...policy,
        targets: {
          ...policy.targets,
          [ticket.priority]: {
            firstResponseMinutes: policy.targets[ticket.priority].firstResponseMinutes + extraMinutes,
            resolutionMinutes: policy.targets[ticket.priority].resolutionMinutes + extraMinutes,
          },
        },
      }
    : policy;
  const due = slaDueTimes(rules, calendar, {
    priority: ticket.priority,
    createdAt: ticket.createdAt,
    pausedIntervals: ticket.slaPauses?.spans ?? [],
  });
  if (!folded) return due;
  const until = Date.parse(folded.until);
  for (const field of DUE_FIELDS) {
    const at = due[field];
    if (at !== null && Date.parse(at) < until && previous?.[field] != null) due[field] = previous[field]!;
  }
  return due;
}
