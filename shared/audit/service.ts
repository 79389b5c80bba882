import type { Principal } from '../auth/principal.ts';
import { checkCursor, model } from '../db/store.ts';
import { isClaimCheck } from '../events/claim-check.ts';
import type { Page, PageRequest } from '../records/lists.ts';
import type { AuditEntryView } from './schema.ts';

/** A record's change history, newest first: one Query. */
export async function history(
  principal: Principal,
  entity: 'contact' | 'company' | 'user',
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
      changes: historyView(changes as AuditEntryView['changes']),
    })),
    nextCursor: result.cursor ?? null,
  };
}

/**
 * A value the history item could not hold (see historyChanges in record.ts) is shown as its reference without the
 * bucket, a deployment detail: `{ "$claimCheck": { schemaVersion, key, bytes, sha256, pointer? } }`.
 */
function historyView(changes: AuditEntryView['changes']): AuditEntryView['changes'] {
  const view = (value: unknown) => {
    if (!isClaimCheck(value)) return value;
    const { bucket: _bucket, ...reference } = value.$claimCheck;
    return { $claimCheck: reference };
  };
  if (isClaimCheck(changes)) return view(changes) as AuditEntryView['changes'];
  const result: AuditEntryView['changes'] = {};
  for (const [field, change] of Object.entries(changes)) {
    result[field] = {
      ...('old' in change ? { old: view(change.old) } : {}),
      ...('new' in change ? { new: view(change.new) } : {}),
    };
  }
  return result;
}
