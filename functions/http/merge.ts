import { routes } from '../../shared/api/routes.ts';
import { companyKind } from '../../shared/companies/service.ts';
import { contactKind } from '../../shared/contacts/service.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import { mergeRecords } from '../../shared/merge/service.ts';

export const handler = httpApi(
  routes,
  'merge',
  {
    mergeContacts: async ({ principal, body, ifMatch, idempotency }) => {
      const winner = await mergeRecords(contactKind, principal, body, ifMatch, idempotency);
      return { status: 200, body: winner, version: winner.version };
    },
    mergeCompanies: async ({ principal, body, ifMatch, idempotency }) => {
      const winner = await mergeRecords(companyKind, principal, body, ifMatch, idempotency);
      return { status: 200, body: winner, version: winner.version };
    },
  },
  { findIdempotentResponse, guards: tenantGuards },
);
