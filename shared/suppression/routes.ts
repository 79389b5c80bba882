import { pageOf } from '../api/common-schemas.ts';
import { defineRoutes } from '../api/route.ts';
import { Suppression, SuppressionCreate, SuppressionListQuery, SuppressionParams } from './schema.ts';

export const suppressionRoutes = defineRoutes([
  {
    operationId: 'listSuppressions',
    method: 'GET',
    path: '/v1/suppressions',
    group: 'suppressions',
    permission: 'suppressions:read',
    tag: 'Suppressions',
    summary: 'The suppression list, newest first',
    description:
      'Addresses no marketing mail goes to: hard bounces and complaints (added by the tracking consumers) and ' +
      'addresses added by hand.',
    query: SuppressionListQuery,
    response: { status: 200, schema: pageOf(Suppression), description: 'A page of entries.' },
  },
  {
    operationId: 'addSuppression',
    method: 'POST',
    path: '/v1/suppressions',
    group: 'suppressions',
    permission: 'suppressions:manage',
    tag: 'Suppressions',
    summary: 'Add an address to the suppression list (reason manual)',
    description:
      'The first entry for an address stands: an address already listed keeps its entry (reason, time), answered ' +
      '200 instead of 201, so repeating the request changes nothing. Entries never change, so they carry no ETag.',
    body: SuppressionCreate,
    idempotent: true,
    response: { status: 201, schema: Suppression, description: 'Added (200: it was already listed).' },
  },
  {
    operationId: 'getSuppression',
    method: 'GET',
    path: '/v1/suppressions/{email}',
    group: 'suppressions',
    permission: 'suppressions:read',
    tag: 'Suppressions',
    summary: 'Whether an address is suppressed, and why',
    params: SuppressionParams,
    response: { status: 200, schema: Suppression, description: 'The entry (404: not suppressed).' },
  },
  {
    operationId: 'removeSuppression',
    method: 'DELETE',
    path: '/v1/suppressions/{email}',
    group: 'suppressions',
    permission: 'suppressions:manage',
    tag: 'Suppressions',
    summary: 'Take an address off the suppression list',
    description:
      'Campaigns may mail it again (if the contact consents). Removing a hard bounce or a complaint risks your ' +
      'sending reputation: do it only when you know the address works and wants your mail.',
    params: SuppressionParams,
    response: { status: 204, description: 'Removed.' },
  },
]);
