import { Entity } from 'electrodb';
import { gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * One accepted submission of a form, on its lead's timeline (gsi6). Written in the same transaction as the lead it
 * created or attached to; its creation in the stream becomes `form.submitted`. Bounded by the form's field limits.
 */
export const FormSubmissionEntity = new Entity(
  {
    model: { entity: 'formSubmission', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      submissionId: { type: 'string', required: true, readOnly: true },
      formId: { type: 'string', required: true, readOnly: true },
      leadId: { type: 'string', required: true, readOnly: true },
      /** 'created' (a new lead) or 'attached' (to the live lead with the same email). */
      outcome: { type: 'string', required: true },
      values: { type: 'any', required: true },
      utm: { type: 'any' },
      origin: { type: 'string' },
      email: { type: 'string' },
      doubleOptIn: { type: 'boolean' },
      occurredAt: { type: 'string', required: true },
      version: { type: 'number', required: true },
      createdAt: { type: 'string', required: true },
      updatedAt: { type: 'string', required: true },
      ...gsiKeyAttributes(['gsi6']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'submissionId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi6']),
    },
  },
  {},
);
