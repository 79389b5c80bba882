import * as z from 'zod';
import { Audit, Id, PageQuery, Timestamp } from '../api/common-schemas.ts';
import { isValidTimeZone } from '../sla/business-time.ts';
import { durationMs, MAX_WAIT_MS, WEEKDAYS } from './timing.ts';

/** Bounds: a sequence is one item, and its workflow's history grows with every step it runs. */
export const MAX_STEPS = 50;
export const MAX_ENROLL_BATCH = 100;

export const EXIT_TRIGGERS = ['reply', 'unsubscribe', 'conversion', 'deal_won'] as const;
export type ExitTrigger = (typeof EXIT_TRIGGERS)[number];
export const SEQUENCE_STATUSES = ['active', 'paused', 'archived'] as const;
/** `failed`: its workflow hit an error past its retries (the enrolment keeps the cause). */
export const ENROLLMENT_STATUSES = ['active', 'completed', 'exited', 'failed'] as const;
/** Why an enrolment ended early: an exit trigger, by hand, ineligible at a send, or its sequence archived. */
export const EXIT_REASONS = [
  ...EXIT_TRIGGERS,
  'manual',
  'suppressed',
  'unconsented',
  'no_email',
  'deleted',
  'archived',
] as const;
export type ExitReason = (typeof EXIT_REASONS)[number];

/** Step ids go into ledger campaign ids (`seq-<sequenceId>-<stepId>`) and SES tags: a small safe alphabet. */
const StepId = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, '1-32 letters, digits, "_" or "-".');

const IsoDuration = z
  .string()
  .max(40)
  .refine(
    (d) => durationMs(d) !== undefined,
    'An ISO 8601 duration in weeks, days, hours, minutes, seconds: "P2D", "PT30S".',
  )
  .refine((d) => (durationMs(d) ?? 0) > 0, 'Must be longer than zero.')
  .refine((d) => (durationMs(d) ?? 0) <= MAX_WAIT_MS, 'At most 180 days.');

export const TimeZone = z.string().max(64).refine(isValidTimeZone, 'An IANA time zone, e.g. "Europe/Berlin".');

const SendStep = z.strictObject({ id: StepId, type: z.literal('send'), templateId: Id });
const WaitStep = z.strictObject({ id: StepId, type: z.literal('wait'), duration: IsoDuration });
const WaitUntilStep = z.strictObject({
  id: StepId,
  type: z.literal('waitUntil'),
  weekdays: z
    .array(z.enum(WEEKDAYS))
    .min(1)
    .max(7)
    .transform((days) => [...new Set(days)]),
  time: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'Local time "HH:MM", e.g. "09:00".'),
  timeZone: TimeZone.optional().meta({
    description: "Default: the sequence's `timeZone`, else UTC (contacts carry no time zone).",
  }),
});
const TaskStep = z.strictObject({
  id: StepId,
  type: z.literal('task'),
  title: z.string().trim().min(1).max(200),
  dueInDays: z.number().int().min(0).max(365).optional(),
});
const BranchStep = z.strictObject({
  id: StepId,
  type: z.literal('branch'),
  on: z.enum(['opened', 'clicked', 'replied']),
  sendStep: StepId.meta({ description: 'An earlier send step: whether its mail was opened or clicked.' }),
  // Not `then`/`else`: an object with a `then` property is a thenable, which `await` would call.
  ifTrue: StepId.meta({ description: 'The step to go on with when it was (a later step).' }),
  ifFalse: StepId.meta({ description: 'The step to go on with when it was not (a later step).' }),
});

/** Ends the enrolment (completed): what a branch's first path uses so it does not run on into the other. */
const EndStep = z.strictObject({ id: StepId, type: z.literal('end') });

export const SequenceStep = z
  .discriminatedUnion('type', [SendStep, WaitStep, WaitUntilStep, TaskStep, BranchStep, EndStep])
  .meta({ id: 'SequenceStep' });
export type SequenceStepDefinition = z.output<typeof SequenceStep>;

/**
 * Steps run in order; a branch jumps forward only (to a later step), so every enrolment ends after at most as many
 * steps as the sequence has. Ids are unique; a branch's send step is an earlier send.
 */
export const SequenceSteps = z
  .array(SequenceStep)
  .min(1)
  .max(MAX_STEPS)
  .superRefine((steps, ctx) => {
    const index = new Map<string, number>();
    steps.forEach((step, i) => {
      if (index.has(step.id))
        ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `Duplicate step id "${step.id}".` });
      else index.set(step.id, i);
    });
    steps.forEach((step, i) => {
      if (step.type !== 'branch') return;
      const send = index.get(step.sendStep);
      if (send === undefined || send >= i || steps[send]?.type !== 'send') {
        ctx.addIssue({ code: 'custom', path: [i, 'sendStep'], message: 'Must name an earlier send step.' });
      }
      for (const target of ['ifTrue', 'ifFalse'] as const) {
        const at = index.get(step[target]);
        if (at === undefined || at <= i) {
          ctx.addIssue({ code: 'custom', path: [i, target], message: 'Must name a later step of this sequence.' });
        }
      }
    });
  });

