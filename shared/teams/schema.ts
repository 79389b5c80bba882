import * as z from 'zod';
import { Audit, Id, PageQuery } from '../api/common-schemas.ts';

/** One item holds a team and its members; deleting a team updates each member's profile in the same transaction. */
export const MAX_TEAM_MEMBERS = 99;
/** A user's availability is set in all their teams in one transaction. */
export const MAX_TEAMS_PER_USER = 20;

export const AVAILABILITY = ['available', 'away'] as const;
const Availability = z
  .enum(AVAILABILITY)
  .meta({ description: 'available: takes new work from assignment and routing; away: skipped.' });
const Capacity = z
  .number()
  .int()
  .min(0)
  .max(100_000)
  .meta({ description: 'At most this many open items assigned; absent: no limit.' });

export const TeamMember = z
  .object({ userId: z.string(), availability: Availability, capacity: Capacity.optional() })
  .meta({ id: 'TeamMember' });
export type TeamMemberView = z.infer<typeof TeamMember>;

const Name = z.string().trim().min(1).max(200);
const Description = z.string().trim().max(2000);

export const TeamCreate = z
  .strictObject({
    name: Name,
    description: Description.optional(),
    leadUserId: Id.optional().meta({ description: 'A live user of the organisation (escalations go to them).' }),
  })
  .meta({ id: 'TeamCreate' });

export const TeamPatch = z
  .strictObject({ name: Name, description: Description.nullable(), leadUserId: Id.nullable() })
  .partial()
  .meta({ id: 'TeamPatch' });

export const Team = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().optional(),
    leadUserId: z.string().optional(),
    members: z.array(TeamMember),
    ...Audit,
  })
  .meta({ id: 'Team' });
export type TeamView = z.infer<typeof Team>;
export type TeamCreateInput = z.output<typeof TeamCreate>;
export type TeamPatchInput = z.output<typeof TeamPatch>;

export const MemberAdd = z
  .strictObject({ userId: Id, availability: Availability.default('available'), capacity: Capacity.optional() })
  .meta({ id: 'TeamMemberAdd' });
export const MemberPatch = z
  .strictObject({ availability: Availability, capacity: Capacity.nullable() })
  .partial()
  .meta({ id: 'TeamMemberPatch' });
export type MemberAddInput = z.output<typeof MemberAdd>;
export type MemberPatchInput = z.output<typeof MemberPatch>;

export const AvailabilityPut = z.strictObject({ availability: Availability }).meta({ id: 'AvailabilityPut' });
export const AvailabilityResult = z
  .object({
    availability: Availability,
    teams: z.array(z.object({ id: z.string(), name: z.string() })).meta({ description: 'The teams it was set in.' }),
  })
  .meta({ id: 'AvailabilityResult' });
export type AvailabilityResultView = z.infer<typeof AvailabilityResult>;

export const TeamIdParams = z.object({ teamId: Id });
export const TeamMemberParams = z.object({ teamId: Id, userId: Id });
export const TeamListQuery = z
  .strictObject({
    ...PageQuery,
    q: z.string().trim().min(1).max(100).optional().meta({ description: 'Name prefix (case and accent blind).' }),
  })
  .meta({ id: 'TeamListQuery' });
export type TeamListFilters = z.output<typeof TeamListQuery>;
