import { Entity } from 'electrodb';
import { auditAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A tenant's assignment rules, in order, as one item: choosing an owner reads them with one GetItem (cached per
 * container briefly), and the whole list is replaced at once under If-Match. Bounded: at most 100 rules.
 */
export const AssignmentRulesEntity = new Entity(
  {
    model: { entity: 'assignmentRules', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      /** [{ id, name?, entities, conditions, teamId, method, active }] (shared/assignment/schema.ts) */
      rules: { type: 'any', required: true },
    },
    indexes: {
      byTenant: {
        // Like every table key, `$crm#tenantId_<t>#…`: the tenant followed by '#', as tenant-scoped IAM expects.
        pk: {
          field: 'pk',
          composite: ['tenantId'],
          template: `$crm#tenantId_\${tenantId}#assignmentRules`,
          casing: KEY_CASING,
        },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);
