import * as z from 'zod';
import { Audit, Id, PageQuery, Timestamp } from '../api/common-schemas.ts';

export const CAMPAIGN_STATUSES = ['draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled', 'failed'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export const RECIPIENT_STATES = ['claimed', 'sent', 'failed', 'skipped'] as const;
export const SKIP_REASONS = ['suppressed', 'unconsented', 'unsubscribed', 'excluded', 'no_email', 'deleted'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** At most this many sources in each part of an audience: the sender pages through each, exclusions are GetItems. */
export const MAX_AUDIENCE_SOURCES = 10;

const Sources = z
  .array(Id)
  .max(MAX_AUDIENCE_SOURCES)
  .transform((ids) => [...new Set(ids)]);

export const Audience = z
  .strictObject({
    segmentIds: Sources.default([]).meta({ description: 'Dynamic segments whose members receive the campaign.' }),
    listIds: Sources.default([]).meta({ description: 'Static lists whose members receive the campaign.' }),
    excludeSegmentIds: Sources.default([]).meta({ description: 'Members of these segments are left out.' }),
    excludeListIds: Sources.default([]).meta({ description: 'Members of these lists are left out.' }),
  })
  .superRefine((a, ctx) => {
    if (a.segmentIds.length + a.listIds.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['segmentIds'], message: 'Name at least one segment or list.' });
    }
  })
  .meta({
    id: 'CampaignAudience',
    description:
      'Who receives the campaign: the members of the segments and lists (each address once), minus the members ' +
      'of the excluded ones. Suppressed, unconsented and unsubscribed contacts are dropped at send time.',
  });
export type AudienceInput = z.output<typeof Audience>;

/** An address as SES takes it: a simple check; the domain rule (the stack's mail domain) is the service's. */
export const EmailAddress = z
  .string()
  .trim()
  .max(254)
  .regex(/^[^\s@"<>(),;:\\[\]]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$|^[^\s@"<>(),;:\\[\]]+@[A-Za-z0-9-]+\.local$/, {
    message: 'Use an email address like news@acme.example.',
  })
  .transform((a) => a.toLowerCase());

const DisplayName = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[^\p{Cc}"<>]+$/u, 'No control characters, quotes or angle brackets.');

export const Sender = z
  .strictObject({ address: EmailAddress, name: DisplayName.optional() })
  .meta({ id: 'CampaignSender', description: 'The From of the mail: an address within the service’s mail domain.' });

const Name = z.string().trim().min(1).max(200);

export const CampaignCreate = z
  .strictObject({
    name: Name,
    audience: Audience,
    templateId: Id,
    categoryId: Id.optional().meta({
      description: 'The subscription category the mail is sent under: its unsubscribers are left out.',
    }),
    from: Sender,
    replyTo: EmailAddress.optional(),
  })
  .meta({ id: 'CampaignCreate' });

export const CampaignPatch = z
  .strictObject({
    name: Name,
    audience: Audience,
    templateId: Id,
    categoryId: Id.nullable(),
    from: Sender,
    replyTo: EmailAddress.nullable(),
  })
  .partial()
  .meta({
    id: 'CampaignPatch',
    description: 'Only a draft or a scheduled campaign can change. Fields given replace the stored ones; null clears.',
  });

export const CampaignSchedule = z
  .strictObject({
    at: z
      .string()
      .max(32)
      .optional()
      .meta({
        description: 'Local date-time without offset, `YYYY-MM-DDTHH:MM[:SS]`, read in `timeZone`.',
        examples: ['2026-03-29T09:00'],
      }),
    timeZone: z.string().max(64).optional().meta({ description: 'IANA time zone, e.g. Europe/Berlin.' }),
    now: z.literal(true).optional().meta({ description: 'Send now instead of at a time.' }),
  })
  .superRefine((s, ctx) => {
    if (s.now) {
      if (s.at !== undefined || s.timeZone !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['now'], message: 'Give either now, or at with timeZone.' });
      }
      return;
    }
    if (s.at === undefined) ctx.addIssue({ code: 'custom', path: ['at'], message: 'Required unless now is true.' });
    if (s.timeZone === undefined) {
      ctx.addIssue({ code: 'custom', path: ['timeZone'], message: 'Required with at.' });
    }
  })
  .meta({
    id: 'CampaignSchedule',
    description:
      '`{ "at", "timeZone" }` or `{ "now": true }`. A local time that does not exist (skipped by a daylight-saving ' +
      'change) is moved forward by the gap and the answer says `adjusted: true`; a repeated one (clocks going back) ' +
      'means its first occurrence.',
  });
