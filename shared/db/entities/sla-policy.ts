import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * An SLA policy: first-response and resolution targets per priority on a business calendar, when to warn, and what
 * escalation does on breach. gsi2: the policies of a calendar (a calendar in use cannot be deleted); gsi4: by name.
 */
export const SlaPolicyEntity = new Entity(
  {
    model: { entity: 'slaPolicy', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      policyId: { type: 'string', required: true, readOnly: true },
      name: { type: 'string', required: true },
      sortName: { type: 'string', required: true },
      calendarId: { type: 'string', required: true },
      /** { low | normal | high | urgent: { firstResponseMinutes, resolutionMinutes } } */
      targets: { type: 'any', required: true },
      warnBeforeMinutes: { type: 'number', required: true },
      /** { reassignToTeamId?, raisePriority, notifyTeamLead } */
      escalation: { type: 'any', required: true },
      /** The tenant's default policy (see `defaultSlaPolicy`). */
      isDefault: { type: 'boolean', required: true },
      ...gsiKeyAttributes(['gsi2', 'gsi4']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'policyId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi2', 'gsi4']),
    },
  },
  {},
);

/**
 * Which SLA policy applies to a ticket that names none: one item per tenant, written with version conditions in the
 * same transaction as the policies whose `isDefault` flag changes (like the default pipeline).
 */
export const DefaultSlaPolicyEntity = new Entity(
  {
    model: { entity: 'defaultSlaPolicy', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      policyId: { type: 'string', required: true },
      version: { type: 'number', required: true },
    },
    indexes: {
      byTenant: {
        // Like every table key, `$crm#tenantId_<t>#…`: the tenant followed by '#', as tenant-scoped IAM expects.
        pk: {
          field: 'pk',
          composite: ['tenantId'],
          template: `$crm#tenantId_\${tenantId}#defaultslapolicy`,
          casing: KEY_CASING,
        },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);
