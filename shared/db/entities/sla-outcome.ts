import { Entity } from 'electrodb';
import { gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * How one SLA target of one ticket ended, for reporting: achieved (met by its due time) or breached. One item per
 * ticket and target, written once (the first outcome stands, so a redelivered timer or a reopened ticket changes
 * nothing). gsi3: a tenant's outcomes by month, in the order they were decided.
 */
export const SlaOutcomeEntity = new Entity(
  {
    model: { entity: 'slaOutcome', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      ticketId: { type: 'string', required: true, readOnly: true },
      /** firstResponse | resolution */
      target: { type: 'string', required: true, readOnly: true },
      /** achieved | breached */
      outcome: { type: 'string', required: true },
      /** When it was decided: the time the target was met (achieved) or fell due (breached). */
      decidedAt: { type: 'string', required: true },
      dueAt: { type: 'string', required: true },
      /** When the target was met, if it was (a breached target may be met late). */
      metAt: { type: 'string' },
      policyId: { type: 'string', required: true },
      priority: { type: 'string', required: true },
      teamId: { type: 'string' },
      assigneeId: { type: 'string' },
      version: { type: 'number', required: true },
      recordedAt: { type: 'string', required: true },
      ...gsiKeyAttributes(['gsi3']),
    },
    indexes: {
      byTicketTarget: {
        pk: { field: 'pk', composite: ['tenantId', 'ticketId', 'target'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi3']),
    },
  },
  {},
);
