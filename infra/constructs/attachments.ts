import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption, type CfnBucket, HttpMethods } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ATTACHMENT_PREFIX } from '../../shared/tickets/attachments.ts';
import { type CrmFunction, nagArnOf } from './crm-function.ts';

export interface CrmAttachmentsProps {
  /** Origins of the web apps that upload and download files with pre-signed URLs (the API's CORS origins). */
  allowedOrigins: string[];
}

/**
 * Files of tickets: private, SSE-S3, TLS only. Clients never get bucket access; the tickets function hands out
 * pre-signed PUT and GET URLs (15 minutes) for keys `tickets/<tenant>/<ticket>/<attachment>` that it builds from
 * the caller's tenant, signed with its own role, which may only put and get objects under `tickets/`.
 */
export class CrmAttachments extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: CrmAttachmentsProps) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      removalPolicy: RemovalPolicy.RETAIN,
      // A declared file that is never uploaded leaves nothing behind; a stalled multipart upload is cleaned up.
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      ...(props.allowedOrigins.length > 0
        ? {
            cors: [
              {
                allowedOrigins: props.allowedOrigins,
                allowedMethods: [HttpMethods.PUT, HttpMethods.GET],
                allowedHeaders: ['content-type', 'content-length'],
                maxAge: 3600,
              },
            ],
          }
        : {}),
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Ticket files are written and read only through pre-signed URLs the tickets function issues per request ' +
        '(each logged by the API); object-level access is audited with CloudTrail data events, as for the table.',
    });
  }

  /** Lets the reply sender read the files a reply carries: s3:GetObject under `tickets/` only. */
  grantReadTicketFiles(fn: CrmFunction): void {
    fn.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`${ATTACHMENT_PREFIX}*`)],
      }),
    );
    fn.function.addEnvironment('ATTACHMENTS_BUCKET', this.bucket.bucketName);
    fn.acknowledgeWildcardResource(
      `${nagArnOf(this.bucket.node.defaultChild as CfnBucket)}/${ATTACHMENT_PREFIX}*`,
      'Reads the files replies carry (keys tickets/<tenant>/<ticket>/<attachment>), under tickets/ only.',
    );
  }

  /** Lets the tickets function sign uploads and downloads of ticket files: s3:PutObject and s3:GetObject there. */
  grantTicketFiles(fn: CrmFunction): void {
    fn.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject'],
        resources: [this.bucket.arnForObjects(`${ATTACHMENT_PREFIX}*`)],
      }),
    );
    fn.function.addEnvironment('ATTACHMENTS_BUCKET', this.bucket.bucketName);
    fn.acknowledgeWildcardResource(
      `${nagArnOf(this.bucket.node.defaultChild as CfnBucket)}/${ATTACHMENT_PREFIX}*`,
      'Signs uploads and downloads of any ticket file (keys tickets/<tenant>/<ticket>/<attachment>), under tickets/ only.',
    );
  }
}
