import { model } from '../db/store.ts';

/** What other modules need to know about a user: who to mail, in which time zone, and whether they may work. */
export interface UserProfile {
  userId: string;
  email: string;
  name: string;
  roles: string[];
  timeZone: string;
  workingHours?: Array<{ day: number; start: string; end: string }>;
  status: 'invited' | 'active' | 'disabled';
  teamIds: string[];
}

/** One GetItem. A removed (soft-deleted) user is not found. */
export async function findUser(tenantId: string, userId: string): Promise<UserProfile | undefined> {
  const { data } = await model.entities.user.get({ tenantId, userId }).go();
  if (!data || data.deletedAt) return undefined;
  return {
    userId: data.userId,
    email: data.email,
    name: data.name,
    roles: data.roles,
    timeZone: data.timeZone,
    ...(data.workingHours ? { workingHours: data.workingHours as UserProfile['workingHours'] } : {}),
    status: data.status,
    teamIds: data.teamIds ?? [],
  };
}
