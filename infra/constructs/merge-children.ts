import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CATALOG } from '../../events/catalog.ts';
import { busConsumer } from './bus-consumer.ts';
import type { CrmFunction } from './crm-function.ts';
import type { FailureQueue } from './failure-queue.ts';

export const MERGE_EVENTS = ['contact.merged', 'company.merged'] as const;

export interface CrmMergeChildrenProps {
  bus: IEventBus;
  table: ITable;
}

/**
 * After a merge, a rule on `contact.merged` / `company.merged` runs the movers (shared/merge/movers.ts) that re-point
 * the loser's notes, deals and activities and a merged company's contacts to the winner. The
 * movers are idempotent, so Lambda's retries and EventBridge's redeliveries are safe; what still fails is parked in
 * an alarmed queue.
 */
export class CrmMergeChildren extends Construct {
  readonly consumer: CrmFunction;
  readonly failures: FailureQueue;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: CrmMergeChildrenProps) {
    super(scope, id);
    ({
      consumer: this.consumer,
      failures: this.failures,
      rule: this.rule,
    } = busConsumer(this, {
      bus: props.bus,
      fn: {
        entry: 'functions/events/merge-children.ts',
        serviceName: 'merge-children',
        description: 'contact.merged / company.merged -> move notes, contacts, deals and activities to the winner',
        timeout: Duration.minutes(5),
        environment: { TABLE_NAME: props.table.tableName },
      },
      eventPattern: {
        source: [...new Set(MERGE_EVENTS.map((type) => CATALOG[type].source))],
        detailType: [...MERGE_EVENTS],
      },
      ruleDescription: 'Merges -> move the loser’s children to the winner',
      failureDescription: 'merge events whose children were not moved to the winner',
    }));
    // Reads the loser, the tenant's settings and each child; rewrites notes, contacts, deals and activities (Put with
    // their lookups and timeline links, ConditionChecks on what they now reference); lists notes and activities on the
    // timeline index, contacts and deals by company (gsi3), and a contact's deals through their lookups (the table).
    this.consumer.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem'],
        resources: [props.table.tableArn],
      }),
    );
    this.consumer.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [props.table.tableArn, `${props.table.tableArn}/index/gsi3`, `${props.table.tableArn}/index/gsi6`],
      }),
    );
  }
}
