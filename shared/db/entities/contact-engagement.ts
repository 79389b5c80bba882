import { Entity } from 'electrodb';
import { KEY_CASING, SERVICE } from './common.ts';

/**
 * A contact's email engagement, beside the contact in its partition rather than on it: opens and clicks come in at
 * campaign scale and must not bump the contact's version, history or change events. What dynamic segments with an
 * engagement condition ("opened in the last 30 days") evaluate.
 */
export const ContactEngagementEntity = new Entity(
  {
    model: { entity: 'contactEngagement', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      contactId: { type: 'string', required: true, readOnly: true },
      lastSentAt: { type: 'string' },
      lastOpenedAt: { type: 'string' },
      lastClickedAt: { type: 'string' },
      /** The campaigns of the last open and click (tracking): what `email.opened` / `email.clicked` name. */
      lastOpenedCampaignId: { type: 'string' },
      lastClickedCampaignId: { type: 'string' },
      updatedAt: { type: 'string', required: true },
    },
    indexes: {
      byContact: {
        pk: { field: 'pk', composite: ['tenantId', 'contactId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);
