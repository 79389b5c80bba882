import { Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, type Rule } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { ConfigurationSet, EmailSendingEvent, EventDestination } from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';
import { entityKeyPattern } from '../../shared/db/tenant-keys.ts';
import { SES_DETAIL_TYPES } from '../../shared/tracking/ses-events.ts';
import { busConsumer } from './bus-consumer.ts';
import type { CrmFunction } from './crm-function.ts';
import type { FailureQueue } from './failure-queue.ts';

/**
 * The marketing configuration set's name, `<stack name>-marketing`: configuration set names are unique per account and
 * region, so two stacks there each get their own. A literal (the stack name is), so the local cloud needs no Ref to
 * resolve. The senders get it as MARKETING_CONFIGURATION_SET (grantMarketingSend), their IAM scoped to it.
 */
export function marketingConfigurationSetName(stackName: string): string {
  const name = `${stackName}-marketing`;
  // SES allows at most 64 characters (letters, digits, '-' and '_', which stack names are made of).
  if (name.length > 64) throw new Error(`stack name too long for the SES configuration set name ${name}`);
  return name;
}

/** The SES sending events the configuration set publishes (SES v2 names; see shared/tracking/ses-events.ts). */
export const TRACKED_EVENTS = [
  EmailSendingEvent.SEND,
  EmailSendingEvent.DELIVERY,
  EmailSendingEvent.BOUNCE,
  EmailSendingEvent.COMPLAINT,
  EmailSendingEvent.OPEN,
  EmailSendingEvent.CLICK,
  EmailSendingEvent.REJECT,
  EmailSendingEvent.RENDERING_FAILURE,
  EmailSendingEvent.DELIVERY_DELAY,
];

/**
 * The detail-types the tracking consumer gets: all but `Email Sent`. The sender already records every send it made
 * (claimed → sent with SES's id), and a send whose answer was lost is moved to sent by the message's next event
 * (a delivery, bounce or reject always follows), so Send events would cost an invocation per message for nothing.
 * SES still publishes them to the default bus for anyone else's rules.
 */
export const TRACKED_DETAIL_TYPES = SES_DETAIL_TYPES.filter((type) => type !== 'Email Sent');

export interface CrmEmailTrackingProps {
  table: ITable;
}

/**
 * Email tracking: the SES configuration set `<stack>-marketing` publishes its sending events to EventBridge. SES can
 * publish only to the account's default bus, so the rule is on the default bus (source `aws.ses`, the sending
 * events' detail-types) and targets the tracking consumer (functions/events/email-tracking.ts), which applies each
 * event once to the campaign's ledger, counters, the contact's timeline and engagement, and the suppression list.
 */
export class CrmEmailTracking extends Construct {
  readonly configurationSet: ConfigurationSet;
  readonly consumer: CrmFunction;
  readonly failures: FailureQueue;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: CrmEmailTrackingProps) {
    super(scope, id);
    const defaultBus = EventBus.fromEventBusName(this, 'DefaultBus', 'default');
    this.configurationSet = new ConfigurationSet(this, 'ConfigurationSet', {
      configurationSetName: marketingConfigurationSetName(Stack.of(this).stackName),
    });
    this.configurationSet.addEventDestination('EventBridge', {
      destination: EventDestination.eventBus(defaultBus),
      events: TRACKED_EVENTS,
    });

    ({
      consumer: this.consumer,
      failures: this.failures,
      rule: this.rule,
    } = busConsumer(this, {
      bus: defaultBus,
      fn: {
        entry: 'functions/events/email-tracking.ts',
        serviceName: 'email-tracking',
        description: 'SES sending events -> campaign ledger, stats, timeline, engagement, suppression',
        environment: { TABLE_NAME: props.table.tableName },
      },
      eventPattern: { source: ['aws.ses'], detailType: [...TRACKED_DETAIL_TYPES] },
      ruleDescription: 'SES sending events of the marketing configuration set -> email tracking',
      failureDescription: 'SES sending events that were not applied to campaigns',
    }));

    // Only the items it writes, of any tenant (it has no tenant session: the tenant is in the message's tags).
    // Ledger items and stats shards share the campaign's partition: read the ledger, create and ADD to shards.
    const keys = (actions: string[], patterns: string[]) =>
      new PolicyStatement({
        actions,
        resources: [props.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': patterns } },
      });
    const role = this.consumer.role;
    role.addToPrincipalPolicy(
      keys(
        ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        [entityKeyPattern('campaignRecipient', true)],
      ),
    );
    role.addToPrincipalPolicy(
      keys(['dynamodb:PutItem'], [entityKeyPattern('suppression', true), entityKeyPattern('timelineLink', true)]),
    );
    // The engagement item sits in the contact's partition (so the pattern is the contact's): it only updates.
    role.addToPrincipalPolicy(keys(['dynamodb:UpdateItem'], [entityKeyPattern('contactEngagement', true)]));
  }
}
