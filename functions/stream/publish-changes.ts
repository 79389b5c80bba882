import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import * as z from 'zod';
import { readConfig } from '../../shared/config.ts';
import { eventFromStreamRecord } from '../../shared/events/from-stream.ts';
import { logger } from '../../shared/observability.ts';

const config = readConfig(z.object({ EVENT_BUS_NAME: z.string().min(1) }));
const eventBridge = new EventBridgeClient({});

/**
 * Turns table changes into catalog events on the bus. Every write path publishes through here, so none can forget
 * to. Records are sent in order, 10 per PutEvents; on the first failure the batch reports that record and everything
 * after it as failed, so the stream retries from there and no event is lost or reordered.
 */
export async function handler(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const records = event.Records;
  for (let start = 0; start < records.length; start += 10) {
    const chunk = records.slice(start, start + 10);
    const mapped = chunk.map((record) => ({ record, event: eventFromStreamRecord(record) }));
    const entries = mapped.filter((m) => m.event !== undefined);
    if (entries.length === 0) continue;
    try {
      const result = await eventBridge.send(
        new PutEventsCommand({
          Entries: entries.map(({ event: e }) => ({
            EventBusName: config.EVENT_BUS_NAME,
            Source: e!.source,
            DetailType: e!.detailType,
            Detail: JSON.stringify(e!.detail),
          })),
        }),
      );
      const failedAt = (result.Entries ?? []).findIndex((entry) => entry.ErrorCode);
      if ((result.FailedEntryCount ?? 0) > 0 && failedAt >= 0) {
        const failed = entries[failedAt]!;
        logger.warn('event rejected by the bus; retrying from it', { error: result.Entries?.[failedAt] });
        return { batchItemFailures: [{ itemIdentifier: failed.record.dynamodb?.SequenceNumber ?? '' }] };
      }
    } catch (error) {
      logger.error('publishing failed; retrying from this chunk', { error: error as Error });
      return { batchItemFailures: [{ itemIdentifier: chunk[0]!.dynamodb?.SequenceNumber ?? '' }] };
    }
  }
  return { batchItemFailures: [] };
}
