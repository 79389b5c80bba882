import { Duration, Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, type IEventBus } from 'aws-cdk-lib/aws-events';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import {
  CATALOG,
  DERIVED_FROM_STREAM,
  DERIVED_ONLY_ENTITIES,
  type DetailType,
  PUBLISHED_ENTITIES,
  STREAM_DETAIL_TYPES,
} from '../../events/catalog.ts';
import type { CrmClaimCheck } from './claim-check.ts';
import { CrmFunction } from './crm-function.ts';
import { FailureQueue } from './failure-queue.ts';

/** ElectroDB's entity marker on every item: what the stream filter matches on. */
const ENTITY_ATTRIBUTE = '__edb_e__';

/**
 * Lambda event filter: only changes to published entities (not lookups, idempotency records) and to entities that
 * give derived events reach the publisher.
 */
export function publishedEntitiesFilter(): Record<string, unknown> {
  const entity = { [ENTITY_ATTRIBUTE]: { S: [...PUBLISHED_ENTITIES, ...DERIVED_ONLY_ENTITIES] } };
  return { $or: [{ dynamodb: { NewImage: entity } }, { dynamodb: { OldImage: entity } }] };
}

/** How long the bus archive keeps events for replay (claim checks outlive it, see claim-check.ts). */
export const ARCHIVE_RETENTION = Duration.days(90);

/** The catalog events the stream publisher puts: every detail-type of the published entities, and derived ones. */
export function publishedDetailTypes(): DetailType[] {
  const renamed = new Set<string>([...Object.values(STREAM_DETAIL_TYPES), ...DERIVED_FROM_STREAM]);
  return (Object.keys(CATALOG) as DetailType[]).filter(
    (type) => renamed.has(type) || PUBLISHED_ENTITIES.some((entity) => type.startsWith(`${entity}.`)),
  );
}

/**
 * Lets a producer put only its own catalog events on the bus: PutEvents conditioned on `events:source` and
 * `events:detail-type` (every entry of a call must match), so no producer can forge another's events.
 */
export function grantPutCatalogEvents(bus: IEventBus, producer: IGrantable, detailTypes: readonly DetailType[]): void {
  const sources = [...new Set(detailTypes.map((type) => CATALOG[type].source))].sort();
  producer.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['events:PutEvents'],
      resources: [bus.eventBusArn],
      conditions: {
        'ForAllValues:StringEquals': { 'events:source': sources, 'events:detail-type': [...detailTypes].sort() },
        // ForAllValues holds for an empty set: insist that the call names a source.
        Null: { 'events:source': 'false' },
      },
    }),
  );
}

export interface CrmEventsProps {
  table: ITable;
  /** Where the publisher stores values too large for an event. */
  claimCheck: CrmClaimCheck;
}

/**
 * The CRM event bus, with an archive for replay, and the stream publisher that turns every table change into a
 * catalog event on it. Failed batches land in an alarmed failure queue.
 */
export class CrmEvents extends Construct {
  readonly bus: EventBus;
  readonly publisher: CrmFunction;
  readonly failures: FailureQueue;

  constructor(scope: Construct, id: string, props: CrmEventsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.bus = new EventBus(this, 'Bus', { eventBusName: `${stack.stackName}-crm-events` });
    this.bus.archive('Archive', {
      description: 'Every CRM event of this account, for replay',
      eventPattern: { account: [stack.account] },
      retention: ARCHIVE_RETENTION,
    });

    this.publisher = new CrmFunction(this, 'PublishChanges', {
      entry: 'functions/stream/publish-changes.ts',
      serviceName: 'publish-changes',
      description: 'Table stream -> catalog events on the CRM bus',
      memorySize: 512,
      timeout: Duration.seconds(60),
      environment: { EVENT_BUS_NAME: this.bus.eventBusName },
    });
    grantPutCatalogEvents(this.bus, this.publisher.role, publishedDetailTypes());
    props.claimCheck.grantWrite(this.publisher);

    this.failures = new FailureQueue(this, 'PublishFailures', {
      description: 'stream batches the publisher gave up on; their events are missing from the bus until replayed',
    });

    this.publisher.function.addEventSource(
      new DynamoEventSource(props.table, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(1),
        bisectBatchOnError: true,
        retryAttempts: 10,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.failures.queue),
        filters: [{ pattern: JSON.stringify(publishedEntitiesFilter()) }],
      }),
    );
  }
}
