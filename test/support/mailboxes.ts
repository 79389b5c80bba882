/**
 * A support mailbox written straight to the table with a chosen id, for tests that need a ticket's mailbox without
 * going through the mailboxes API (whose ids are generated). The item is the mailboxes module's own entity, so it is
 * what `readMailbox` reads; no address claim is written (inbound routing is not what these tests exercise).
 */
import { DEFAULT_VERDICT_POLICY } from '../../shared/mailboxes/schema.ts';

export async function putMailboxForTests(
  tenantId: string,
  mailbox: { id: string; address: string; name?: string; replyName?: string; teamId?: string },
): Promise<void> {
  const { model } = await import('../../shared/db/store.ts');
  const now = new Date().toISOString();
  await model.entities.mailbox
    .put({
      tenantId,
      mailboxId: mailbox.id,
      address: mailbox.address,
      name: mailbox.name ?? 'Support',
      ...(mailbox.replyName ? { replyName: mailbox.replyName } : {}),
      ...(mailbox.teamId ? { teamId: mailbox.teamId } : {}),
      defaultPriority: 'normal',
      verdictPolicy: DEFAULT_VERDICT_POLICY,
      version: 1,
      createdAt: now,
      updatedAt: now,
    })
    .go();
}
