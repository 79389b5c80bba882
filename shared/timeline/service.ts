import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Principal } from '../auth/principal.ts';
import { documentClient, tableName } from '../db/client.ts';
import { timelineIndex } from '../db/keys.ts';
import { checkCursor } from '../db/store.ts';
import type { TimelineEntryView } from '../notes/schema.ts';
import type { Page, PageRequest } from '../records/lists.ts';

/** Key and bookkeeping attributes that never reach a timeline entry. */
const HIDDEN = /^(pk|sk|gsi\d+(pk|sk)|__edb_[ev]__|tenantId|ttl|deletedBy)$/;

/** Maps each timeline entity's stored item to its entry; later issues add activities, deals, tickets, emails. */
const ENTRY_ID: Record<string, string> = { note: 'noteId' };

/**
 * A contact's or company's timeline, newest first: one Query of the shared timeline index (gsi6), whose sort key
 * "<occurredAt>#<entity>#<id>" interleaves every kind of entry by time.
 */
export async function timeline(
  principal: Principal,
  subjectType: 'contact' | 'company',
  subjectId: string,
  page: PageRequest,
): Promise<Page<TimelineEntryView>> {
  const partition = timelineIndex.pk(principal.tenantId, subjectType, subjectId);
  checkCursor(page.cursor, 'gsi6pk', partition);
  const result = await documentClient.send(
    new QueryCommand({
      TableName: tableName,
      IndexName: 'gsi6',
      KeyConditionExpression: 'gsi6pk = :pk',
      ExpressionAttributeValues: { ':pk': partition },
      ScanIndexForward: false,
      Limit: page.limit,
      ...(page.cursor ? { ExclusiveStartKey: JSON.parse(Buffer.from(page.cursor, 'base64url').toString('utf8')) } : {}),
    }),
  );
  const items = (result.Items ?? []).map((item) => {
    const type = String(item.__edb_e__);
    const idField = ENTRY_ID[type] ?? 'id';
    const data: Record<string, unknown> = { id: item[idField] };
    for (const [key, value] of Object.entries(item)) if (!HIDDEN.test(key) && key !== idField) data[key] = value;
    return { type, id: String(item[idField]), occurredAt: String(item.occurredAt), data };
  });
  const next = result.LastEvaluatedKey;
  return { items, nextCursor: next ? Buffer.from(JSON.stringify(next)).toString('base64url') : null };
}
