import { defineRoutes } from '../api/route.ts';
import { AssignmentPreview, AssignmentPreviewQuery, AssignmentRules, AssignmentRulesPut } from './schema.ts';

export const assignmentRoutes = defineRoutes([
  {
    operationId: 'getAssignmentRules',
    method: 'GET',
    path: '/v1/assignment-rules',
    group: 'assignment',
    permission: 'assignment:read',
    tag: 'Assignment',
    summary: "Your organisation's assignment rules, in order",
    description:
      'When a contact (and, once wired, a lead or deal) is created without an owner, the first active rule that ' +
      'matches it picks an owner among its team’s available members. No rules: records stay unowned.',
    response: { status: 200, schema: AssignmentRules, description: 'The rules, with their version as ETag.' },
  },
  {
    operationId: 'putAssignmentRules',
    method: 'PUT',
    path: '/v1/assignment-rules',
    group: 'assignment',
    permission: 'assignment:manage',
    tag: 'Assignment',
    summary: 'Replace the assignment rules (the whole ordered list)',
    description:
      'At most 100 rules; ids are yours and unique. A round-robin rule keeps its rotation under its id across edits. ' +
      'Other API functions see a change within 30 seconds (they cache the rules briefly).',
    body: AssignmentRulesPut,
    response: { status: 200, schema: AssignmentRules, description: 'The new rules.' },
    conditional: true,
  },
  {
    operationId: 'previewAssignment',
    method: 'GET',
    path: '/v1/assignment-rules/preview',
    group: 'assignment',
    permission: 'assignment:read',
    tag: 'Assignment',
    summary: 'Which rule and members a record would meet (nothing is assigned)',
    query: AssignmentPreviewQuery,
    response: { status: 200, schema: AssignmentPreview, description: 'The matching rule and eligible members.' },
  },
]);
