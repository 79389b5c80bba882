import { pageOf } from '../api/common-schemas.ts';
import { defineRoutes } from '../api/route.ts';
import {
  Activity,
  ActivityCreate,
  ActivityIdParams,
  ActivityListItem,
  ActivityListQuery,
  ActivityPatch,
  AgendaQuery,
  CalendarFeedCreated,
  CalendarFeedParams,
} from './schema.ts';

const noContent = { status: 204, description: 'Done; nothing to return.' };

/** Activities (calls, meetings, logged emails, tasks), the agenda and the iCalendar feed. */
export const activitiesRoutes = defineRoutes([
  {
    operationId: 'createActivity',
    method: 'POST',
    path: '/v1/activities',
    group: 'activities',
    permission: 'activities:write',
    tag: 'Activities',
    summary: 'Log a call or an email, schedule a meeting, or create a task',
    description:
      'Linked to 1-20 contacts, companies, deals or leads, each of whose timelines shows it. Linked contacts and ' +
      'companies must exist (checked in the same transaction). A task with dueAt gets a reminder mail to its ' +
      'assignee at dueAt minus reminderOffsetMinutes.',
    body: ActivityCreate,
    response: { status: 201, schema: Activity, description: 'The new activity.' },
    idempotent: true,
  },
  {
    operationId: 'listActivities',
    method: 'GET',
    path: '/v1/activities',
    group: 'activities',
    permission: 'activities:read',
    tag: 'Activities',
    summary: 'List activities by owner, type or linked record',
    description:
      "One filter at a time: ownerId (that user's open tasks and scheduled meetings, soonest first; the default is " +
      'the caller), type (newest first), or contactId / companyId / dealId / leadId (ActivitySummary items from ' +
      "the record's timeline, newest first; a page can hold fewer items than the limit).",
    query: ActivityListQuery,
    response: { status: 200, schema: pageOf(ActivityListItem), description: 'A page of activities.' },
  },
  {
    operationId: 'getActivity',
    method: 'GET',
    path: '/v1/activities/{activityId}',
    group: 'activities',
    permission: 'activities:read',
    tag: 'Activities',
    summary: 'Get an activity',
    params: ActivityIdParams,
    response: { status: 200, schema: Activity, description: 'The activity, with its version as ETag.' },
  },
  {
    operationId: 'patchActivity',
    method: 'PATCH',
    path: '/v1/activities/{activityId}',
    group: 'activities',
    permission: 'activities:write',
    tag: 'Activities',
    summary: 'Update an activity (owner or assignee, or activities:moderate)',
    params: ActivityIdParams,
    body: ActivityPatch,
    response: { status: 200, schema: Activity, description: 'The updated activity.' },
    conditional: true,
  },
  {
    operationId: 'deleteActivity',
    method: 'DELETE',
    path: '/v1/activities/{activityId}',
    group: 'activities',
    permission: 'activities:write',
    tag: 'Activities',
    summary: 'Delete an activity (owner or assignee, or activities:moderate)',
    description: 'It leaves every list and timeline; a task loses its reminder.',
    params: ActivityIdParams,
    response: noContent,
    conditional: true,
  },
  {
    operationId: 'completeTask',
    method: 'POST',
    path: '/v1/activities/{activityId}/complete',
    group: 'activities',
    permission: 'activities:write',
    tag: 'Activities',
    summary: 'Complete a task',
    description: 'Sets status completed and completedAt, and cancels its reminder. Completing twice changes nothing.',
    params: ActivityIdParams,
    response: { status: 200, schema: Activity, description: 'The completed task.' },
    conditional: true,
  },
  {
    operationId: 'getAgenda',
    method: 'GET',
    path: '/v1/me/agenda',
    group: 'activities',
    permission: 'activities:read',
    tag: 'Activities',
    summary: 'Your open tasks and scheduled meetings, overdue first, then by due or start time',
    description: 'Tasks assigned to you and meetings you own; tasks without a due time come last.',
    query: AgendaQuery,
    response: { status: 200, schema: pageOf(Activity), description: 'A page of your agenda.' },
  },
  {
    operationId: 'createCalendarFeed',
    method: 'POST',
    path: '/v1/me/calendar-feed',
    group: 'activities',
    permission: 'activities:write',
    tag: 'Activities',
    summary: 'Create or rotate your iCalendar feed URL',
    description:
      'Returns a secret URL path once (only its hash is kept). Calling again replaces it: the old URL stops working.',
    response: { status: 201, schema: CalendarFeedCreated, description: 'The feed secret and its path.' },
  },
  {
    operationId: 'deleteCalendarFeed',
    method: 'DELETE',
    path: '/v1/me/calendar-feed',
    group: 'activities',
    permission: 'activities:write',
    tag: 'Activities',
    summary: 'Revoke your iCalendar feed URL',
    response: noContent,
  },
  {
    operationId: 'getCalendarFeed',
    method: 'GET',
    path: '/v1/calendar-feeds/{token}',
    group: 'calendarFeed',
    permission: 'public',
    tag: 'Activities',
    summary: 'An iCalendar feed (RFC 5545) of meetings and tasks, behind its secret URL',
    description:
      'No bearer token: the secret in the path is the credential (…/{token} or …/{token}.ics). Meetings as ' +
      'VEVENT and tasks as VTODO, from the last 30 days to the next 90, at most 500. A revoked, rotated or unknown ' +
      "secret is 404. Counts against the feed owner's organisation request quota.",
    params: CalendarFeedParams,
    response: { status: 200, description: 'The calendar (text/calendar), with an ETag.', contentType: 'text/calendar' },
  },
]);