export type CampaignScheduleInput = z.output<typeof CampaignSchedule>;

const Counts = z.record(z.string(), z.number()).meta({
  id: 'CampaignStats',
  description:
    'Counters summed over the campaign’s shards: recipients (addresses processed), sent, failed, skipped_<reason> ' +
    '(suppressed, unconsented, unsubscribed, excluded, no_email, deleted), and what tracking adds (delivered, ' +
    'bounced, complained, opened, clicked).',
});

export const Campaign = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(CAMPAIGN_STATUSES),
    audience: z.object({
      segmentIds: z.array(z.string()),
      listIds: z.array(z.string()),
      excludeSegmentIds: z.array(z.string()),
      excludeListIds: z.array(z.string()),
    }),
    templateId: z.string(),
    categoryId: z.string().optional(),
    from: z.object({ address: z.string(), name: z.string().optional() }),
    replyTo: z.string().optional(),
    schedule: z
      .object({
        at: z.string().optional(),
        timeZone: z.string().optional(),
        now: z.boolean().optional(),
        localTime: z.string().optional(),
        adjusted: z.boolean().optional(),
      })
      .optional()
      .meta({ description: 'As asked, with the local time used (`adjusted` when the asked one did not exist).' }),
    sendAt: Timestamp.optional().meta({ description: 'The UTC instant the send starts.' }),
    run: z.number().int().optional().meta({ description: 'The send’s run: 1 for the first, +1 for each resume.' }),
    startedAt: Timestamp.optional(),
    finishedAt: Timestamp.optional(),
    cancelledAt: Timestamp.optional(),
    failure: z.string().optional(),
    stats: Counts,
    ...Audit,
  })
  .meta({ id: 'Campaign' });
export type CampaignView = z.infer<typeof Campaign>;

export const CampaignListItem = Campaign.omit({ stats: true }).meta({ id: 'CampaignListItem' });

export const CampaignIdParams = z.object({ campaignId: Id });

export const CampaignListQuery = z
  .strictObject({
    ...PageQuery,
    status: z.enum(CAMPAIGN_STATUSES).optional().meta({ description: 'Only campaigns in this status.' }),
    q: z.string().trim().min(1).max(100).optional().meta({ description: 'Name prefix.' }),
    inTrash: z
      .enum(['true', 'false'])
      .optional()
      .transform((v) => (v === 'true' ? true : undefined))
      .meta({ description: 'true: deleted campaigns, most recently deleted first.' }),
  })
  .meta({ id: 'CampaignListQuery' });
export type CampaignListQueryInput = z.output<typeof CampaignListQuery>;

export const CampaignRecipient = z
  .object({
    email: z.string(),
    contactId: z.string(),
    state: z.enum(RECIPIENT_STATES),
    reason: z.enum(SKIP_REASONS).optional(),
    run: z.number().int().optional(),
    claimedAt: Timestamp.optional(),
    sentAt: Timestamp.optional(),
    sesMessageId: z.string().optional(),
    error: z.string().optional(),
    deliveredAt: Timestamp.optional(),
    bouncedAt: Timestamp.optional(),
    bounceType: z.string().optional(),
    complainedAt: Timestamp.optional(),
    openedAt: Timestamp.optional(),
    clickedAt: Timestamp.optional(),
    openCount: z.number().optional(),
    clickCount: z.number().optional(),
  })
  .meta({
    id: 'CampaignRecipient',
    description:
      'One address of the campaign’s ledger. `claimed`: being sent, or sent without SES’s answer (never sent again).',
  });

export const CampaignRecipientsQuery = z
  .strictObject({
    ...PageQuery,
    state: z.enum(RECIPIENT_STATES).optional().meta({
      description: 'Only recipients in this state (read from the ledger in address order, filtered).',
    }),
  })
  .meta({ id: 'CampaignRecipientsQuery' });
export type CampaignRecipientsQueryInput = z.output<typeof CampaignRecipientsQuery>;

export type CampaignCreateInput = z.output<typeof CampaignCreate>;
export type CampaignPatchInput = z.output<typeof CampaignPatch>;
