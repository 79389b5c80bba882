import { routes } from '../../shared/api/routes.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import { listSlaOutcomes } from '../../shared/sla/outcomes.ts';
import * as sla from '../../shared/sla/service.ts';

export const handler = httpApi(
  routes,
  'sla',
  {
    createBusinessCalendar: async ({ principal, body, idempotency }) => {
      const calendar = await sla.createBusinessCalendar(principal, body, idempotency);
      return {
        status: 201,
        body: calendar,
        version: calendar.version,
        headers: { location: `/v1/business-calendars/${calendar.id}` },
      };
    },
    listBusinessCalendars: async ({ principal, query }) => ({
      status: 200,
      body: await sla.listBusinessCalendars(principal, query),
    }),
    getBusinessCalendar: async ({ principal, params }) => {
      const calendar = await sla.getBusinessCalendar(principal, params.calendarId);
      return { status: 200, body: calendar, version: calendar.version };
    },
    patchBusinessCalendar: async ({ principal, params, body, ifMatch }) => {
      const calendar = await sla.patchBusinessCalendar(principal, params.calendarId, body, ifMatch);
      return { status: 200, body: calendar, version: calendar.version };
    },
    deleteBusinessCalendar: async ({ principal, params, ifMatch }) => {
      await sla.deleteBusinessCalendar(principal, params.calendarId, ifMatch);
      return { status: 204 };
    },
    createSlaPolicy: async ({ principal, body, idempotency }) => {
      const policy = await sla.createSlaPolicy(principal, body, idempotency);
      return {
        status: 201,
        body: policy,
        version: policy.version,
        headers: { location: `/v1/sla-policies/${policy.id}` },
      };
    },
    listSlaPolicies: async ({ principal, query }) => ({
      status: 200,
      body: await sla.listSlaPolicies(principal, query),
    }),
    getSlaPolicy: async ({ principal, params }) => {
      const policy = await sla.getSlaPolicy(principal, params.policyId);
      return { status: 200, body: policy, version: policy.version };
    },
    patchSlaPolicy: async ({ principal, params, body, ifMatch }) => {
      const policy = await sla.patchSlaPolicy(principal, params.policyId, body, ifMatch);
      return { status: 200, body: policy, version: policy.version };
    },
    deleteSlaPolicy: async ({ principal, params, ifMatch }) => {
      await sla.deleteSlaPolicy(principal, params.policyId, ifMatch);
      return { status: 204 };
    },
    previewSlaDueTimes: async ({ principal, params, query }) => ({
      status: 200,
      body: await sla.previewDueTimes(principal, params.policyId, query),
    }),
    listSlaOutcomes: async ({ principal, query }) => ({ status: 200, body: await listSlaOutcomes(principal, query) }),
  },
  { findIdempotentResponse, guards: tenantGuards },
);
