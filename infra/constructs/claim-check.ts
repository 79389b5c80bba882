import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption, type CfnBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { type CrmFunction, nagArnOf } from './crm-function.ts';

/** Every claim check is written under this prefix (see claimCheckKey in shared/events/claim-check.ts). */
export const CLAIM_CHECK_PREFIX = 'events/';

/** How much longer claim checks live than the bus archive keeps the events that reference them. */
const BEYOND_ARCHIVE = Duration.days(30);

export interface CrmClaimCheckProps {
  /** The bus archive's retention: a replayed event must still find its claim checks. */
  archiveRetention: Duration;
}

/**
 * The claim-check bucket: values too large for an event (EventBridge's 256 KB entry limit) are stored here by the
 * stream publisher and read back by consumers. Objects expire 30 days after the bus archive's retention, so every
 * archived event can still be replayed with its values. The audit trail copies values into the history as it goes;
 * only a change too large for one history item (beyond what the stored-record cap allows) keeps a reference there,
 * readable for the same period.
 */
export class CrmClaimCheck extends Construct {
  readonly bucket: Bucket;
  readonly expiration: Duration;

  constructor(scope: Construct, id: string, props: CrmClaimCheckProps) {
    super(scope, id);
    this.expiration = Duration.days(props.archiveRetention.toDays() + BEYOND_ARCHIVE.toDays());
    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      // Objects are written again at the same key on a retry; the bucket is emptied by expiry, never by a stack delete.
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ expiration: this.expiration, abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Claim checks are transient copies of table items that expire, written only by the stream publisher role ' +
        'and read only by event consumer roles; as for the table itself, object-level access is audited with ' +
        'CloudTrail data events rather than server access logs.',
    });
  }

  /** Lets a function write claim checks: s3:PutObject under the claim-check prefix, nothing else. */
  grantWrite(fn: CrmFunction): void {
    this.grant(fn, 's3:PutObject', 'Writes claim checks (keys derived from tenant, record and version) under events/.');
  }

  /** Lets a function resolve claim checks: s3:GetObject under the claim-check prefix, nothing else. */
  grantRead(fn: CrmFunction): void {
    this.grant(fn, 's3:GetObject', 'Reads the claim checks events reference (any key under events/).');
  }

  private grant(fn: CrmFunction, action: string, reason: string): void {
    fn.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: [action], resources: [this.bucket.arnForObjects(`${CLAIM_CHECK_PREFIX}*`)] }),
    );
    fn.function.addEnvironment('CLAIM_CHECK_BUCKET', this.bucket.bucketName);
    fn.acknowledgeWildcardResource(
      `${nagArnOf(this.bucket.node.defaultChild as CfnBucket)}/${CLAIM_CHECK_PREFIX}*`,
      reason,
    );
  }
}
