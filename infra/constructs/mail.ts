import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { BlockPublicAccess, Bucket, BucketEncryption, type CfnBucket } from 'aws-cdk-lib/aws-s3';
import { EmailIdentity, Identity, ReceiptRuleSet, TlsPolicy } from 'aws-cdk-lib/aws-ses';
import { Lambda, LambdaInvocationType, S3 } from 'aws-cdk-lib/aws-ses-actions';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { entityKeyPattern, globalKeyPattern } from '../../shared/db/tenant-keys.ts';
import { CrmFunction, functionLogGroup, nagArnOf } from './crm-function.ts';
import { grantPutCatalogEvents } from './events.ts';
import { FailureQueue } from './failure-queue.ts';

/** Where SES stores raw inbound messages; the inbound function reads `${INBOUND_PREFIX}${messageId}`. */
export const INBOUND_PREFIX = 'inbound/';

/** Dropped messages per 5 minutes above which the inbound alarms fire. */
export const INBOUND_ALARM_THRESHOLDS = { unroutable: 10, rejected: 20 } as const;

export interface CrmMailProps {
  bus: IEventBus;
  /** The table: the inbound function reads address claims and mailboxes in it (GetItem only). */
  table: ITable;
  /** Receipt rule recipients (addresses or domains). When given, the rule set is also made the active one. */
  inboundRecipients?: string[];
  /** Verified as an SES identity for outbound mail, when given. */
  senderEmail?: string;
}

/**
 * Email in: SES stores each message in S3, then invokes the inbound function, which puts `email.received` on the
 * bus. Email out: only the sender identity for now (no sending function exists yet, so nothing may send).
 */
export class CrmMail extends Construct {
  readonly bucket: Bucket;
  readonly inbound: CrmFunction;
  /** Messages the inbound function could not turn into `email.received` after Lambda's retries. */
  readonly failures: FailureQueue;
  readonly ruleSet: ReceiptRuleSet;
  readonly senderIdentity?: EmailIdentity;
  /** Mail for addresses no mailbox owns (dropped), and mail a mailbox's verdict policy rejected. */
  readonly unroutableAlarm: Alarm;
  readonly rejectedAlarm: Alarm;

