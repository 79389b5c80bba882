import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CATALOG, type DetailType } from '../../events/catalog.ts';
import { busConsumer } from './bus-consumer.ts';
import type { CrmFunction } from './crm-function.ts';
import type { FailureQueue } from './failure-queue.ts';

/** Every contact and company change (created, updated, deleted, restored, merged). */
export function candidateEvents(): { source: string[]; detailType: DetailType[] } {
  const types = (Object.keys(CATALOG) as DetailType[]).filter(
    (type) => type.startsWith('contact.') || type.startsWith('company.'),
  );
  return { source: [...new Set(types.map((type) => CATALOG[type].source))], detailType: types };
}

export interface CrmDuplicateCandidatesProps {
  bus: IEventBus;
  table: ITable;
}

/**
 * Keeps the match keys and candidate pairs behind `GET /v1/duplicates`: a rule sends every contact and company
 * change to a function that re-reads the record and updates its keys and pairs (plain items on the table; the list
 * is gsi7, read only by the API). What fails is retried, then parked in an alarmed queue.
 */
export class CrmDuplicateCandidates extends Construct {
  readonly consumer: CrmFunction;
  readonly failures: FailureQueue;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: CrmDuplicateCandidatesProps) {
    super(scope, id);
    const events = candidateEvents();
    ({
      consumer: this.consumer,
      failures: this.failures,
      rule: this.rule,
    } = busConsumer(this, {
      bus: props.bus,
      fn: {
        entry: 'functions/events/duplicate-candidates.ts',
        serviceName: 'duplicate-candidates',
        description: 'Contact and company changes -> match keys and candidate duplicate pairs',
        environment: { TABLE_NAME: props.table.tableName },
      },
      eventPattern: { source: events.source, detailType: events.detailType },
      ruleDescription: 'Contact and company changes -> duplicate candidates',
      failureDescription: 'change events whose duplicate candidates were not refreshed',
    }));
    // Reads the record and its key set; puts/deletes match keys and pairs; queries a key's holders and a record's
    // pairs on the table. No index.
    this.consumer.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Query'],
        resources: [props.table.tableArn],
      }),
    );
  }
}
