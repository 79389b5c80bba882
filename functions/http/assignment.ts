import { routes } from '../../shared/api/routes.ts';
import * as assignment from '../../shared/assignment/service.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';

export const handler = httpApi(
  routes,
  'assignment',
  {
    getAssignmentRules: async ({ principal }) => {
      const rules = await assignment.getAssignmentRules(principal.tenantId);
      return { status: 200, body: rules, version: rules.version };
    },
    putAssignmentRules: async ({ principal, body, ifMatch }) => {
      const rules = await assignment.putAssignmentRules(principal, body, ifMatch);
      return { status: 200, body: rules, version: rules.version };
    },
    previewAssignment: async ({ principal, query }) => ({
      status: 200,
      body: await assignment.previewAssignment(principal.tenantId, query),
    }),
  },
  { guards: tenantGuards },
);
