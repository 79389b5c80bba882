import * as z from 'zod';
import { Audit, Id, PageQuery, Timestamp } from '../api/common-schemas.ts';

export const ACTIVITY_TYPES = ['call', 'meeting', 'email', 'task'] as const;
export type ActivityType = (typeof ACTIVITY_TYPES)[number];
export const LINK_TYPES = ['contact', 'company', 'deal', 'lead'] as const;
export type LinkType = (typeof LINK_TYPES)[number];

export const CALL_OUTCOMES = ['connected', 'no_answer', 'left_voicemail', 'busy', 'wrong_number'] as const;
export const MEETING_STATUSES = ['scheduled', 'held', 'cancelled'] as const;
export const TASK_STATUSES = ['open', 'completed', 'cancelled'] as const;
export const TASK_PRIORITIES = ['low', 'normal', 'high'] as const;
export const DIRECTIONS = ['inbound', 'outbound'] as const;

/** The most links an activity may have: each is a timeline item written in the activity's own transaction. */
export const MAX_LINKS = 20;
export const MAX_ATTENDEES = 50;
export const MAX_RECIPIENTS = 50;
/** A reminder at most a week before the due time. */
export const MAX_REMINDER_OFFSET_MINUTES = 7 * 24 * 60;
/** A meeting lasts at most two weeks. */
export const MAX_MEETING_MS = 14 * 24 * 60 * 60 * 1000;

/** Timestamps are stored in UTC with milliseconds, so they sort as text (agenda and calendar sort keys). */
const Instant = Timestamp.transform((value) => new Date(value).toISOString());
const Email = z.email().max(320);

export const ActivityLink = z
  .strictObject({ type: z.enum(LINK_TYPES), id: Id })
  .meta({ id: 'ActivityLink', description: 'A record this activity shows on (its timeline).' });
export type ActivityLinkValue = z.infer<typeof ActivityLink>;

const Links = z
  .array(ActivityLink)
  .min(1, 'Link the activity to at least one record.')
  .max(MAX_LINKS, `At most ${MAX_LINKS} links.`)
  .refine(
    (links) => new Set(links.map((l) => `${l.type}:${l.id}`)).size === links.length,
    'Each record may be linked once.',
  );

export const Attendee = z
  .strictObject({
    email: Email,
    name: z.string().trim().min(1).max(200).optional(),
    contactId: Id.optional(),
    userId: Id.optional(),
  })
  .meta({ id: 'Attendee' });

/** Fields every activity has (in a create). */
const common = {
  subject: z.string().trim().min(1).max(200).optional(),
  notes: z.string().trim().max(10_000).optional(),
  ownerId: Id.optional().meta({ description: 'Defaults to the caller.' }),
  occurredAt: Instant.optional().meta({
    description:
      'When it happened; orders the timelines. Defaults to the start of a meeting, the send time of an email, now otherwise.',
  }),
  links: Links,
};

const callFields = {
  direction: z.enum(DIRECTIONS),
  durationSeconds: z.number().int().min(0).max(86_400).optional(),
  outcome: z.enum(CALL_OUTCOMES).optional(),
};
const meetingFields = {
  startAt: Instant,
  endAt: Instant,
  attendees: z.array(Attendee).max(MAX_ATTENDEES).optional(),
  location: z.string().trim().min(1).max(500).optional(),
  status: z.enum(MEETING_STATUSES).optional().meta({ description: 'Defaults to scheduled.' }),
};
const emailFields = {
  direction: z.enum(DIRECTIONS),
  from: Email,
  to: z.array(Email).min(1).max(MAX_RECIPIENTS),
  body: z.string().max(20_000).optional(),
  sentAt: Instant.optional().meta({ description: 'Defaults to now.' }),
};
const taskFields = {
  title: z.string().trim().min(1).max(200),
  dueAt: Instant.optional(),
  reminderOffsetMinutes: z
    .number()
    .int()
    .min(0)
    .max(MAX_REMINDER_OFFSET_MINUTES)
    .optional()
    .meta({ description: 'Mail the assignee this many minutes before dueAt (0: at the due time). Needs dueAt.' }),
  priority: z.enum(TASK_PRIORITIES).optional().meta({ description: 'Defaults to normal.' }),
  status: z.enum(TASK_STATUSES).optional().meta({ description: 'Defaults to open.' }),
  assigneeId: Id.optional().meta({ description: 'Who must do it (and gets the reminder); defaults to the caller.' }),
};

