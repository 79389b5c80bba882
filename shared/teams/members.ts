import { model } from '../db/store.ts';

export type Availability = 'available' | 'away';

/** A team member as assignment and routing see them. */
export interface TeamMember {
  userId: string;
  availability: Availability;
  /** At most this many open items assigned (absent: no limit). */
  capacity?: number;
}

export interface TeamRoster {
  teamId: string;
  name: string;
  leadUserId?: string;
  members: TeamMember[];
}

/** A team with its members: one GetItem. A deleted team is not found. */
export async function getTeamRoster(tenantId: string, teamId: string): Promise<TeamRoster | undefined> {
  const { data } = await model.entities.team.get({ tenantId, teamId }).go();
  if (!data || data.deletedAt) return undefined;
  return {
    teamId: data.teamId,
    name: data.name,
    ...(data.leadUserId ? { leadUserId: data.leadUserId } : {}),
    members: (data.members as TeamMember[]) ?? [],
  };
}
