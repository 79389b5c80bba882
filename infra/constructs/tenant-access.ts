import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import {
  Effect,
  PolicyDocument,
  PolicyStatement,
  PrincipalWithConditions,
  Role,
  SessionTagsPrincipal,
} from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { FunctionGroup } from '../../shared/api/route.ts';
import type { GsiName } from '../../shared/db/entities/common.ts';
import {
  type GlobalKeyEntity,
  globalKeyPattern,
  TENANT_TAG,
  tenantKeyPolicyPatterns,
} from '../../shared/db/tenant-keys.ts';
import type { CrmFunction } from './crm-function.ts';

/** Item-level actions a request may do. TransactWriteItems is authorized per item, as one of these. */
export type ItemAction = 'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'ConditionCheckItem';

/** What one API function group does on the table, for its tenant only. Never Scan, batch or table-level actions. */
export interface TableAccess {
  /** Item actions on the table's own keys. */
  items: readonly ItemAction[];
  /** Query on the table itself (lookup items, a record's history). */
  queryTable: boolean;
  /** The GSIs it queries. */
  queryIndexes: readonly GsiName[];
  /**
   * Item actions on the keys of global-key entities (shared/db/tenant-keys.ts, GLOBAL_KEY_ENTITIES), which start
   * with no tenant. Only what the group's writes need; the code conditions each on the item's owner.
   */
  globalKeys?: Partial<Record<GlobalKeyEntity, readonly ItemAction[]>>;
}

/**
 * Exactly what each data-serving group's handlers do (see shared/<module>/service.ts): a read is GetItem or Query,
 * every request also leases its tenant's quota (UpdateItem, shared/quota) and reads its settings (GetItem);
 * a write a conditional PutItem or a transaction of Put (record, lookups, idempotency record), Delete (lookups that
 * went away) and ConditionCheck (referenced records). Keep in step with the services; infra/tenant-isolation.test.ts
 * proves each action is confined to the caller's tenant.
 */
