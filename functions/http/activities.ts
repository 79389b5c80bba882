import * as activities from '../../shared/activities/service.ts';
import { routes } from '../../shared/api/routes.ts';
import * as calendar from '../../shared/calendar/service.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';

export const handler = httpApi(
  routes,
  'activities',
  {
    createActivity: async ({ principal, body, idempotency }) => {
      const activity = await activities.createActivity(principal, body, idempotency);
      return {
        status: 201,
        body: activity,
        version: activity.version,
        headers: { location: `/v1/activities/${activity.id}` },
      };
    },
    listActivities: async ({ principal, query }) => ({
      status: 200,
      body: await activities.listActivities(principal, query, query),
    }),
    getActivity: async ({ principal, params }) => {
      const activity = await activities.getActivity(principal, params.activityId);
      return { status: 200, body: activity, version: activity.version };
    },
    patchActivity: async ({ principal, params, body, ifMatch }) => {
      const activity = await activities.patchActivity(principal, params.activityId, body, ifMatch);
      return { status: 200, body: activity, version: activity.version };
    },
    deleteActivity: async ({ principal, params, ifMatch }) => {
      await activities.deleteActivity(principal, params.activityId, ifMatch);
      return { status: 204 };
    },
    completeTask: async ({ principal, params, ifMatch }) => {
      const task = await activities.completeTask(principal, params.activityId, ifMatch);
      return { status: 200, body: task, version: task.version };
    },
    getAgenda: async ({ principal, query }) => ({
      status: 200,
      body: await activities.agenda(principal, query, query),
    }),
    createCalendarFeed: async ({ principal }) => ({
      status: 201,
      body: await calendar.createCalendarFeed(principal),
    }),
    deleteCalendarFeed: async ({ principal }) => {
      await calendar.revokeCalendarFeed(principal);
      return { status: 204 };
    },
  },
  { findIdempotentResponse, guards: tenantGuards },
);
