import { Entity } from 'electrodb';
import { KEY_CASING, SERVICE } from './common.ts';

/**
 * A pending double opt-in: keyed by the sha256 of the link's secret (the secret itself is only in the email), with
 * the lead it confirms and when it expires. Confirming sets `confirmedAt` once; a second click answers the same.
 */
export const FormConfirmationEntity = new Entity(
  {
    model: { entity: 'formConfirmation', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      tokenHash: { type: 'string', required: true, readOnly: true },
      formId: { type: 'string', required: true, readOnly: true },
      leadId: { type: 'string', required: true, readOnly: true },
      email: { type: 'string', required: true },
      createdAt: { type: 'string', required: true },
      /** Epoch seconds after which the link is refused. */
      validUntil: { type: 'number', required: true },
      confirmedAt: { type: 'string' },
      /** 1 while pending, 2 once confirmed: the confirming write is conditioned on 1. */
      version: { type: 'number', required: true },
      /** TTL: kept a while after expiry so a late click gets "expired", not "unknown". */
      expiresAt: { type: 'number', required: true, field: 'ttl' },
    },
    indexes: {
      byToken: {
        pk: { field: 'pk', composite: ['tenantId', 'tokenHash'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);
