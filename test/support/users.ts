/**
 * A workspace user's profile written directly through the `user` entity (the users API needs Cognito): what ticket
 * assignee checks and routing's availability read. Import after useFreshTable (the model reads TABLE_NAME on first use).
 */
export async function putUser(
  tenantId: string,
  userId: string,
  status: 'invited' | 'active' | 'disabled' = 'active',
): Promise<void> {
  const { model } = await import('../../shared/db/store.ts');
  const now = new Date().toISOString();
  await model.entities.user
    .put({
      tenantId,
      userId,
      email: `${userId}@example.com`,
      name: userId,
      roles: ['support'],
      timeZone: 'UTC',
      status,
      sortName: userId,
      version: 1,
      createdAt: now,
      updatedAt: now,
    })
    .go();
}
