import * as z from 'zod';
import { Audit, Id, PageQuery, Timestamp } from '../api/common-schemas.ts';
import { isValidTimeZone, WEEKDAYS } from './business-time.ts';

// ---- business calendars -------------------------------------------------------------------------------------------

export const MAX_INTERVALS_PER_DAY = 6;
export const MAX_HOLIDAYS = 200;

const WallTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'Use a 24-hour time "HH:MM", e.g. "09:00".');

export const HoursInterval = z
  .strictObject({
    start: WallTime.meta({ description: 'Opening time, local "HH:MM".' }),
    end: z
      .string()
      .regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'Use a 24-hour time "HH:MM" ("24:00" for the end of the day).')
      .meta({ description: 'Closing time, local "HH:MM"; "24:00" is the end of the day.' }),
  })
  .refine((i) => i.end > i.start, { message: 'The interval must end after it starts.', path: ['end'] })
  .meta({ id: 'HoursInterval' });

const DayHours = z
  .array(HoursInterval)
  .max(MAX_INTERVALS_PER_DAY)
  .superRefine((intervals, ctx) => {
    for (let i = 1; i < intervals.length; i++) {
      if (intervals[i]!.start < intervals[i - 1]!.end) {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'start'],
          message: 'Intervals must be in order and must not overlap.',
        });
      }
    }
  });

export const WeeklyHours = z
  .strictObject(
    Object.fromEntries(WEEKDAYS.map((day) => [day, DayHours.optional()])) as Record<
      (typeof WEEKDAYS)[number],
      z.ZodOptional<typeof DayHours>
    >,
  )
  .refine((week) => Object.values(week).some((day) => (day?.length ?? 0) > 0), {
    message: 'At least one day needs business hours.',
  })
  .transform((week) => Object.fromEntries(WEEKDAYS.map((day) => [day, week[day] ?? []])) as WeeklyHoursView)
  .meta({
    id: 'WeeklyHours',
    description:
      'Per weekday (mon … sun) the business intervals in local time, in order, e.g. mon: [{start:"09:00",end:"12:30"},' +
      '{start:"13:30",end:"18:00"}]. A day left out has none. A shift over midnight is two intervals (22:00-24:00 and ' +
      "the next day's 00:00-06:00).",
  });

export const Holiday = z
  .strictObject({
    date: z.iso.date().meta({ description: 'Local date YYYY-MM-DD.' }),
    recurring: z
      .boolean()
      .default(false)
      .meta({ description: 'Every year on this month and day (29 February: leap years only).' }),
    name: z.string().trim().min(1).max(100).optional(),
  })
  .meta({ id: 'Holiday' });

const Holidays = z
  .array(Holiday)
  .max(MAX_HOLIDAYS)
  .superRefine((holidays, ctx) => {
    const seen = new Set<string>();
    holidays.forEach((h, i) => {
      const key = h.recurring ? `*-${h.date.slice(5)}` : h.date;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [i, 'date'], message: 'Duplicate holiday.' });
      seen.add(key);
    });
  })
  .meta({ description: `Days without business hours (at most ${MAX_HOLIDAYS}).` });

/** An IANA zone name Intl knows, stored in its canonical spelling ("europe/berlin" → "Europe/Berlin"). */
export const TimeZone = z
  .string()
  .max(64)
  .refine(isValidTimeZone, 'Unknown time zone: use an IANA name such as "Europe/Berlin".')
  .transform((zone) => new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone)
  .meta({ description: 'IANA time zone, e.g. "Europe/Berlin".' });

const CalendarName = z.string().trim().min(1).max(100);

export const BusinessCalendarCreate = z
  .strictObject({
    name: CalendarName,
    timeZone: TimeZone,
    weeklyHours: WeeklyHours,
    holidays: Holidays.default([]),
  })
  .meta({ id: 'BusinessCalendarCreate' });

export const BusinessCalendarPatch = z
  .strictObject({
    name: CalendarName,
    timeZone: TimeZone,
    weeklyHours: WeeklyHours,
    holidays: Holidays,
  })
  .partial()
  .meta({ id: 'BusinessCalendarPatch', description: 'Each field given replaces the stored one as a whole.' });

export type WeeklyHoursView = Record<(typeof WEEKDAYS)[number], Array<{ start: string; end: string }>>;

export const BusinessCalendar = z
  .object({
    id: z.string(),
    name: z.string(),
    timeZone: z.string(),
    weeklyHours: z.object(
      Object.fromEntries(WEEKDAYS.map((day) => [day, z.array(z.object({ start: z.string(), end: z.string() }))])),
    ),
    holidays: z.array(z.object({ date: z.string(), recurring: z.boolean(), name: z.string().optional() })),
    ...Audit,
  })
  .meta({ id: 'BusinessCalendar' });

