import { routes } from '../../shared/api/routes.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import * as leads from '../../shared/leads/service.ts';
import * as scoring from '../../shared/scoring/service.ts';

export const handler = httpApi(
  routes,
  'leads',
  {
    createLead: async ({ principal, body, idempotency }) => {
      const lead = await leads.createLead(principal, body, idempotency);
      return { status: 201, body: lead, version: lead.version, headers: { location: `/v1/leads/${lead.id}` } };
    },
    listLeads: async ({ principal, query }) => ({ status: 200, body: await leads.listLeads(principal, query) }),
    getLead: async ({ principal, params }) => {
      const lead = await leads.getLead(principal, params.leadId);
      return { status: 200, body: lead, version: lead.version };
    },
    patchLead: async ({ principal, params, body, ifMatch }) => {
      const lead = await leads.patchLead(principal, params.leadId, body, ifMatch);
      return { status: 200, body: lead, version: lead.version };
    },
    deleteLead: async ({ principal, params, ifMatch }) => {
      await leads.deleteLead(principal, params.leadId, ifMatch);
      return { status: 204 };
    },
    restoreLead: async ({ principal, params, ifMatch }) => {
      const lead = await leads.restoreLead(principal, params.leadId, ifMatch);
      return { status: 200, body: lead, version: lead.version };
    },
    leadTimeline: async ({ principal, params, query }) => ({
      status: 200,
      body: await leads.leadTimeline(principal, params.leadId, query),
    }),
    convertLead: async ({ principal, params, body, idempotency }) => ({
      status: 200,
      body: await leads.convertLead(principal, params.leadId, body, idempotency),
    }),
    getScoringRules: async ({ principal }) => {
      const rules = await scoring.getScoringRules(principal.tenantId);
      return { status: 200, body: rules, version: rules.version };
    },
    putScoringRules: async ({ principal, body, ifMatch }) => {
      const rules = await scoring.putScoringRules(principal, body.rules, ifMatch);
      return { status: 200, body: rules, version: rules.version };
    },
  },
  { findIdempotentResponse, guards: tenantGuards },
);
