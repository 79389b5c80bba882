import { RemovalPolicy } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { deriveTableDesign } from '../../shared/db/table.ts';

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
}