export type BusinessCalendarView = Omit<z.infer<typeof BusinessCalendar>, 'weeklyHours'> & {
  weeklyHours: WeeklyHoursView;
};
export type BusinessCalendarCreateInput = z.output<typeof BusinessCalendarCreate>;
export type BusinessCalendarPatchInput = z.output<typeof BusinessCalendarPatch>;

export const BusinessCalendarIdParams = z.object({ calendarId: Id });
export const BusinessCalendarListQuery = z.strictObject({ ...PageQuery }).meta({ id: 'BusinessCalendarListQuery' });

// ---- SLA policies -------------------------------------------------------------------------------------------------

export const SLA_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type SlaPriority = (typeof SLA_PRIORITIES)[number];

/** A year of minutes: longer targets are a mistake, and they bound the arithmetic's work. */
export const MAX_TARGET_MINUTES = 525_600;

const Minutes = z.number().int().min(1).max(MAX_TARGET_MINUTES);

export const SlaTarget = z
  .strictObject({
    firstResponseMinutes: Minutes.meta({ description: 'Business minutes until the first public reply is due.' }),
    resolutionMinutes: Minutes.meta({ description: 'Business minutes until the ticket must be solved.' }),
  })
  .refine((t) => t.firstResponseMinutes <= t.resolutionMinutes, {
    message: 'The first response cannot be due after the resolution.',
    path: ['firstResponseMinutes'],
  })
  .meta({ id: 'SlaTarget' });

export const SlaTargets = z
  .strictObject(Object.fromEntries(SLA_PRIORITIES.map((p) => [p, SlaTarget])) as Record<SlaPriority, typeof SlaTarget>)
  .meta({ id: 'SlaTargets', description: 'A target for each priority: low, normal, high and urgent.' });

export const SlaEscalation = z
  .strictObject({
    reassignToTeamId: Id.optional().meta({ description: 'On breach, move the ticket to this team (a live team).' }),
    raisePriority: z
      .boolean()
      .default(false)
      .meta({ description: 'On breach, raise the priority one step (urgent stays urgent).' }),
    notifyTeamLead: z
      .boolean()
      .default(false)
      .meta({ description: "On breach, mail the lead of the ticket's team (after any reassignment)." }),
  })
  .meta({ id: 'SlaEscalation', description: 'What happens when a target is breached.' });

const PolicyName = z.string().trim().min(1).max(100);
const WarnBefore = z
  .number()
  .int()
  .min(0)
  .max(MAX_TARGET_MINUTES)
  .meta({ description: 'Warn when this many business minutes are left before a target (0: no warning).' });

export const SlaPolicyCreate = z
  .strictObject({
    name: PolicyName,
    calendarId: Id.meta({ description: 'The business calendar the targets count on.' }),
    targets: SlaTargets,
    warnBeforeMinutes: WarnBefore.default(0),
    escalation: SlaEscalation.default({ raisePriority: false, notifyTeamLead: false }),
    isDefault: z
      .boolean()
      .optional()
      .meta({ description: "Make it the default policy (the organisation's first policy always is)." }),
  })
  .meta({ id: 'SlaPolicyCreate' });

export const SlaPolicyPatch = z
  .strictObject({
    name: PolicyName,
    calendarId: SlaPolicyCreate.shape.calendarId,
    targets: SlaTargets,
    warnBeforeMinutes: WarnBefore,
    escalation: SlaEscalation,
    isDefault: z.literal(true).meta({ description: 'Make it the default (the previous default stops being one).' }),
  })
  .partial()
  .meta({ id: 'SlaPolicyPatch', description: 'Each field given replaces the stored one as a whole.' });

const TargetView = z.object({ firstResponseMinutes: z.number().int(), resolutionMinutes: z.number().int() });

export const SlaPolicy = z
  .object({
    id: z.string(),
    name: z.string(),
    calendarId: z.string(),
    targets: z.object(Object.fromEntries(SLA_PRIORITIES.map((p) => [p, TargetView]))),
    warnBeforeMinutes: z.number().int(),
    escalation: z.object({
      reassignToTeamId: z.string().optional(),
      raisePriority: z.boolean(),
      notifyTeamLead: z.boolean(),
    }),
    isDefault: z.boolean().meta({ description: 'Tickets that name no policy get this one.' }),
    ...Audit,
  })
  .meta({ id: 'SlaPolicy' });

export type SlaTargetsView = Record<SlaPriority, { firstResponseMinutes: number; resolutionMinutes: number }>;
export type SlaPolicyView = Omit<z.infer<typeof SlaPolicy>, 'targets'> & { targets: SlaTargetsView };
export type SlaPolicyCreateInput = z.output<typeof SlaPolicyCreate>;
export type SlaPolicyPatchInput = z.output<typeof SlaPolicyPatch>;

