import type { RecordChangedDetail } from '../../events/catalog.ts';
import type { Principal } from '../auth/principal.ts';
import { checkCursor, model } from '../db/store.ts';
import type { Page, PageRequest } from '../records/lists.ts';
import type { AuditEntryView } from './schema.ts';

/** Records one change event; idempotent, because the item is keyed by the version the change produced. */
export async function recordChange(detailType: string, detail: RecordChangedDetail): Promise<void> {
  await model.entities.auditEntry
    .put({
      tenantId: detail.tenantId,
      entity: detail.entity,
      entityId: detail.entityId,
      seq: String(detail.version).padStart(12, '0'),
      version: detail.version,
      action: detailType.split('.')[1] ?? 'updated',
      ...(detail.actorId ? { actorId: detail.actorId } : {}),
      occurredAt: detail.occurredAt,
      changes: detail.changes,
    })
    .go();
}

/** A record's change history, newest first: one Query. */
export async function history(
  principal: Principal,
  entity: 'contact' | 'company',
  entityId: string,
  page: PageRequest,
): Promise<Page<AuditEntryView>> {
  const key = { tenantId: principal.tenantId, entity, entityId };
  checkCursor(page.cursor, 'pk', model.entities.auditEntry.get({ ...key, seq: '0' }).params().Key.pk as string);
  const result = await model.entities.auditEntry.query
    .byRecord(key)
    .go({ limit: page.limit, cursor: page.cursor ?? null, order: 'desc' });
  return {
    items: result.data.map(({ version, action, actorId, occurredAt, changes }) => ({
      version,
      action: action as AuditEntryView['action'],
      ...(actorId ? { actorId } : {}),
      occurredAt,
      changes: changes as AuditEntryView['changes'],
    })),
    nextCursor: result.cursor ?? null,
  };
}
