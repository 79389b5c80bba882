import type { PutEventsRequestEntry, PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import { boundRecordChange, EVENT_BUDGET_BYTES, entrySize, toEntry } from './bounds.ts';
import type { ClaimCheckStore } from './claim-check.ts';
import { isClaimCheck } from './claim-check.ts';
import { streamRecordEvents } from './from-stream.ts';

/** PutEvents takes at most 10 entries per request. */
const MAX_ENTRIES = 10;

export interface PublisherDeps {
  eventBusName: string;
  store: ClaimCheckStore;
  putEvents: (
    entries: PutEventsRequestEntry[],
  ) => Promise<{ FailedEntryCount?: number; Entries?: PutEventsResultEntry[] }>;
  /** An entry the bus rejected (the batch is retried from its record). */
  onRejected?: (entry: PutEventsResultEntry | undefined) => void;
  /** A claim-check write or PutEvents call that failed (the batch is retried from the first unsent record). */
  onError?: (error: unknown) => void;
  onPublished?: (stats: { events: number; claimChecks: number; wholeDetails: number }) => void;
}

/** How many values of a bounded detail were stored aside. */
function claimChecksIn(detail: Record<string, unknown>): { claimChecks: number; wholeDetails: number } {
  if ('$claimCheck' in detail) return { claimChecks: 0, wholeDetails: 1 };
  let claimChecks = isClaimCheck(detail.record) ? 1 : 0;
  for (const change of Object.values((detail.changes ?? {}) as Record<string, { old?: unknown; new?: unknown }>)) {
    if (isClaimCheck(change.old)) claimChecks++;
    if (isClaimCheck(change.new)) claimChecks++;
  }
  return { claimChecks, wholeDetails: 0 };
}

/**
 * Turns stream records into catalog events on the bus, in order. Each event is bounded first (large values stored
 * aside, see bounds.ts), then entries are packed into PutEvents requests of at most 10 entries and the size budget.
 * On the first failure (a claim-check write, the request, or a rejected entry) the batch reports that record and
 * everything after it as failed, so the stream retries from there and no event is lost or reordered.
 */
export async function publishStreamRecords(
  records: DynamoDBRecord[],
  deps: PublisherDeps,
): Promise<DynamoDBBatchResponse> {
  const failedFrom = (record: DynamoDBRecord): DynamoDBBatchResponse => ({
    batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }],
  });
  let pending: Array<{ record: DynamoDBRecord; entry: PutEventsRequestEntry; size: number }> = [];
  let pendingBytes = 0;
  const stats = { events: 0, claimChecks: 0, wholeDetails: 0 };

  /** Sends what is pending; returns the record to retry from if the bus rejected an entry. */
  const flush = async (): Promise<DynamoDBRecord | undefined> => {
    if (pending.length === 0) return undefined;
    const result = await deps.putEvents(pending.map((p) => p.entry));
    const failedAt = (result.Entries ?? []).findIndex((entry) => entry.ErrorCode);
    if ((result.FailedEntryCount ?? 0) > 0) {
      const index = Math.max(failedAt, 0);
      deps.onRejected?.(result.Entries?.[index]);
      return pending[index]!.record;
    }
    stats.events += pending.length;
    pending = [];
    pendingBytes = 0;
    return undefined;
  };

  for (const record of records) {
    try {
      const { change, derived } = streamRecordEvents(record);
      if (!change && derived.length === 0) continue;
      // Derived events (deal.stage_changed, task.due, email.opened...) are small by construction; only record changes
      // need bounds. Some entities (contact engagement) give derived events alone.
      for (const event of [...(change ? [await boundRecordChange(change, deps.store)] : []), ...derived]) {
        const entry = toEntry(event, deps.eventBusName);
        const size = entrySize(entry);
        const counted = claimChecksIn(event.detail as Record<string, unknown>);
        if (pending.length === MAX_ENTRIES || pendingBytes + size > EVENT_BUDGET_BYTES) {
          const rejected = await flush();
          if (rejected) return failedFrom(rejected);
        }
        pending.push({ record, entry, size });
        pendingBytes += size;
        stats.claimChecks += counted.claimChecks;
        stats.wholeDetails += counted.wholeDetails;
      }
    } catch (error) {
      deps.onError?.(error);
      // Nothing pending has been sent: retry from the first unsent record.
      return failedFrom(pending[0]?.record ?? record);
    }
  }
  try {
    const rejected = await flush();
    if (rejected) return failedFrom(rejected);
  } catch (error) {
    deps.onError?.(error);
    return failedFrom(pending[0]!.record);
  }
  deps.onPublished?.(stats);
  return { batchItemFailures: [] };
}