export const GROUP_TABLE_ACCESS: Record<Exclude<FunctionGroup, 'docs'>, TableAccess> = {
  // Contacts: lookups (emails, phones, tags) and history on the table; owner, stage, company, name/trash, sync and
  // timeline indexes and the geohash index (near); a contact's company is a ConditionCheck; the custom-field schema
  // is a GetItem; a create without owner reads the assignment rules, the team and loads (GetItem) and ADDs to the
  // rotation and load counters (UpdateItem).
  contacts: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
    queryTable: true,
    queryIndexes: ['gsi1', 'gsi2', 'gsi3', 'gsi4', 'gsi5', 'gsi6', 'gsi7'],
  },
  // Companies: lookups (domains, tags) and history on the table; owner, name/trash, sync, timeline, and a company's
  // contacts (gsi3), the geohash index (near). No references.
  companies: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'],
    queryTable: true,
    queryIndexes: ['gsi1', 'gsi3', 'gsi4', 'gsi5', 'gsi6', 'gsi7'],
  },
  // Notes: soft delete is a Put; the subject is a ConditionCheck; lists are the timeline index narrowed to notes.
  notes: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'ConditionCheckItem'],
    queryTable: false,
    queryIndexes: ['gsi6'],
  },
  // Custom-field schemas: one item per entity type.
  customFields: {
    items: ['GetItem', 'PutItem', 'UpdateItem'],
    queryTable: false,
    queryIndexes: [],
  },
  // Leads: lookups (emails, tags) on the table; owner, status, source, name/trash, sync and timeline indexes. A
  // conversion also creates the contact and company (Puts with their lookups) and checks linked ones exist. The
  // custom-field schema and the scoring rules are GetItems; the rules are replaced with a Put.
  leads: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
    queryTable: true,
    queryIndexes: ['gsi1', 'gsi2', 'gsi3', 'gsi4', 'gsi5', 'gsi6'],
  },
  // Form definitions: one item each, listed by name (gsi4).
  forms: {
    items: ['GetItem', 'PutItem', 'UpdateItem'],
    queryTable: false,
    queryIndexes: ['gsi4'],
  },
  // The public submission endpoint: reads the form, counts the source address (UpdateItem), finds the lead by email
  // (a lookup Query), writes lead + lookups + submission + opt-in token; confirming reads and rewrites the token and
  // the lead. No index, no delete.
  formSubmissions: {
    items: ['GetItem', 'PutItem', 'UpdateItem'],
    queryTable: true,
    queryIndexes: [],
  },
  // Tenant settings: one item, read and replaced.
  settings: {
    items: ['GetItem', 'PutItem', 'UpdateItem'],
    queryTable: false,
    queryIndexes: [],
  },
  // Users: profiles read and replaced (with their role lookups, and the teams a removal or a disable changes, in one
  // transaction); lists by name/trash (gsi4), status (gsi2) and role (lookups on the table); a user's open records on
  // the owner partitions (gsi1); history on the table.
  users: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'],
    queryTable: true,
    queryIndexes: ['gsi1', 'gsi2', 'gsi4'],
  },
  // Teams: team items and the members' profiles replaced together; a lead is a ConditionCheck; lists by name (gsi4).
  teams: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'ConditionCheckItem'],
    queryTable: false,
    queryIndexes: ['gsi4'],
  },
  // Products and pipelines: SKU claims put and deleted with their product, the default-pipeline pointer, pipelines
  // deleted outright; lists on name/trash (gsi4) and active products (gsi2); a stage's deals counted on the board
  // partitions (gsi2) before it is removed.
  catalog: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'],
    queryTable: false,
    queryIndexes: ['gsi2', 'gsi4'],
  },
  // Deals: lookups (deal.contact, deal.purchase) and stage history on the table; timeline links put and deleted;
  // ConditionChecks on contacts, company and the pipeline's version; owner, board, company, name/trash, sync,
  // timeline and company purchases (gsi7).
  deals: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
    queryTable: true,
    queryIndexes: ['gsi1', 'gsi2', 'gsi3', 'gsi4', 'gsi5', 'gsi6', 'gsi7'],
  },
  // Activities: a write is a Put of the activity with its timeline links (Put/Delete) and linked records
  // (ConditionCheck); the calendar feed secret is a Put/Delete. Lists: owner (gsi1), agenda (gsi2), type (gsi4),
  // by linked record (its timeline, gsi6).
  activities: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
    queryTable: false,
    queryIndexes: ['gsi1', 'gsi2', 'gsi4', 'gsi6'],
  },
  // The public iCalendar feed: the feed secret (GetItem), the user's calendar (gsi3), the tenant's quota (UpdateItem).
  calendarFeed: {
    items: ['GetItem', 'UpdateItem'],
    queryTable: false,
    queryIndexes: ['gsi3'],
  },
  // Assignment rules: one item, read and replaced; the preview reads the team and its members' load counters.
  assignment: {
    items: ['GetItem', 'PutItem', 'UpdateItem'],
    queryTable: false,
    queryIndexes: [],
  },
  // Duplicate candidates: pairs on their own partition of gsi7; dismissing one is a Get and two Puts.
  duplicates: {
    items: ['GetItem', 'PutItem', 'UpdateItem'],
    queryTable: false,
    queryIndexes: ['gsi7'],
  },
  // SLAs: business calendars and SLA policies, one item each; a policy's calendar and escalation team are
  // ConditionChecks; deletes are conditional DeleteItems; lists by name (gsi4); a calendar's policies (gsi2) before
  // it is deleted; a month's outcomes (gsi3).
  sla: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
    queryTable: false,
    queryIndexes: ['gsi2', 'gsi3', 'gsi4'],
  },
  // Merges: both records read and written in one transaction with their lookups (removed for the loser) and
  // unique-key claims (moved to the winner); a contact's company is a ConditionCheck; lookups are queried for the
  // duplicate policy.
  merge: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
    queryTable: true,
    queryIndexes: [],
  },
  // Tickets: a create is one transaction of the number counter (Put conditioned on its version), the ticket, its
  // number lookup, timeline links and ConditionChecks on requester, company, assignee and team; a message is a Put
  // with the ticket's rewrite. The thread and the number lookup are Queries on the table; the views are gsi1
  // (assignee), gsi2 (status), gsi3 (team), gsi4 (recent, trash), gsi5 (sync), gsi7 (priority).
  tickets: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
    queryTable: true,
    queryIndexes: ['gsi1', 'gsi2', 'gsi3', 'gsi4', 'gsi5', 'gsi7'],
  },
  // Knowledge base: an article write is one transaction of the article, its category lookups (Put/Delete) and its
  // search-token delta (Put/Delete); search reads token partitions (gsi2 exact, gsi3 prefix) and GetItems the best;
  // lists by status (gsi2), locale (gsi3), the trash (gsi4) and category (lookups: a table Query).
  knowledge: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'],
    queryTable: true,
    queryIndexes: ['gsi2', 'gsi3', 'gsi4'],
  },
  // Mailboxes: one item each, listed by address (gsi4); a team is a ConditionCheck; a delete is a DeleteItem
  // conditioned on the version. The address claim is the one key that cannot start with the tenant: an address must
  // be unique across tenants (mail for it may feed only one) and the inbound handler finds the tenant from it. So
  // this role alone may also create (PutItem, attribute_not_exists) and delete claim items, `$crm#mailboxAddress_*`,
  // nothing else on them (no read, no update). IAM cannot compare the claim's tenantId attribute with the session
  // tag, so the code does: every claim delete is conditioned on tenantId and mailboxId (shared/mailboxes/service.ts),
  // and a claim is only ever created, never overwritten.
  mailboxes: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
    queryTable: false,
    queryIndexes: ['gsi4'],
    globalKeys: { mailboxClaim: ['PutItem', 'DeleteItem'] },
  },
  // Campaigns: the campaign is a conditional Put (with the idempotency record: a transaction); checks before
  // scheduling GetItem the template, the category and each segment (at most 40); stats and the ledger are Queries
  // of the campaign's own partition; lists by status (gsi2) and name/trash (gsi4).
  campaigns: {
    items: ['GetItem', 'PutItem', 'UpdateItem'],
    queryTable: true,
    queryIndexes: ['gsi2', 'gsi4'],
  },
  // Subscription categories: one item, read and replaced; a contact's links read the contact and the tenant's
  // signing key (created on first use: PutItem, must be new).
  subscriptions: {
    items: ['GetItem', 'PutItem', 'UpdateItem'],
    queryTable: false,
    queryIndexes: [],
  },
  // The suppression list: one item per address (created if new, with the idempotency record; deleted by hand),
  // listed newest first on gsi4.
  suppressions: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'],
    queryTable: false,
    queryIndexes: ['gsi4'],
  },
  // The public unsubscribe and preference pages: the signing key, the contact and the categories (GetItem), the
  // contact's rate window (UpdateItem), the contact rewritten at its version (PutItem). Never creates a key.
  preferences: {
    items: ['GetItem', 'PutItem', 'UpdateItem'],
    queryTable: false,
    queryIndexes: [],
  },
  // Email templates: one item each, by name and trash (gsi4); the custom-field schemas are GetItems (validation);
  // a preview reads the contact, its company and owner with GetItems (no batch actions for tenant roles).
  emailTemplates: {
    items: ['GetItem', 'PutItem', 'UpdateItem'],
    queryTable: false,
    queryIndexes: ['gsi4'],
  },
  // Segments: the segment item (create Put, UpdateItems of its fields), its members in its own partition (Query of
  // the table; conditional Puts and Deletes in transactions with an ADD on the count and ConditionChecks of the
  // contacts), the contact custom-field schema (GetItem); lists by name and trash on gsi4.
  segments: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
    queryTable: true,
    queryIndexes: ['gsi4'],
  },
};

