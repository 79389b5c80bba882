import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { CrmApi, type ThrottleSettings } from './constructs/api.ts';
import { CrmAssignmentLoad } from './constructs/assignment-load.ts';
import { CrmAttachments } from './constructs/attachments.ts';
import { CrmAuditTrail } from './constructs/audit-trail.ts';
import { CrmAuth } from './constructs/auth.ts';
import { CrmCampaigns } from './constructs/campaigns.ts';
import { CrmClaimCheck } from './constructs/claim-check.ts';
import { functionLogGroup } from './constructs/crm-function.ts';
import { CrmData } from './constructs/data.ts';
import { CrmDuplicateCandidates } from './constructs/duplicate-candidates.ts';
import { CrmEdgeDistribution } from './constructs/edge.ts';
import { CrmEmailTracking, marketingConfigurationSetName } from './constructs/email-tracking.ts';
import { ARCHIVE_RETENTION, CrmEvents } from './constructs/events.ts';
import { CrmLeads } from './constructs/leads.ts';
import { CrmMail } from './constructs/mail.ts';
import { grantMarketingSend } from './constructs/marketing-send.ts';
import { CrmMergeChildren } from './constructs/merge-children.ts';
import { givePublicApiUrl } from './constructs/public-api-url.ts';
import { CrmReminders } from './constructs/reminders.ts';
import { CrmSegments } from './constructs/segments.ts';
import { CrmSequences } from './constructs/sequences.ts';
import { CrmTicketMail, DEFAULT_MAIL_DOMAIN } from './constructs/ticket-mail.ts';
import { CrmTicketRouting } from './constructs/ticket-routing.ts';
import { CrmTicketSla } from './constructs/ticket-sla.ts';

export interface CrmStackProps extends StackProps {
  /** CORS origins of the browser apps allowed to call the API. */
  allowedOrigins: string[];
  /** Stage-wide API throttling (requests per second, and burst). */
  throttle: ThrottleSettings;
  /** Per-tenant request quota (requests per second per tenant), beside the stage throttle. */
  tenantRateLimit: number;
  /** Outbound sender address: verified as an SES identity and exported as SENDER_EMAIL. */
  senderEmail?: string;
  /** Inbound recipients of the SES receipt rule; when given, the stack also activates its receipt rule set. */
  inboundRecipients?: string[];
  /** Edge protection: CloudFront in front of the API with this CLOUDFRONT-scope web ACL (from the us-east-1 stack). */
  edge?: { webAclArn: string };
  /** The domain of the Message-IDs of ticket replies (MAIL_DOMAIN); `crm.local` unless given. */
  mailDomain?: string;
  /** SES's sending rate (messages per second) campaigns keep to; 14 unless given. */
  sesMaxSendRate?: number;
}

/**
 * The whole CRM backend: table, users, HTTP API, event bus with the stream publisher and its consumers (the audit
 * trail), and inbound mail.
 */
export class CrmStack extends Stack {
  readonly data: CrmData;
  readonly auth: CrmAuth;
  readonly api: CrmApi;
  readonly events: CrmEvents;
  readonly mail: CrmMail;
  readonly auditTrail: CrmAuditTrail;
  readonly reminders: CrmReminders;
  readonly assignmentLoad: CrmAssignmentLoad;
  readonly mergeChildren: CrmMergeChildren;
  readonly duplicateCandidates: CrmDuplicateCandidates;
  readonly claimCheck: CrmClaimCheck;
  /** Files of tickets (pre-signed uploads and downloads). */
  readonly attachments: CrmAttachments;
  readonly edge?: CrmEdgeDistribution;
  readonly leads: CrmLeads;
  /** Tickets from inbound mail, and agents' replies out through SES. */
  readonly ticketMail: CrmTicketMail;
  /** Ticket SLA due times, warnings and escalations. */
  readonly ticketSla: CrmTicketSla;
  /** The ticket routing workflow (Step Functions), started by ticket.created. */
  readonly ticketRouting: CrmTicketRouting;
  readonly sequences: CrmSequences;
  /** SES configuration set `<stack>-marketing` and the tracking consumer of its sending events (default bus). */
  readonly emailTracking: CrmEmailTracking;
  /** Email campaigns: schedules and the send workflow (Step Functions). */
  readonly campaigns: CrmCampaigns;
  readonly segments: CrmSegments;

