import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Principal } from '../auth/principal.ts';
import { documentClient, tableName } from '../db/client.ts';
import { itemView } from '../db/item-view.ts';
import { timelineIndex } from '../db/keys.ts';
import { checkCursor } from '../db/store.ts';
import type { TimelineEntryView } from '../notes/schema.ts';
import type { Page, PageRequest } from '../records/lists.ts';

/** Maps each timeline entity's stored item to its entry; later issues add activities, deals, tickets, emails. */
const ENTRY_ID: Record<string, string> = {
  note: 'noteId',
  dealStageChange: 'changeId',
  formSubmission: 'submissionId',
};

/**
 * A contact's or company's timeline, newest first: one Query of the shared timeline index (gsi6), whose sort key
 * "<occurredAt>#<entity>#<id>" interleaves every kind of entry by time.
 */
export async function timeline(
  principal: Principal,
  subjectType: 'contact' | 'company' | 'deal' | 'lead',
  subjectId: string,
  page: PageRequest,
): Promise<Page<TimelineEntryView>> {
  const partition = timelineIndex.pk(principal.tenantId, subjectType, subjectId);
  const startKey = checkCursor(page.cursor, 'gsi6pk', partition);
  const result = await documentClient.send(
    new QueryCommand({
      TableName: tableName(),
      IndexName: 'gsi6',
      KeyConditionExpression: 'gsi6pk = :pk',
      ExpressionAttributeValues: { ':pk': partition },
      ScanIndexForward: false,
      Limit: page.limit,
      ...(startKey ? { ExclusiveStartKey: startKey } : {}),
    }),
  );
  const items = (result.Items ?? []).map((item) => {
    // A link item stands for something linked to several records: the entry is that item's, its data the summary.
    if (item.__edb_e__ === 'timelineLink') {
      const data = { id: item.entityId, ...(item.summary as Record<string, unknown>) };
      return { type: String(item.entity), id: String(item.entityId), occurredAt: String(item.occurredAt), data };
    }
    const type = String(item.__edb_e__);
    const idField = ENTRY_ID[type] ?? 'id';
    const data = itemView(item, idField);
    return { type, id: String(item[idField]), occurredAt: String(item.occurredAt), data };
  });
  const next = result.LastEvaluatedKey;
  return { items, nextCursor: next ? Buffer.from(JSON.stringify(next)).toString('base64url') : null };
}
