import { Service } from 'electrodb';
import { ActivityEntity } from './entities/activity.ts';
import { ArticleEntity } from './entities/article.ts';
import { AssignmentCounterEntity } from './entities/assignment-counter.ts';
import { AssignmentRulesEntity } from './entities/assignment-rules.ts';
import { AuditEntryEntity } from './entities/audit-entry.ts';
import { BusinessCalendarEntity } from './entities/business-calendar.ts';
import { CalendarFeedEntity } from './entities/calendar-feed.ts';
import { CampaignEntity, CampaignRecipientEntity, CampaignStatsEntity } from './entities/campaign.ts';
import { CompanyEntity } from './entities/company.ts';
import { ContactEntity } from './entities/contact.ts';
import { ContactEngagementEntity } from './entities/contact-engagement.ts';
import { CustomFieldSchemaEntity } from './entities/custom-field-schema.ts';
import { DealEntity, DealStageChangeEntity } from './entities/deal.ts';
import { DuplicatePairEntity } from './entities/duplicate-pair.ts';
import { EmailTemplateEntity } from './entities/email-template.ts';
import { FormEntity } from './entities/form.ts';
import { FormConfirmationEntity } from './entities/form-confirmation.ts';
import { FormRateWindowEntity } from './entities/form-rate-window.ts';
import { FormSubmissionEntity } from './entities/form-submission.ts';
import { IdempotencyEntity } from './entities/idempotency.ts';
import { KbTokenEntity } from './entities/kb-token.ts';
import { LeadEntity } from './entities/lead.ts';
import { LookupEntity } from './entities/lookup.ts';
import { MailboxClaimEntity, MailboxEntity } from './entities/mailbox.ts';
import { MatchKeyEntity } from './entities/match-key.ts';
import { MatchKeySetEntity } from './entities/match-key-set.ts';
import { NoteEntity } from './entities/note.ts';
import { DefaultPipelineEntity, PipelineEntity } from './entities/pipeline.ts';
import { ProductEntity } from './entities/product.ts';
import { ProductSkuEntity } from './entities/product-sku.ts';
import { QuotaWindowEntity } from './entities/quota-window.ts';
import { RoutingRulesEntity } from './entities/routing-rules.ts';
import { ScoringRulesEntity } from './entities/scoring-rules.ts';
import { SegmentEntity, SegmentMemberEntity } from './entities/segment.ts';
import { SendRateShareEntity } from './entities/send-rate.ts';
import { SequenceEnrollmentEntity, SequenceEntity } from './entities/sequence.ts';
import { TenantSettingsEntity } from './entities/settings.ts';
import { SigningKeyEntity } from './entities/signing-key.ts';
import { SlaOutcomeEntity } from './entities/sla-outcome.ts';
import { DefaultSlaPolicyEntity, SlaPolicyEntity } from './entities/sla-policy.ts';
import { SubscriptionCategoriesEntity } from './entities/subscription-categories.ts';
import { SuppressionEntity } from './entities/suppression.ts';
import { TeamEntity } from './entities/team.ts';
import { TicketAttachmentEntity, TicketCounterEntity, TicketEntity, TicketMessageEntity } from './entities/ticket.ts';
import { TimelineLinkEntity } from './entities/timeline-link.ts';
import { UniqueKeyEntity } from './entities/unique-key.ts';
import { UserEntity } from './entities/user.ts';

/** Every entity of the single table. The table's key schema and GSIs are derived from these (see table.ts). */
export const entities = {
  contact: ContactEntity,
  company: CompanyEntity,
  note: NoteEntity,
  lookup: LookupEntity,
  idempotency: IdempotencyEntity,
  customFieldSchema: CustomFieldSchemaEntity,
  auditEntry: AuditEntryEntity,
  tenantSettings: TenantSettingsEntity,
  quotaWindow: QuotaWindowEntity,
  user: UserEntity,
  team: TeamEntity,
  timelineLink: TimelineLinkEntity,
  product: ProductEntity,
  productSku: ProductSkuEntity,
  pipeline: PipelineEntity,
  defaultPipeline: DefaultPipelineEntity,
  deal: DealEntity,
  dealStageChange: DealStageChangeEntity,
  lead: LeadEntity,
  form: FormEntity,
  formSubmission: FormSubmissionEntity,
  formRateWindow: FormRateWindowEntity,
  formConfirmation: FormConfirmationEntity,
  scoringRules: ScoringRulesEntity,
  activity: ActivityEntity,
  calendarFeed: CalendarFeedEntity,
  assignmentRules: AssignmentRulesEntity,
  assignmentCounter: AssignmentCounterEntity,
  uniqueKey: UniqueKeyEntity,
  matchKey: MatchKeyEntity,
  matchKeySet: MatchKeySetEntity,
  duplicatePair: DuplicatePairEntity,
  businessCalendar: BusinessCalendarEntity,
  slaPolicy: SlaPolicyEntity,
  defaultSlaPolicy: DefaultSlaPolicyEntity,
  slaOutcome: SlaOutcomeEntity,
  ticket: TicketEntity,
  ticketMessage: TicketMessageEntity,
  ticketCounter: TicketCounterEntity,
  ticketAttachment: TicketAttachmentEntity,
  article: ArticleEntity,
  kbToken: KbTokenEntity,
  mailbox: MailboxEntity,
  /** Global (not tenant-first) key: see the entity. */
  mailboxClaim: MailboxClaimEntity,
  routingRules: RoutingRulesEntity,
  segment: SegmentEntity,
  segmentMember: SegmentMemberEntity,
  contactEngagement: ContactEngagementEntity,
  suppression: SuppressionEntity,
  subscriptionCategories: SubscriptionCategoriesEntity,
  emailTemplate: EmailTemplateEntity,
  campaign: CampaignEntity,
  campaignRecipient: CampaignRecipientEntity,
  campaignStats: CampaignStatsEntity,
  signingKey: SigningKeyEntity,
  sequence: SequenceEntity,
  sequenceEnrollment: SequenceEnrollmentEntity,
  /** Global (not tenant-first) key: see the entity. */
  sendRateShare: SendRateShareEntity,
};

export type CrmEntities = typeof entities;

/** Binds the model to a table and client: the one place entities meet the database. */
export function createModel(options: {
  table: string;
  client: import('@aws-sdk/lib-dynamodb').DynamoDBDocumentClient;
}) {
  return new Service(entities, options);
}

export type CrmModel = ReturnType<typeof createModel>;
