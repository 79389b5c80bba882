import { Entity } from 'electrodb';
import { auditAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A tenant's ticket routing rules, in order, with the fallback team, as one item: the routing workflow reads them
 * with one GetItem per ticket, and the whole list is replaced at once under If-Match. Bounded: at most 100 rules.
 */
export const RoutingRulesEntity = new Entity(
  {
    model: { entity: 'routingRules', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      /** [{ id, name?, active, conditions, actions: { teamId, priority?, method } }] (shared/routing/schema.ts) */
      rules: { type: 'any', required: true },
      /** Where tickets no rule matches (or that no agent can take) wait, unassigned. */
      fallbackTeamId: { type: 'string' },
    },
    indexes: {
      byTenant: {
        // Like every table key, `$crm#tenantId_<t>#…`: the tenant followed by '#', as tenant-scoped IAM expects.
        pk: {
          field: 'pk',
          composite: ['tenantId'],
          template: `$crm#tenantId_\${tenantId}#ticketRouting`,
          casing: KEY_CASING,
        },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);
