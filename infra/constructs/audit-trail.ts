import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CATALOG, type DetailType } from '../../events/catalog.ts';
import { busConsumer } from './bus-consumer.ts';
import type { CrmClaimCheck } from './claim-check.ts';
import type { CrmFunction } from './crm-function.ts';
import type { FailureQueue } from './failure-queue.ts';

/** Records with a history (GET .../history): every change event of these entities is audited. */
export const AUDITED_ENTITIES = ['contact', 'company', 'user'] as const;

/** The catalog's detail-types (and their sources) for the audited entities. */
export function auditedEvents(): { source: string[]; detailType: DetailType[] } {
  const types = (Object.keys(CATALOG) as DetailType[]).filter((type) =>
    AUDITED_ENTITIES.some((entity) => type.startsWith(`${entity}.`)),
  );
  return { source: [...new Set(types.map((type) => CATALOG[type].source))], detailType: types };
}

export interface CrmAuditTrailProps {
  bus: IEventBus;
  table: ITable;
  /** Claim-checked values of change events are read back from here into the history. */
  claimCheck: CrmClaimCheck;
}

/**
 * The audit-trail consumer: a rule on the CRM bus sends every contact and company change to a function that writes
 * it into the record's history. Events it cannot take (delivery or handler failures) land in an alarmed queue.
 */
export class CrmAuditTrail extends Construct {
  readonly consumer: CrmFunction;
  readonly failures: FailureQueue;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: CrmAuditTrailProps) {
    super(scope, id);
    const events = auditedEvents();
    ({
      consumer: this.consumer,
      failures: this.failures,
      rule: this.rule,
    } = busConsumer(this, {
      bus: props.bus,
      fn: {
        entry: 'functions/events/audit-trail.ts',
        serviceName: 'audit-trail',
        description: 'Contact and company change events -> record history',
        environment: { TABLE_NAME: props.table.tableName },
      },
      eventPattern: { source: events.source, detailType: events.detailType },
      ruleDescription: 'Contact and company changes -> audit trail',
      failureDescription: 'change events that were not written to the audit trail',
    }));
    // History entries are plain puts keyed by record and version: nothing else, and no index.
    this.consumer.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [props.table.tableArn] }),
    );
    props.claimCheck.grantRead(this.consumer);
  }
}