export const SlaPolicyIdParams = z.object({ policyId: Id });
export const SlaPolicyListQuery = z.strictObject({ ...PageQuery }).meta({ id: 'SlaPolicyListQuery' });

/** At most this many pauses in a preview (a ticket's own history is not limited by this). */
export const MAX_PREVIEW_PAUSES = 20;

/** Instants the SLA arithmetic accepts (a ticket's times are always recent; this keeps the work bounded). */
const inSlaRange = (iso: string) => {
  const t = Date.parse(iso);
  return t >= Date.UTC(1970, 0, 1) && t < Date.UTC(9000, 0, 1);
};
const SlaInstant = Timestamp.refine(inSlaRange, 'Use a date-time between 1970 and 9000.');

const PauseInterval = z
  .string()
  .max(80)
  .transform((value, ctx) => {
    const [from, to, ...rest] = value.split('/');
    const instant = z.iso.datetime({ offset: true });
    const bad = (v: string | undefined) => !instant.safeParse(v).success || !inSlaRange(v!);
    if (rest.length > 0 || bad(from) || (to !== '' && bad(to))) {
      ctx.addIssue({ code: 'custom', message: 'Use "<from>/<to>" with ISO 8601 date-times ("<from>/" while paused).' });
      return z.NEVER;
    }
    if (to && Date.parse(to) < Date.parse(from!)) {
      ctx.addIssue({ code: 'custom', message: 'A pause must end after it starts.' });
      return z.NEVER;
    }
    return { from: new Date(from!).toISOString(), ...(to ? { to: new Date(to).toISOString() } : {}) };
  });

export const SlaDueTimesQuery = z
  .strictObject({
    priority: z.enum(SLA_PRIORITIES),
    createdAt: SlaInstant.meta({ description: 'When the ticket was opened (its SLA clock starts).' }),
    paused: z
      .string()
      .max(2000)
      .optional()
      .transform((value, ctx) => {
        if (value === undefined || value === '') return [];
        const parts = value.split(',');
        if (parts.length > MAX_PREVIEW_PAUSES) {
          ctx.addIssue({ code: 'custom', message: `At most ${MAX_PREVIEW_PAUSES} pauses.` });
          return z.NEVER;
        }
        const parsed = parts.map((part) => PauseInterval.safeParse(part));
        const failed = parsed.findIndex((p) => !p.success);
        if (failed >= 0) {
          ctx.addIssue({
            code: 'custom',
            message: `Pause ${failed + 1}: ${parsed[failed]!.error!.issues[0]!.message}`,
          });
          return z.NEVER;
        }
        return parsed.map((p) => p.data!);
      })
      .meta({
        description:
          'Time the ticket waited on the customer (pending), which does not count: comma-separated ISO 8601 ' +
          'intervals "<from>/<to>"; the last may be open ("<from>/") while the ticket still waits.',
      }),
  })
  .meta({ id: 'SlaDueTimesQuery' });

export const SlaDueTimes = z
  .object({
    firstResponseDueAt: Timestamp.nullable().meta({ description: 'null while paused before the target is reached.' }),
    firstResponseWarnAt: Timestamp.nullable().meta({ description: 'null without a warning, or while paused.' }),
    resolutionDueAt: Timestamp.nullable(),
    resolutionWarnAt: Timestamp.nullable(),
    paused: z.boolean().meta({ description: 'The clock is stopped (the ticket waits on the customer).' }),
  })
  .meta({ id: 'SlaDueTimes' });

// ---- outcomes (reporting) -----------------------------------------------------------------------------------------

export const SlaOutcome = z
  .object({
    ticketId: z.string(),
    target: z.enum(['firstResponse', 'resolution']),
    outcome: z.enum(['achieved', 'breached']),
    decidedAt: Timestamp.meta({ description: 'When the target was met (achieved) or fell due unmet (breached).' }),
    dueAt: Timestamp,
    metAt: Timestamp.optional().meta({ description: 'When it was met, if it was (a breach may be met late).' }),
    policyId: z.string(),
    priority: z.enum(SLA_PRIORITIES),
    teamId: z.string().optional(),
    assigneeId: z.string().optional(),
  })
  .meta({ id: 'SlaOutcome' });
export type SlaOutcomeView = z.infer<typeof SlaOutcome>;

export const SlaOutcomeListQuery = z
  .strictObject({
    month: z
      .string()
      .regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'Use a month "YYYY-MM".')
      .meta({ description: 'The month (UTC) the outcomes were decided in, "YYYY-MM".' }),
    ...PageQuery,
  })
  .meta({ id: 'SlaOutcomeListQuery' });
