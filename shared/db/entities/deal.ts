import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A deal. GSIs (keys in ../keys.ts `dealKeys`): gsi1 by owner, gsi2 the board (one partition per pipeline stage,
 * by expected close date), gsi3 by company, gsi4 by name and the trash, gsi5 sync (keeps deleted deals), gsi7 won
 * deals by company (purchase history). Contacts are indexed by `lookup` items (`deal.contact`, `deal.purchase`).
 * Amounts are integers in the currency's minor units.
 */
export const DealEntity = new Entity(
  {
    model: { entity: 'deal', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      dealId: { type: 'string', required: true, readOnly: true },
      name: { type: 'string', required: true },
      sortName: { type: 'string', required: true },
      amount: { type: 'number', required: true },
      currency: { type: 'string', required: true },
      expectedCloseDate: { type: 'string' },
      pipelineId: { type: 'string', required: true },
      stageId: { type: 'string', required: true },
      /** The stage's kind: open, won or lost. */
      status: { type: ['open', 'won', 'lost'] as const, required: true },
      /** The stage's win probability when the deal entered it. */
      probability: { type: 'number', required: true },
      stageEnteredAt: { type: 'string', required: true },
      /** When it entered a won or lost stage (absent while open). */
      closedAt: { type: 'string' },
      lostReason: { type: 'string' },
      ownerId: { type: 'string', required: true },
      /** The assignment rule that chose the owner at creation (shared/assignment); absent when a person chose. */
      assignedByRule: { type: 'string' },
      contactIds: { type: 'list', items: { type: 'string' } },
      companyId: { type: 'string' },
      /** [{ productId?, sku?, name, quantity, unitPrice, discount?, discountAmount, lineTotal }] */
      lineItems: { type: 'any' },
      deletedAt: { type: 'string' },
      deletedBy: { type: 'string' },
      ...gsiKeyAttributes(['gsi1', 'gsi2', 'gsi3', 'gsi4', 'gsi5', 'gsi7']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'dealId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi1', 'gsi2', 'gsi3', 'gsi4', 'gsi5', 'gsi7']),
    },
  },
  {},
);

/**
 * One stage change of a deal (its entry into the first stage included), written in the same transaction as the
 * deal. It shares the deal's partition (sorted by `seq`, the deal's version at the change) and sits on the deal's
 * timeline (gsi6).
 */
export const DealStageChangeEntity = new Entity(
  {
    model: { entity: 'dealStageChange', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      dealId: { type: 'string', required: true, readOnly: true },
      /** The deal's version after the change, zero-padded: unique per deal and in order. */
      seq: { type: 'string', required: true, readOnly: true },
      changeId: { type: 'string', required: true, readOnly: true },
      pipelineId: { type: 'string', required: true },
      fromPipelineId: { type: 'string' },
      fromStageId: { type: 'string' },
      fromStageName: { type: 'string' },
      toStageId: { type: 'string', required: true },
      toStageName: { type: 'string', required: true },
      status: { type: ['open', 'won', 'lost'] as const, required: true },
      occurredAt: { type: 'string', required: true },
      changedBy: { type: 'string', required: true },
      /** How long the deal stayed in the previous stage. */
      msInPreviousStage: { type: 'number' },
      lostReason: { type: 'string' },
      ...gsiKeyAttributes(['gsi6']),
    },
    indexes: {
      byDeal: {
        pk: { field: 'pk', composite: ['tenantId', 'dealId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: ['seq'], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi6']),
    },
  },
  {},
);