const Sender = z.strictObject({
  address: z.email().max(254),
  name: z.string().trim().min(1).max(100).optional(),
});

const EnrollOn = z
  .union([z.strictObject({ segmentId: Id }), z.strictObject({ formId: Id })])
  .meta({ description: "Enrol a segment's members on activation, or each lead a form creates." });

const sequenceFields = {
  name: z.string().trim().min(1).max(200),
  steps: SequenceSteps,
  categoryId: Id.optional().meta({ description: 'The subscription category its mail is sent under.' }),
  from: Sender,
  replyTo: z.email().max(254).optional(),
  timeZone: TimeZone.optional().meta({ description: 'Default zone of waitUntil steps for contacts without one.' }),
  exitOn: z
    .array(z.enum(EXIT_TRIGGERS))
    .max(EXIT_TRIGGERS.length)
    .transform((t) => [...new Set(t)])
    .default(['reply', 'unsubscribe']),
  enrollOn: EnrollOn.optional(),
};

export const SequenceCreate = z
  .strictObject(sequenceFields)
  .meta({ id: 'SequenceCreate', description: 'A new sequence starts paused: activate it to enrol and run.' });

export const SequencePatch = z
  .strictObject({
    name: sequenceFields.name,
    steps: sequenceFields.steps,
    categoryId: Id.nullable(),
    from: Sender,
    replyTo: z.email().max(254).nullable(),
    timeZone: TimeZone.nullable(),
    exitOn: z
      .array(z.enum(EXIT_TRIGGERS))
      .max(EXIT_TRIGGERS.length)
      .transform((t) => [...new Set(t)]),
    enrollOn: EnrollOn.nullable(),
  })
  .partial()
  .meta({
    id: 'SequencePatch',
    description: 'JSON merge patch; `steps` replaces the whole list and can be changed only while paused.',
  });

export const Sequence = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(SEQUENCE_STATUSES),
    steps: z.array(SequenceStep),
    categoryId: z.string().optional(),
    from: Sender,
    replyTo: z.string().optional(),
    timeZone: z.string().optional(),
    exitOn: z.array(z.enum(EXIT_TRIGGERS)),
    enrollOn: EnrollOn.optional(),
    segmentJob: z
      .object({
        status: z.enum(['running', 'done', 'failed']),
        enrolled: z.number().int(),
        startedAt: Timestamp,
        finishedAt: Timestamp.optional(),
      })
      .optional()
      .meta({ description: "Enrolling the segment's members after activation." }),
    activatedAt: Timestamp.optional(),
    ...Audit,
  })
  .meta({ id: 'Sequence' });
export type SequenceView = z.infer<typeof Sequence>;
export type SequenceCreateInput = z.output<typeof SequenceCreate>;
export type SequencePatchInput = z.output<typeof SequencePatch>;

export const SequenceIdParams = z.object({ sequenceId: Id });
export const EnrollmentParams = z.object({ sequenceId: Id, contactId: Id });
export const SequenceListQuery = z
  .strictObject({
    ...PageQuery,
    inTrash: z
      .enum(['true', 'false'])
      .optional()
      .transform((v) => (v === 'true' ? true : undefined))
      .meta({ description: 'true: deleted sequences, most recently deleted first.' }),
  })
  .meta({ id: 'SequenceListQuery' });
export const EnrollmentListQuery = z.strictObject({ ...PageQuery }).meta({ id: 'EnrollmentListQuery' });

export const EnrollBody = z
  .strictObject({ contactIds: z.array(Id).min(1).max(MAX_ENROLL_BATCH) })
  .meta({ id: 'SequenceEnrollBody' });

export const Enrollment = z
  .object({
    id: z.string().meta({ description: '`<sequenceId>.<contactId>`' }),
    sequenceId: z.string(),
    contactId: z.string(),
    status: z.enum(ENROLLMENT_STATUSES),
    source: z.enum(['manual', 'segment', 'form']),
    run: z.number().int(),
    currentStep: z.string().optional(),
    waitUntil: Timestamp.optional(),
    stepsRun: z.number().int().optional(),
    enrolledAt: Timestamp,
    repliedAt: Timestamp.optional(),
    completedAt: Timestamp.optional(),
    exitedAt: Timestamp.optional(),
    exitReason: z.enum(EXIT_REASONS).optional(),
    failedAt: Timestamp.optional(),
    failure: z
      .string()
      .optional()
      .meta({ description: 'Why the workflow failed (status `failed`): the error past its retries.' }),
    version: z.number().int(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'SequenceEnrollment' });
export type EnrollmentView = z.infer<typeof Enrollment>;

export const EnrollResult = z
  .object({
    enrolled: z.array(z.string()).meta({ description: 'Contacts enrolled now.' }),
    alreadyEnrolled: z
      .array(z.string())
      .meta({ description: 'Contacts with an enrolment (any status): left as they are.' }),
    notFound: z.array(z.string()).meta({ description: 'Ids that are no live contact of the organisation.' }),
  })
  .meta({ id: 'SequenceEnrollResult' });
