import { RemovalPolicy } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  type CfnTable,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { deriveTableDesign } from '../../shared/db/table.ts';
import { type CrmFunction, nagArnOf } from './crm-function.ts';

/**
 * What request paths may do: single-item reads and writes (TransactWriteItems is authorized per item action) and
 * Query. Never Scan, never batch or table-level operations.
 */
export const TABLE_REQUEST_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:Query',
] as const;

/**
 * The single table, with keys and GSIs derived from the ElectroDB entities (never retyped here). Its stream feeds
 * the event publisher, so every change becomes a domain event.
 */
export class CrmData extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const design = deriveTableDesign();
    this.table = new Table(this, 'Table', {
      partitionKey: { name: design.partitionKey, type: AttributeType.STRING },
      sortKey: { name: design.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      timeToLiveAttribute: design.timeToLiveAttribute,
      stream: StreamViewType.NEW_AND_OLD_IMAGES,
      // The aws/dynamodb KMS key: encrypted at rest and visible in CloudTrail, with no key of ours to manage.
      encryption: TableEncryption.AWS_MANAGED,
    });
    for (const index of design.globalIndexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType.ALL,
      });
    }
  }

  /** The request-path actions on the table and its indexes (table.grant covers `index/*` when there are GSIs). */
  grantRequestAccess(fn: CrmFunction): void {
    this.table.grant(fn.role, ...TABLE_REQUEST_ACTIONS);
    fn.acknowledgeWildcardResource(
      `${nagArnOf(this.table.node.defaultChild as CfnTable)}/index/*`,
      'Query on any GSI of this one table (GSIs are derived from the entities and change with them); item actions ' +
        'apply to the table itself.',
    );
  }
}