/** The input fields of each type: what a create may set and a patch may change. */
export const TYPE_FIELDS: Record<ActivityType, readonly string[]> = {
  call: [...Object.keys(common), ...Object.keys(callFields)],
  meeting: [...Object.keys(common), ...Object.keys(meetingFields)],
  email: [...Object.keys(common), ...Object.keys(emailFields)],
  task: [...Object.keys(common), ...Object.keys(taskFields)],
};

export const CallCreate = z
  .strictObject({ type: z.literal('call'), ...common, ...callFields })
  .meta({ id: 'CallCreate' });
export const MeetingCreate = z
  .strictObject({ type: z.literal('meeting'), ...common, ...meetingFields })
  .refine((m) => m.endAt > m.startAt, { path: ['endAt'], message: 'Must be after startAt.' })
  .refine((m) => Date.parse(m.endAt) - Date.parse(m.startAt) <= MAX_MEETING_MS, {
    path: ['endAt'],
    message: 'A meeting lasts at most 14 days.',
  })
  .meta({ id: 'MeetingCreate' });
export const EmailCreate = z
  .strictObject({ type: z.literal('email'), ...common, ...emailFields })
  .meta({ id: 'EmailCreate' });
export const TaskCreate = z
  .strictObject({ type: z.literal('task'), ...common, ...taskFields })
  .refine((t) => t.reminderOffsetMinutes === undefined || t.dueAt !== undefined, {
    path: ['reminderOffsetMinutes'],
    message: 'A reminder needs dueAt.',
  })
  .meta({ id: 'TaskCreate' });

export const CREATE_SCHEMAS = { call: CallCreate, meeting: MeetingCreate, email: EmailCreate, task: TaskCreate };

export const ActivityCreate = z
  .discriminatedUnion('type', [CallCreate, MeetingCreate, EmailCreate, TaskCreate])
  .meta({ id: 'ActivityCreate', description: 'A call, meeting, logged email or task, by `type`.' });
export type ActivityCreateInput = z.output<typeof ActivityCreate>;

/** Optional fields can be cleared with null; a field that is not one of the activity's type is refused. */
const clearable = <T extends z.ZodType>(schema: T) => schema.nullable().optional();
export const ActivityPatch = z
  .strictObject({
    subject: clearable(common.subject.unwrap()),
    notes: clearable(common.notes.unwrap()),
    ownerId: Id.optional(),
    occurredAt: Instant.optional(),
    links: Links.optional(),
    direction: z.enum(DIRECTIONS).optional(),
    durationSeconds: clearable(callFields.durationSeconds.unwrap()),
    outcome: clearable(callFields.outcome.unwrap()),
    startAt: Instant.optional(),
    endAt: Instant.optional(),
    attendees: clearable(meetingFields.attendees.unwrap()),
    location: clearable(meetingFields.location.unwrap()),
    status: z.enum([...MEETING_STATUSES, ...TASK_STATUSES]).optional(),
    from: Email.optional(),
    to: emailFields.to.optional(),
    body: clearable(emailFields.body.unwrap()),
    sentAt: Instant.optional(),
    title: taskFields.title.optional(),
    dueAt: clearable(Instant),
    reminderOffsetMinutes: clearable(taskFields.reminderOffsetMinutes.unwrap()),
    priority: z.enum(TASK_PRIORITIES).optional(),
    assigneeId: Id.optional(),
  })
  .meta({
    id: 'ActivityPatch',
    description:
      "JSON merge patch of an activity's own fields (null clears an optional one); the type cannot change. " +
      'Changing dueAt or reminderOffsetMinutes re-arms the reminder.',
  });
