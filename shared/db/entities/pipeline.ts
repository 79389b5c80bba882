import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A sales pipeline: ordered stages, each with a win probability and a kind (open, won, lost). Deals write a
 * ConditionCheck on its `version` in their own transaction, so a deal never lands in a stage that a concurrent
 * pipeline change removed. gsi4: pipelines by name. One pipeline per tenant is the default (see `defaultPipeline`).
 */
export const PipelineEntity = new Entity(
  {
    model: { entity: 'pipeline', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      pipelineId: { type: 'string', required: true, readOnly: true },
      name: { type: 'string', required: true },
      sortName: { type: 'string', required: true },
      /** [{ id, name, probability (0-100), kind: open | won | lost }], in board order. */
      stages: { type: 'any', required: true },
      isDefault: { type: 'boolean', required: true },
      ...gsiKeyAttributes(['gsi4']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'pipelineId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi4']),
    },
  },
  {},
);

/**
 * Which pipeline is the tenant's default (deals created without a pipelineId go there): one item per tenant, written
 * with version conditions in the same transaction as the pipelines whose `isDefault` flag changes.
 */
export const DefaultPipelineEntity = new Entity(
  {
    model: { entity: 'defaultPipeline', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      pipelineId: { type: 'string', required: true },
      version: { type: 'number', required: true },
    },
    indexes: {
      byTenant: {
        // Like every table key, `$crm#tenantId_<t>#…`: the tenant followed by '#', as tenant-scoped IAM expects.
        pk: {
          field: 'pk',
          composite: ['tenantId'],
          template: `$crm#tenantId_\${tenantId}#defaultpipeline`,
          casing: KEY_CASING,
        },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);
