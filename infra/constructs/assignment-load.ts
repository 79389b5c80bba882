import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CATALOG, type DetailType } from '../../events/catalog.ts';
import { busConsumer } from './bus-consumer.ts';
import type { CrmClaimCheck } from './claim-check.ts';
import type { CrmFunction } from './crm-function.ts';
import type { FailureQueue } from './failure-queue.ts';

/**
 * Owned records whose changes move their owners' open loads (shared/assignment/load.ts says when each is open); a
 * ticket's assignee has a ticket load of its own.
 */
export const LOAD_COUNTED_ENTITIES = ['contact', 'lead', 'deal', 'ticket'] as const;
const RECORD_ACTIONS = ['created', 'updated', 'deleted', 'restored'];

/** Their record-change events (not derived ones such as deal.stage_changed, whose updates already say it). */
export function loadCountedEvents(): { source: string[]; detailType: DetailType[] } {
  const types = (Object.keys(CATALOG) as DetailType[]).filter((type) =>
    LOAD_COUNTED_ENTITIES.some((entity) => RECORD_ACTIONS.some((action) => type === `${entity}.${action}`)),
  );
  return { source: [...new Set(types.map((type) => CATALOG[type].source))], detailType: types };
}

export interface CrmAssignmentLoadProps {
  bus: IEventBus;
  table: ITable;
  claimCheck: CrmClaimCheck;
}

/**
 * The assignment-load consumer: a rule on the CRM bus sends owned records' changes to a function that keeps each
 * user's open-load counter in step (least-loaded assignment and capacities read it). Failures land in an alarmed queue.
 */
export class CrmAssignmentLoad extends Construct {
  readonly consumer: CrmFunction;
  readonly failures: FailureQueue;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: CrmAssignmentLoadProps) {
    super(scope, id);
    const events = loadCountedEvents();
    ({
      consumer: this.consumer,
      failures: this.failures,
      rule: this.rule,
    } = busConsumer(this, {
      bus: props.bus,
      fn: {
        entry: 'functions/events/assignment-load.ts',
        serviceName: 'assignment-load',
        description: 'Owned record changes -> users’ open-load counters (assignment)',
        environment: { TABLE_NAME: props.table.tableName },
      },
      eventPattern: { source: events.source, detailType: events.detailType },
      ruleDescription: 'Owned record changes -> assignment loads',
      failureDescription: 'record changes that were not applied to assignment loads',
    }));
    // One transaction per change: a conditional put of the applied-marker and ADDs on load counters. No reads.
    this.consumer.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'], resources: [props.table.tableArn] }),
    );
    props.claimCheck.grantRead(this.consumer);
  }
}