export type ActivityPatchInput = z.output<typeof ActivityPatch>;

export const Activity = z
  .object({
    id: z.string(),
    type: z.enum(ACTIVITY_TYPES),
    subject: z.string().optional(),
    notes: z.string().optional(),
    ownerId: z.string(),
    occurredAt: Timestamp,
    links: z.array(ActivityLink),
    direction: z.enum(DIRECTIONS).optional(),
    durationSeconds: z.number().int().optional(),
    outcome: z.enum(CALL_OUTCOMES).optional(),
    startAt: Timestamp.optional(),
    endAt: Timestamp.optional(),
    attendees: z.array(Attendee).optional(),
    location: z.string().optional(),
    status: z
      .string()
      .optional()
      .meta({ description: 'Meetings: scheduled/held/cancelled; tasks: open/completed/cancelled.' }),
    from: z.string().optional(),
    to: z.array(z.string()).optional(),
    body: z.string().optional(),
    sentAt: Timestamp.optional(),
    title: z.string().optional(),
    dueAt: Timestamp.optional(),
    reminderOffsetMinutes: z.number().int().optional(),
    priority: z.enum(TASK_PRIORITIES).optional(),
    assigneeId: z.string().optional(),
    completedAt: Timestamp.optional(),
    remindedAt: Timestamp.optional().meta({ description: 'When the reminder mail went to the assignee.' }),
    ...Audit,
  })
  .meta({ id: 'Activity' });
export type ActivityView = z.infer<typeof Activity>;

/** What a linked record's timeline (and the list by link) shows of an activity: small and bounded. */
export const ActivitySummary = z
  .object({
    id: z.string(),
    type: z.enum(ACTIVITY_TYPES),
    occurredAt: Timestamp,
    ownerId: z.string(),
    subject: z.string().optional(),
    title: z.string().optional(),
    status: z.string().optional(),
    outcome: z.string().optional(),
    direction: z.string().optional(),
    startAt: Timestamp.optional(),
    dueAt: Timestamp.optional(),
  })
  .meta({ id: 'ActivitySummary' });
export type ActivitySummaryView = z.infer<typeof ActivitySummary>;

export const ActivityListItem = z.union([Activity, ActivitySummary]).meta({ id: 'ActivityListItem' });

export const ActivityIdParams = z.object({ activityId: Id });

export const ActivityListQuery = z
  .strictObject({
    ...PageQuery,
    ownerId: Id.optional().meta({ description: "An owner's open tasks and scheduled meetings, soonest first." }),
    type: z.enum(ACTIVITY_TYPES).optional().meta({ description: 'Every live activity of a type, newest first.' }),
    contactId: Id.optional().meta({ description: 'Activities linked to the contact, newest first (summaries).' }),
    companyId: Id.optional().meta({ description: 'Activities linked to the company (summaries).' }),
    dealId: Id.optional().meta({ description: 'Activities linked to the deal (summaries).' }),
    leadId: Id.optional().meta({ description: 'Activities linked to the lead (summaries).' }),
  })
  .meta({ id: 'ActivityListQuery' });
export type ActivityListQueryInput = z.output<typeof ActivityListQuery>;

export const AgendaQuery = z.strictObject({
  ...PageQuery,
  until: Instant.optional().meta({ description: 'Only items due or starting at or before this time.' }),
});

export const CalendarFeedCreated = z
  .object({
    token: z.string().meta({ description: 'The secret: shown once, only its hash is kept. Rotating replaces it.' }),
    path: z
      .string()
      .meta({ description: 'Subscribe to this path on the API URL (https://<api>/v1/calendar-feeds/…).' }),
    createdAt: Timestamp,
  })
  .meta({ id: 'CalendarFeedCreated' });

export const CalendarFeedParams = z.object({
  // Anything up to the bound: a malformed token is answered like an unknown one (404), never with a field error.
  token: z.string().max(512),
});
