import { Entity } from 'electrodb';
import { documentClient, tableName } from '../db/client.ts';
import { KEY_CASING, SERVICE } from '../db/entities/common.ts';

/**
 * What a reply needs of a support mailbox (contract 1 of issue 7): its address and the name replies go out under.
 *
 * Stand-in for `readMailbox(tenantId, mailboxId)` of `shared/mailboxes` (built in parallel): one GetItem of the
 * mailbox item, keyed as an ElectroDB entity `mailbox` (tenant + mailbox id) would be. When that module is merged,
 * this file is replaced by its `readMailbox`.
 */
export interface ReplyMailbox {
  id: string;
  address: string;
  name?: string;
  replyName?: string;
  teamId?: string;
}

const makeEntity = () =>
  new Entity(
    {
      model: { entity: 'mailbox', version: '1', service: SERVICE },
      attributes: {
        tenantId: { type: 'string', required: true },
        mailboxId: { type: 'string', required: true },
        address: { type: 'string', required: true },
        name: { type: 'string' },
        replyName: { type: 'string' },
        teamId: { type: 'string' },
        deletedAt: { type: 'string' },
      },
      indexes: {
        byId: {
          pk: { field: 'pk', composite: ['tenantId', 'mailboxId'], casing: KEY_CASING },
          sk: { field: 'sk', composite: [], casing: KEY_CASING },
        },
      },
    },
    { client: documentClient, table: tableName() },
  );
let entity: ReturnType<typeof makeEntity> | undefined;
const mailboxEntity = () => (entity ??= makeEntity());

/** One GetItem; undefined when the mailbox does not exist (or was deleted). */
export async function readMailbox(tenantId: string, mailboxId: string): Promise<ReplyMailbox | undefined> {
  const { data } = await mailboxEntity().get({ tenantId, mailboxId }).go();
  if (!data || data.deletedAt) return undefined;
  return {
    id: data.mailboxId,
    address: data.address,
    ...(data.name ? { name: data.name } : {}),
    ...(data.replyName ? { replyName: data.replyName } : {}),
    ...(data.teamId ? { teamId: data.teamId } : {}),
  };
}

/** Writes a mailbox item as `readMailbox` reads it (tests only, until mail-in's module provides mailboxes). */
export async function putMailboxForTests(tenantId: string, mailbox: ReplyMailbox): Promise<void> {
  const { id, ...fields } = mailbox;
  await mailboxEntity()
    .put({ tenantId, mailboxId: id, ...fields })
    .go();
}