  constructor(scope: Construct, id: string, props: CrmMailProps) {
    super(scope, id);
    // Log delivery through a bucket policy, with ACLs disabled, instead of the legacy LogDeliveryWrite ACL.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const common = {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      removalPolicy: RemovalPolicy.RETAIN,
    };
    const accessLogs = new Bucket(this, 'AccessLogs', {
      ...common,
      lifecycleRules: [{ expiration: Duration.days(365) }],
    });
    Validations.of(accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket is the access-log destination of the inbound mail bucket; logging it would recurse.',
    });
    this.bucket = new Bucket(this, 'Inbound', {
      ...common,
      // Raw messages are parsed into events at once; the copy is kept for a while for support and reprocessing.
      lifecycleRules: [{ expiration: Duration.days(90) }],
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'inbound-mail/',
    });

    this.inbound = new CrmFunction(this, 'InboundEmail', {
      entry: 'functions/mail/inbound-email.ts',
      serviceName: 'inbound-email',
      description: 'SES receipt rule action: stored message -> email.received on the CRM bus',
      memorySize: 512,
      timeout: Duration.seconds(30),
      environment: {
        EVENT_BUS_NAME: props.bus.eventBusName,
        INBOUND_BUCKET: this.bucket.bucketName,
        INBOUND_PREFIX,
        TABLE_NAME: props.table.tableName,
      },
    });
    // SES invokes asynchronously: a failed parse or publish is retried by Lambda, then parked here (the raw message
    // stays in S3), so no customer email is silently dropped.
    this.failures = new FailureQueue(this, 'Failures', {
      description: 'inbound messages that were not published as email.received',
    });
    this.inbound.function.configureAsyncInvoke({
      retryAttempts: 2,
      onFailure: new SqsDestination(this.failures.queue),
    });
    const inboundObjects = this.bucket.arnForObjects(`${INBOUND_PREFIX}*`);
    this.inbound.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:GetObject'], resources: [inboundObjects] }),
    );
    grantPutCatalogEvents(props.bus, this.inbound.role, ['email.received']);
    // It has no tenant (it learns the tenant from the address), so no tenant session: its own role may GetItem only
    // address claims (`$crm#mailboxAddress_*`) and mailbox items of any tenant (`$crm#tenantId_*#mailboxId_*`),
    // nothing else: no write, no Query, no other record kind (a wildcard also spans '#', but tenant and mailbox ids
    // never contain one, and the code builds only those two keys).
    this.inbound.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem'],
        resources: [props.table.tableArn],
        conditions: {
          'ForAllValues:StringLike': {
            'dynamodb:LeadingKeys': [globalKeyPattern('mailboxClaim', true), entityKeyPattern('mailbox', true)],
          },
        },
      }),
    );

    // Dropped mail is invisible to senders' support teams: alarm when it is more than background noise (mail to
    // made-up addresses of a received domain is normal; a burst means a mailbox is missing or a policy is too strict).
    const inboundMetric = (metricName: string) =>
      new Metric({
        namespace: 'CRM',
        metricName,
        dimensionsMap: { service: 'inbound-email' },
        statistic: 'Sum',
        period: Duration.minutes(5),
      });
    const alarmOn = (id: string, metricName: string, threshold: number, what: string) =>
      new Alarm(this, id, {
        alarmDescription: `More than ${threshold} inbound messages in 5 minutes ${what}.`,
        metric: inboundMetric(metricName),
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    this.unroutableAlarm = alarmOn(
      'UnroutableAlarm',
      'InboundEmailsUnroutable',
      INBOUND_ALARM_THRESHOLDS.unroutable,
      'were for addresses no mailbox owns (dropped)',
    );
    this.rejectedAlarm = alarmOn(
      'RejectedAlarm',
      'InboundEmailsRejected',
      INBOUND_ALARM_THRESHOLDS.rejected,
      "were rejected by their mailbox's verdict policy (dropped)",
    );
    this.inbound.acknowledgeWildcardResource(
      `${nagArnOf(this.bucket.node.defaultChild as CfnBucket)}/${INBOUND_PREFIX}*`,
      'Reads any stored inbound message (object keys are SES message ids), under the inbound/ prefix only.',
    );

    // The S3 action also adds the bucket policy: ses.amazonaws.com may PutObject under inbound/ for this account only.
    this.ruleSet = new ReceiptRuleSet(this, 'RuleSet');
    this.ruleSet.addRule('Inbound', {
      ...(props.inboundRecipients?.length ? { recipients: props.inboundRecipients } : {}),
      enabled: true,
      scanEnabled: true,
      tlsPolicy: TlsPolicy.REQUIRE,
      actions: [
        new S3({ bucket: this.bucket, objectKeyPrefix: INBOUND_PREFIX }),
        new Lambda({ function: this.inbound.function, invocationType: LambdaInvocationType.EVENT }),
      ],
    });
    if (props.inboundRecipients?.length) this.activate();

    if (props.senderEmail) {
      this.senderIdentity = new EmailIdentity(this, 'Sender', { identity: Identity.email(props.senderEmail) });
    }
  }

  /**
   * An account has one active receipt rule set and CloudFormation cannot choose it, so a custom resource does: it
   * activates ours on create/update and deactivates it on delete (SES refuses to delete an active rule set).
   * Only done when recipients are configured, so a deployment never takes over an account's existing inbound mail.
   */
  private activate(): void {
    const activate = {
      service: 'SES',
      action: 'setActiveReceiptRuleSet',
      parameters: { RuleSetName: this.ruleSet.receiptRuleSetName },
      // Constant: a new id would make CloudFormation delete the old resource, i.e. deactivate the rule set again.
      physicalResourceId: PhysicalResourceId.of('crm-active-receipt-rule-set'),
    };
    // Our own role, writing only to the functions' shared log group, instead of AWSLambdaBasicExecutionRole.
    const logGroup = functionLogGroup(this);
    const role = new Role(this, 'ActivateRuleSetRole', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    const activation = new AwsCustomResource(this, 'ActivateRuleSet', {
      role,
      logGroup,
      onCreate: activate,
      onUpdate: activate,
      // No RuleSetName: no rule set is active any more.
      onDelete: { service: 'SES', action: 'setActiveReceiptRuleSet', parameters: {} },
      policy: AwsCustomResourcePolicy.fromStatements([
        new PolicyStatement({ actions: ['ses:SetActiveReceiptRuleSet'], resources: ['*'] }),
      ]),
      installLatestAwsSdk: false,
    });
    Validations.of(activation).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ses:SetActiveReceiptRuleSet supports no resource-level permissions; it is the only action granted.',
    });
  }
}
