import type { EventBridgeEvent } from 'aws-lambda';
import type { RecordChangedDetail } from '../../events/catalog.ts';
import { CATALOG, type DetailType } from '../../events/catalog.ts';
import { recordChange } from '../../shared/audit/service.ts';

/**
 * EventBridge target: every contact and company change becomes an entry in that record's history. The detail is
 * parsed with the catalog schema, so a malformed event fails loudly (and goes to the rule's dead-letter queue).
 */
export async function handler(event: EventBridgeEvent<string, unknown>): Promise<void> {
  const entry = CATALOG[event['detail-type'] as DetailType];
  if (!entry) throw new Error(`no catalog entry for ${event['detail-type']}`);
  const detail = entry.schema.parse(event.detail) as RecordChangedDetail;
  await recordChange(event['detail-type'], detail);
}
