import { routes } from '../../shared/api/routes.ts';
import * as assignment from '../../shared/assignment/service.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import * as routing from '../../shared/routing/service.ts';

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
    getTicketRouting: async ({ principal }) => {
      const rules = await routing.getRoutingRules(principal.tenantId);
      return { status: 200, body: rules, version: rules.version };
    },
    putTicketRouting: async ({ principal, body, ifMatch }) => {
      const rules = await routing.putRoutingRules(principal, body, ifMatch);
      return { status: 200, body: rules, version: rules.version };
    },
    previewTicketRouting: async ({ principal, body }) => ({
      status: 200,
      body: await routing.previewRouting(principal.tenantId, body),
    }),
  },
  { guards: tenantGuards },
);
