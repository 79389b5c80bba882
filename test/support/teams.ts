import type { TeamMember } from '../../shared/teams/members.ts';

/**
 * Writes a team item directly through the `team` entity (the teams API belongs to another module): what
 * getTeamRoster reads. Import after useFreshTable (the model reads TABLE_NAME on first use).
 */
export async function putTeam(tenantId: string, teamId: string, members: TeamMember[]): Promise<void> {
  const { model } = await import('../../shared/db/store.ts');
  const now = new Date().toISOString();
  await model.entities.team
    .put({
      tenantId,
      teamId,
      name: `Team ${teamId}`,
      sortName: teamId,
      members,
      version: 1,
      createdAt: now,
      updatedAt: now,
    })
    .go();
}

/** `count` available members with ids m00, m01, ... */
export const availableMembers = (count: number, capacity?: number): TeamMember[] =>
  Array.from({ length: count }, (_, i) => ({
    userId: `m${String(i).padStart(2, '0')}`,
    availability: 'available' as const,
    ...(capacity === undefined ? {} : { capacity }),
  }));

/** How many of `owners` each member got, and max - min over the members (members given none count as 0). */
export function spread(
  owners: Array<string | undefined>,
  members: string[],
): { counts: Record<string, number>; fairness: number } {
  const counts = Object.fromEntries(members.map((m) => [m, 0]));
  for (const owner of owners) if (owner !== undefined) counts[owner] = (counts[owner] ?? 0) + 1;
  const values = Object.values(counts);
  return { counts, fairness: Math.max(...values) - Math.min(...values) };
}