  constructor(scope: Construct, id: string, props: CrmStackProps) {
    super(scope, id, props);
    this.data = new CrmData(this, 'Data');
    this.auth = new CrmAuth(this, 'Auth');
    this.claimCheck = new CrmClaimCheck(this, 'ClaimCheck', { archiveRetention: ARCHIVE_RETENTION });
    this.events = new CrmEvents(this, 'Events', { table: this.data.table, claimCheck: this.claimCheck });
    this.auditTrail = new CrmAuditTrail(this, 'AuditTrail', {
      bus: this.events.bus,
      table: this.data.table,
      claimCheck: this.claimCheck,
    });
    this.assignmentLoad = new CrmAssignmentLoad(this, 'AssignmentLoad', {
      bus: this.events.bus,
      table: this.data.table,
      claimCheck: this.claimCheck,
    });
    this.mergeChildren = new CrmMergeChildren(this, 'MergeChildren', { bus: this.events.bus, table: this.data.table });
    this.duplicateCandidates = new CrmDuplicateCandidates(this, 'DuplicateCandidates', {
      bus: this.events.bus,
      table: this.data.table,
    });
    this.api = new CrmApi(this, 'Api', {
      data: this.data,
      issuerUrl: this.auth.issuerUrl,
      audience: this.auth.client.userPoolClientId,
      allowedOrigins: props.allowedOrigins,
      throttle: props.throttle,
      tenantRateLimit: props.tenantRateLimit,
      userPool: this.auth.userPool,
    });
    this.attachments = new CrmAttachments(this, 'Attachments', { allowedOrigins: props.allowedOrigins });
    this.attachments.grantTicketFiles(this.api.functions.tickets);
    this.mail = new CrmMail(this, 'Mail', {
      bus: this.events.bus,
      table: this.data.table,
      ...(props.inboundRecipients ? { inboundRecipients: props.inboundRecipients } : {}),
      ...(props.senderEmail ? { senderEmail: props.senderEmail } : {}),
    });
    // Only addresses the receipt rule covers can be declared as mailboxes (mail to others never arrives).
    if (props.inboundRecipients?.length) {
      this.api.functions.mailboxes.function.addEnvironment('INBOUND_RECIPIENTS', props.inboundRecipients.join(','));
    }
    const mailDomain = props.mailDomain ?? DEFAULT_MAIL_DOMAIN;
    this.ticketMail = new CrmTicketMail(this, 'TicketMail', {
      bus: this.events.bus,
      table: this.data.table,
      mail: this.mail,
      attachments: this.attachments,
      claimCheck: this.claimCheck,
      mailDomain,
    });
    this.api.functions.tickets.function.addEnvironment('MAIL_DOMAIN', mailDomain);
    // A contact's unsubscribe and preference links point at the public (forms) API.
    givePublicApiUrl(this.api, this.api.functions.subscriptions);
    // Test sends of email templates: from the mail domain only, through its SES identity.
    grantMarketingSend(this.api.functions.emailTemplates, { mailDomain });

    this.leads = new CrmLeads(this, 'Leads', {
      bus: this.events.bus,
      table: this.data.table,
      formSubmissions: this.api.functions.formSubmissions,
      ...(props.senderEmail && this.mail.senderIdentity
        ? { sender: { email: props.senderEmail, identity: this.mail.senderIdentity } }
        : {}),
    });
    this.reminders = new CrmReminders(this, 'Reminders', {
      bus: this.events.bus,
      table: this.data.table,
      ...(props.senderEmail ? { senderEmail: props.senderEmail } : {}),
    });
    this.ticketSla = new CrmTicketSla(this, 'TicketSla', {
      bus: this.events.bus,
      table: this.data.table,
      ...(props.senderEmail ? { senderEmail: props.senderEmail } : {}),
    });

    this.ticketRouting = new CrmTicketRouting(this, 'TicketRouting', { bus: this.events.bus, table: this.data.table });
    this.emailTracking = new CrmEmailTracking(this, 'EmailTracking', { table: this.data.table });
    this.sequences = new CrmSequences(this, 'Sequences', { bus: this.events.bus, table: this.data.table, mailDomain });
    this.sequences.steps.function.node.addDependency(this.emailTracking.configurationSet);
    givePublicApiUrl(this.api, this.sequences.steps);
    // The API checks a sequence's sender against the mail domain (the send role's condition).
    this.api.functions.sequences.function.addEnvironment('MARKETING_MAIL_DOMAIN', mailDomain.toLowerCase());
    this.campaigns = new CrmCampaigns(this, 'Campaigns', {
      bus: this.events.bus,
      table: this.data.table,
      mailDomain,
      // The name as a literal (the local cloud needs no Ref to resolve); the dependency orders the deploy.
      configurationSetName: marketingConfigurationSetName(this.stackName),
      ...(props.sesMaxSendRate ? { sesMaxSendRate: props.sesMaxSendRate } : {}),
    });
    this.campaigns.steps.function.node.addDependency(this.emailTracking.configurationSet);
    // Unsubscribe links in campaign mail point at the public (forms) API; campaigns are sent from the mail domain.
    givePublicApiUrl(this.api, this.campaigns.steps);
    this.api.functions.campaigns.function.addEnvironment('MARKETING_MAIL_DOMAIN', mailDomain.toLowerCase());
    this.segments = new CrmSegments(this, 'Segments', { bus: this.events.bus, table: this.data.table });

    if (props.edge) {
      this.edge = new CrmEdgeDistribution(this, 'Edge', { api: this.api.api, webAclArn: props.edge.webAclArn });
    }

    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    output('ApiUrl', this.api.stage.url, 'Base URL of the CRM HTTP API');
    output('FormsApiUrl', this.api.formsStage.url, 'Base URL of the public web-to-lead API (form submissions)');
    output('UserPoolId', this.auth.userPool.userPoolId, 'Cognito user pool of CRM users');
    output('UserPoolClientId', this.auth.client.userPoolClientId, 'App client id (the audience of ID tokens)');
    output('EventBusName', this.events.bus.eventBusName, 'EventBridge bus carrying CRM domain events');
    output('TableName', this.data.table.tableName, 'The single DynamoDB table');
    output('InboundBucketName', this.mail.bucket.bucketName, 'Where SES stores inbound mail (prefix inbound/)');
    output('AttachmentsBucketName', this.attachments.bucket.bucketName, 'Files of tickets (prefix tickets/)');
    output('ClaimCheckBucketName', this.claimCheck.bucket.bucketName, 'Values too large for an event (prefix events/)');
    output(
      'FunctionLogGroupName',
      functionLogGroup(this).logGroupName,
      "Every function's logs; a function's streams start with YYYY/MM/DD/<function name>",
    );
    if (this.edge) {
      const url = `https://${this.edge.distribution.distributionDomainName}`;
      output('EdgeApiUrl', url, 'The API behind CloudFront and AWS WAF: give clients this URL');
    }
    if (props.senderEmail) output('SenderEmail', props.senderEmail, 'SENDER_EMAIL: the verified outbound sender');
  }
}