export interface TenantAccessRoleProps {
  table: ITable;
  access: TableAccess;
  /** The function that assumes it per request (its execution role is the only trusted principal). */
  assumedBy: CrmFunction;
  description: string;
}

/**
 * The second wall of tenant isolation (the AWS SaaS pattern): a role the function assumes per tenant with the
 * session tag `tenantId`, whose policy allows its group's actions only on keys that start with that tenant
 * (`dynamodb:LeadingKeys`, ForAllValues:StringLike): the table's `$crm#tenantId_<t>#*` and the indexes' `<t>#*`.
 * A bug that builds another tenant's key gets AccessDenied from DynamoDB instead of the data.
 */
export class TenantAccessRole extends Construct {
  readonly role: Role;

  constructor(scope: Construct, id: string, props: TenantAccessRoleProps) {
    super(scope, id);
    const patterns = tenantKeyPolicyPatterns();
    const onlyKeys = (pattern: string) => ({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [pattern] } });
    const { items, queryTable, queryIndexes } = props.access;

    const indexArns = queryIndexes.map((index) => `${props.table.tableArn}/index/${index}`);
    const tableActions = [...items, ...(queryTable ? ['Query'] : [])].map((a) => `dynamodb:${a}`);
    const statements = [
      new PolicyStatement({
        sid: 'TenantItems',
        actions: tableActions,
        resources: [props.table.tableArn],
        conditions: onlyKeys(patterns.table),
      }),
      ...(queryIndexes.length > 0
        ? [
            new PolicyStatement({
              sid: 'TenantIndexQueries',
              actions: ['dynamodb:Query'],
              resources: indexArns,
              conditions: onlyKeys(patterns.index),
            }),
          ]
        : []),
      ...Object.entries(props.access.globalKeys ?? {}).map(
        ([entity, actions]) =>
          new PolicyStatement({
            sid: `GlobalKeys${entity[0]!.toUpperCase()}${entity.slice(1)}`,
            actions: actions.map((a) => `dynamodb:${a}`),
            resources: [props.table.tableArn],
            conditions: onlyKeys(globalKeyPattern(entity as GlobalKeyEntity, true)),
          }),
      ),
      // A session without the tag would leave the key patterns unresolved: deny it outright.
      new PolicyStatement({
        sid: 'DenyUntaggedSessions',
        effect: Effect.DENY,
        actions: [...new Set([...tableActions, ...(indexArns.length > 0 ? ['dynamodb:Query'] : [])])],
        resources: [props.table.tableArn, ...indexArns],
        conditions: { Null: { [`aws:PrincipalTag/${TENANT_TAG}`]: 'true' } },
      }),
    ];

    this.role = new Role(this, 'Role', {
      description: props.description,
      // Trusts only the function's execution role, and only for sessions tagged with a tenant and nothing else.
      assumedBy: new PrincipalWithConditions(new SessionTagsPrincipal(props.assumedBy.role), {
        StringLike: { [`aws:RequestTag/${TENANT_TAG}`]: '?*' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': [TENANT_TAG] },
      }),
      maxSessionDuration: Duration.hours(1),
      inlinePolicies: { TenantData: new PolicyDocument({ statements }) },
    });

    // The function may assume it (tagging the session) and has no table access of its own.
    props.assumedBy.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['sts:AssumeRole', 'sts:TagSession'], resources: [this.role.roleArn] }),
    );
    props.assumedBy.function.addEnvironment('TENANT_ROLE_ARN', this.role.roleArn);
  }
}
