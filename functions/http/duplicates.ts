import { routes } from '../../shared/api/routes.ts';
import { dismissPair, listPairs } from '../../shared/duplicates/candidates.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';

export const handler = httpApi(
  routes,
  'duplicates',
  {
    listDuplicates: async ({ principal, query }) => ({
      status: 200,
      body: await listPairs(principal, query.entity, query),
    }),
    dismissDuplicate: async ({ principal, params }) => ({
      status: 200,
      body: await dismissPair(principal, params.pairId),
    }),
  },
  { guards: tenantGuards },
);
