import * as z from 'zod';
import { Audit, Id, PageQuery, Timestamp } from '../api/common-schemas.ts';
import { ROLES } from '../auth/permissions.ts';

export const USER_STATUSES = ['invited', 'active', 'disabled'] as const;
/** Kinds of record that have an owner and keep their live records on recordIndex.owner (gsi1). */
export const OWNED_RECORD_KINDS = ['contact', 'company', 'lead', 'deal', 'activity', 'ticket'] as const;
export type OwnedRecordKind = (typeof OWNED_RECORD_KINDS)[number];

/** Whether Intl knows the zone (IANA names such as Europe/Paris, and UTC). */
export function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

export const TimeZone = z
  .string()
  .min(1)
  .max(64)
  .refine(isTimeZone, 'Use an IANA time zone such as "Europe/Paris" or "America/New_York".')
  .meta({ description: 'IANA time zone: reminders, the agenda and working hours are computed in it.' });

const Clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'Use HH:MM (24-hour).');

export const WorkingHours = z
  .array(
    z
      .strictObject({
        day: z.number().int().min(1).max(7).meta({ description: 'ISO weekday: 1 = Monday ... 7 = Sunday.' }),
        start: Clock,
        end: Clock,
      })
      .refine((h) => h.start < h.end, { message: 'end must be after start.', path: ['end'] }),
  )
  .max(21, 'At most 21 intervals (three a day).')
  .meta({ description: "Weekly working hours in the user's time zone." });

const Roles = z
  .array(z.enum(ROLES))
  .min(1, 'Give at least one role.')
  .max(ROLES.length)
  .transform((roles) => [...new Set(roles)])
  .meta({ description: 'Roles (Cognito groups): what the user may do.' });

const Name = z.string().trim().min(1).max(200);
const Email = z
  .email()
  .max(254)
  .transform((e) => e.toLowerCase());

export const UserInvite = z
  .strictObject({
    email: Email.meta({ description: 'Sign-in address; Cognito mails the invitation with a temporary password.' }),
    name: Name,
    roles: Roles,
    timeZone: TimeZone.default('UTC'),
    workingHours: WorkingHours.optional(),
  })
  .meta({ id: 'UserInvite' });

export const UserPatch = z
  .strictObject({ name: Name, roles: Roles, timeZone: TimeZone, workingHours: WorkingHours.nullable() })
  .partial()
  .meta({ id: 'UserPatch' });

export const User = z
  .object({
    id: z.string().meta({ description: "The identity's id (Cognito sub), also the token's `sub`." }),
    email: z.string(),
    name: z.string(),
    roles: z.array(z.enum(ROLES)),
    timeZone: z.string(),
    workingHours: WorkingHours.optional(),
    status: z.enum(USER_STATUSES).meta({
      description:
        'invited (created, has not called the API yet), active (has: set by their first GET /v1/me), disabled ' +
        '(cannot sign in). Removed users have deletedAt.',
    }),
    teamIds: z.array(z.string()),
    activatedAt: Timestamp.optional().meta({ description: 'When they first called the API (GET /v1/me).' }),
    ...Audit,
  })
  .meta({ id: 'User' });

/** What a list by role returns: the summary each role lookup item carries. GET the user for the rest. */
export const UserSummary = z
  .object({
    id: z.string(),
    name: z.string(),
    email: z.string(),
    roles: z.array(z.enum(ROLES)),
    status: z.enum(USER_STATUSES),
  })
  .meta({ id: 'UserSummary', description: 'A user in a list by role: id and key fields. GET the user for the rest.' });
export const UserListItem = z.union([User, UserSummary]);
export type UserSummaryView = z.infer<typeof UserSummary>;

export type UserView = z.infer<typeof User>;
export type UserInviteInput = z.output<typeof UserInvite>;
export type UserPatchInput = z.output<typeof UserPatch>;

export const UserIdParams = z.object({ userId: Id });

export const UserListQuery = z
  .strictObject({
    ...PageQuery,
    status: z.enum(USER_STATUSES).optional().meta({ description: 'Only users in this status (live users).' }),
    role: z
      .enum(ROLES)
      .optional()
      .meta({ description: 'Only live users with this role (answered with UserSummary items).' }),
    q: z.string().trim().min(1).max(100).optional().meta({ description: 'Name prefix (case and accent blind).' }),
    inTrash: z
      .enum(['true', 'false'])
      .optional()
      .transform((v) => (v === 'true' ? true : undefined))
      .meta({ description: 'true: removed users, most recently removed first.' }),
  })
  .meta({ id: 'UserListQuery' });
export type UserListFilters = z.output<typeof UserListQuery>;

export const Me = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    email: z.string().optional(),
    roles: z.array(z.enum(ROLES)).meta({ description: "The roles of the caller's token (what this request may do)." }),
    source: z.enum(['profile', 'token']).meta({
      description:
        'profile: the caller has a workspace profile (below). token: none yet (e.g. the bootstrap admin of a new ' +
        'organisation); everything here comes from the token.',
    }),
    profile: User.nullable(),
  })
  .meta({ id: 'Me' });
export type MeView = z.infer<typeof Me>;

export const OpenRecord = z
  .object({
    entity: z.enum(OWNED_RECORD_KINDS),
    id: z.string(),
    name: z.string().optional().meta({ description: 'Its display name, when the record has one.' }),
    updatedAt: Timestamp.optional(),
  })
  .meta({ id: 'OpenRecord' });
export type OpenRecordView = z.infer<typeof OpenRecord>;

export const OpenRecordsQuery = z.strictObject({ ...PageQuery });

export const UserRemoval = z
  .object({
    user: User,
    openRecords: z
      .object({ items: z.array(OpenRecord), nextCursor: z.string().nullable() })
      .meta({ description: 'The first page of what they still own: reassign it (GET .../open-records for more).' }),
  })
  .meta({ id: 'UserRemoval' });
