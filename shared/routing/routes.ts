import { defineRoutes } from '../api/route.ts';
import { RoutingPreview, RoutingPreviewInput, RoutingRules, RoutingRulesPut } from './schema.ts';

/**
 * Ticket routing rules. Served by the assignment function group (the same kind of one-item rule document, read and
 * replaced under If-Match) and guarded by the assignment permissions: who may decide where work goes.
 */
export const routingRoutes = defineRoutes([
  {
    operationId: 'getTicketRouting',
    method: 'GET',
    path: '/v1/ticket-routing',
    group: 'assignment',
    permission: 'assignment:read',
    tag: 'Ticket routing',
    summary: "Your organisation's ticket routing rules, in order, and the fallback team",
    description:
      'Every new ticket goes through the routing workflow (Step Functions, started by ticket.created): the first ' +
      'active rule that matches sets its team and priority and assigns an available agent of the team (round robin ' +
      'or least busy). A ticket created with an assignee is left alone.',
    response: { status: 200, schema: RoutingRules, description: 'The rules, with their version as ETag.' },
  },
  {
    operationId: 'putTicketRouting',
    method: 'PUT',
    path: '/v1/ticket-routing',
    group: 'assignment',
    permission: 'assignment:manage',
    tag: 'Ticket routing',
    summary: 'Replace the ticket routing rules (the whole ordered list) and the fallback team',
    description: 'At most 100 rules; ids are yours and unique. The workflow reads the rules fresh for each ticket.',
    body: RoutingRulesPut,
    response: { status: 200, schema: RoutingRules, description: 'The new rules.' },
    conditional: true,
  },
  {
    operationId: 'previewTicketRouting',
    method: 'POST',
    path: '/v1/ticket-routing/preview',
    group: 'assignment',
    permission: 'assignment:read',
    tag: 'Ticket routing',
    summary: 'Which rule a hypothetical ticket would meet (nothing is stored or assigned)',
    body: RoutingPreviewInput,
    response: { status: 200, schema: RoutingPreview, description: 'The matching rule and what it would set.' },
  },
]);
