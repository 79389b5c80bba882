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
import { TENANT_TAG, tenantKeyPolicyPatterns } from '../../shared/db/tenant-keys.ts';
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
  // timeline indexes; a contact's company is a ConditionCheck; the custom-field schema is a GetItem.
  contacts: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
    queryTable: true,
    queryIndexes: ['gsi1', 'gsi2', 'gsi3', 'gsi4', 'gsi5', 'gsi6'],
  },
  // Companies: lookups (domains, tags) and history on the table; owner, name/trash, sync, timeline, and a company's
  // contacts (gsi3). No references.
  companies: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'],
    queryTable: true,
    queryIndexes: ['gsi1', 'gsi3', 'gsi4', 'gsi5', 'gsi6'],
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
  // Tenant settings: one item, read and replaced.
  settings: {
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
  // Merges: both records read and written in one transaction with their lookups (removed for the loser) and
  // unique-key claims (moved to the winner); a contact's company is a ConditionCheck; lookups are queried for the
  // duplicate policy.
  merge: {
    items: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
    queryTable: true,
    queryIndexes: [],
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
