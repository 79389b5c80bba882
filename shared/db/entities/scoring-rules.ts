import { Entity } from 'electrodb';
import { auditAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A tenant's lead-scoring rules, kept as one bounded item (at most 100 rules): the scoring consumer reads them with
 * one GetItem per event, and a change replaces the set under If-Match.
 */
export const ScoringRulesEntity = new Entity(
  {
    model: { entity: 'scoringRules', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      rules: { type: 'any', required: true },
    },
    indexes: {
      byTenant: {
        // Like every table key, `$crm#tenantId_<t>#…`: the tenant followed by '#', as tenant-scoped IAM expects.
        pk: {
          field: 'pk',
          composite: ['tenantId'],
          template: `$crm#tenantId_\${tenantId}#scoringrules`,
          casing: KEY_CASING,
        },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);
