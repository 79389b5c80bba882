import { Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CATALOG } from '../../events/catalog.ts';
import type { CrmAttachments } from './attachments.ts';
import { type BusConsumer, busConsumer } from './bus-consumer.ts';
import type { CrmClaimCheck } from './claim-check.ts';
import { nagArnOf, nagStackArn } from './crm-function.ts';
import { type CrmMail, INBOUND_PREFIX } from './mail.ts';

/** The domain of our Message-IDs when the stack is given none (`-c mailDomain=...`). */
export const DEFAULT_MAIL_DOMAIN = 'crm.local';

export interface CrmTicketMailProps {
  bus: IEventBus;
  table: ITable;
  mail: CrmMail;
  attachments: CrmAttachments;
  claimCheck: CrmClaimCheck;
  /** MAIL_DOMAIN: the right-hand side of our Message-IDs. */
  mailDomain: string;
}

/**
 * Tickets by email. `email.received` → a consumer that turns each mail into a ticket or a reply on one
 * (functions/events/ticket-mail.ts); `ticket.message_added` of a queued reply → the reply sender
 * (functions/events/ticket-reply-send.ts), which sends it through SES once. No tenant session (consumers): each
 * function role gets only the table actions, object prefixes and SES actions it uses.
 */
export class CrmTicketMail extends Construct {
  readonly intake: BusConsumer;
  readonly sender: BusConsumer;

  constructor(scope: Construct, id: string, props: CrmTicketMailProps) {
    super(scope, id);
    const table = props.table.tableArn;
    this.intake = busConsumer(new Construct(this, 'Intake'), {
      bus: props.bus,
      fn: {
        entry: 'functions/events/ticket-mail.ts',
        serviceName: 'ticket-mail',
        description: 'email.received -> a ticket, or a customer reply on the ticket it threads to',
        environment: {
          TABLE_NAME: props.table.tableName,
          INBOUND_BUCKET: props.mail.bucket.bucketName,
          INBOUND_PREFIX,
          MAIL_DOMAIN: props.mailDomain,
        },
      },
      eventPattern: { source: [CATALOG['email.received'].source], detailType: ['email.received'] },
      ruleDescription: 'Inbound mail -> tickets',
      failureDescription: 'inbound mail that did not become a ticket or a reply',
    });
    const intake = this.intake.consumer;
    // Reads tickets, lookups, settings and the contact rules; writes a contact (its lookups, claims) and the ticket
    // or message transaction (Put, conditional Update of counters, ConditionChecks); lookups are table Queries.
    intake.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:ConditionCheckItem',
          'dynamodb:Query',
        ],
        resources: [table],
      }),
    );
    intake.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [props.mail.bucket.arnForObjects(`${INBOUND_PREFIX}*`)],
      }),
    );
    intake.acknowledgeWildcardResource(
      `${nagArnOf(props.mail.bucket.node.defaultChild as CfnBucket)}/${INBOUND_PREFIX}*`,
      'Reads the stored raw message an email.received names (keys are SES message ids), under inbound/ only.',
    );
    props.attachments.grantTicketFiles(intake);

    this.sender = busConsumer(new Construct(this, 'Sender'), {
      bus: props.bus,
      fn: {
        entry: 'functions/events/ticket-reply-send.ts',
        serviceName: 'ticket-reply-send',
        description: 'ticket.message_added of a queued email reply -> SES (once), then recorded sent',
        environment: { TABLE_NAME: props.table.tableName },
      },
      eventPattern: {
        source: [CATALOG['ticket.message_added'].source],
        detailType: ['ticket.message_added'],
        // Only queued replies; a record or detail too large for the event is a claim check and comes too.
        detail: {
          $or: [
            { record: { delivery: { status: ['queued'] } } },
            { record: { $claimCheck: { key: [{ exists: true }] } } },
            { $claimCheck: { key: [{ exists: true }] } },
          ],
        },
      },
      ruleDescription: 'Queued email replies -> SES',
      failureDescription: 'email replies that were not sent',
    });
    const sender = this.sender.consumer;
    // The message and its files' records are GetItems; the claim and the outcome are conditional Updates; SES's id
    // is a lookup Put.
    sender.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem'],
        resources: [table],
      }),
    );
    props.attachments.grantReadTicketFiles(sender);
    props.claimCheck.grantRead(sender);
    // From is each tenant's mailbox address (tenant data, verified as SES identities by the operator), so any
    // identity of this account and region; SES v2 SendEmail with Raw content is authorised as both actions.
    const stack = Stack.of(this);
    sender.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['ses:SendEmail', 'ses:SendRawEmail'],
        resources: [stack.formatArn({ service: 'ses', resource: 'identity', resourceName: '*' })],
      }),
    );
    sender.acknowledgeWildcardResource(
      nagStackArn(stack, 'ses', 'identity/*'),
      "Replies go out from each tenant's support mailbox address, which is tenant data: any verified identity of " +
        'this account; sending only.',
    );
  }
}
