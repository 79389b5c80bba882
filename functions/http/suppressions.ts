import { routes } from '../../shared/api/routes.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import * as suppressions from '../../shared/suppression/service.ts';

export const handler = httpApi(
  routes,
  'suppressions',
  {
    listSuppressions: async ({ principal, query }) => ({
      status: 200,
      body: await suppressions.listSuppressions(principal.tenantId, query),
    }),
    addSuppression: async ({ principal, body, idempotency }) => {
      const { created, entry } = await suppressions.addSuppression(principal, body, idempotency);
      return { status: created ? 201 : 200, body: entry };
    },
    getSuppression: async ({ principal, params }) => ({
      status: 200,
      body: await suppressions.getSuppression(principal.tenantId, params.email),
    }),
    removeSuppression: async ({ principal, params }) => {
      await suppressions.removeSuppression(principal.tenantId, params.email);
      return { status: 204 };
    },
  },
  { guards: tenantGuards, findIdempotentResponse },
);
