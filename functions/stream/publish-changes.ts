import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import * as z from 'zod';
import { readConfig } from '../../shared/config.ts';
import type { ClaimCheckStore } from '../../shared/events/claim-check.ts';
import { publishStreamRecords } from '../../shared/events/publisher.ts';
import { s3ClaimCheckStore } from '../../shared/events/s3-store.ts';
import { logger, metrics } from '../../shared/observability.ts';

const configSchema = z.object({ EVENT_BUS_NAME: z.string().min(1), CLAIM_CHECK_BUCKET: z.string().min(1) });

const eventBridge = new EventBridgeClient({});
const s3 = new S3Client({});

/** Configuration and the claim-check store, read on first use. */
let setup: { eventBusName: string; store: ClaimCheckStore } | undefined;
function configured() {
  if (!setup) {
    const config = readConfig(configSchema);
    setup = { eventBusName: config.EVENT_BUS_NAME, store: s3ClaimCheckStore(s3, config.CLAIM_CHECK_BUCKET) };
  }
  return setup;
}

/**
 * Turns table changes into catalog events on the bus (shared/events/publisher.ts). Every write path publishes
 * through here, so none can forget to; large values go to the claim-check bucket, so no event is too big to publish.
 */
async function publish(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const { eventBusName, store } = configured();
  return publishStreamRecords(event.Records, {
    eventBusName,
    store,
    putEvents: (entries) => eventBridge.send(new PutEventsCommand({ Entries: entries })),
    onRejected: (entry) => {
      logger.warn('event rejected by the bus; retrying from it', { entry });
      metrics.addMetric('PublishRetries', MetricUnit.Count, 1);
    },
    onError: (error) => {
      logger.error('publishing failed; retrying from the first unsent record', { error });
      metrics.addMetric('PublishRetries', MetricUnit.Count, 1);
    },
    onPublished: ({ events, claimChecks, wholeDetails }) => {
      metrics.addMetric('EventsPublished', MetricUnit.Count, events);
      metrics.addMetric('ClaimCheckedValues', MetricUnit.Count, claimChecks);
      metrics.addMetric('ClaimCheckedDetails', MetricUnit.Count, wholeDetails);
    },
  });
}

export const handler = middy(publish).use(injectLambdaContext(logger)).use(logMetrics(metrics));
