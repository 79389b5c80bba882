import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A call, meeting, logged email or task (`type`), linked to 1-20 contacts, companies, deals or leads. It shows on
 * each linked record's timeline through timelineLink items (shared/timeline/links.ts), written in its own
 * transaction. Indexes (keys built in ../keys.ts, shared/activities/service.ts): gsi1 the owner's open items (open
 * tasks, scheduled meetings), gsi2 the agenda of the assignee (tasks) or owner (meetings) by due/start time, gsi3 the
 * same user's calendar (every meeting and task with a time, whatever its status: the iCalendar feed), gsi4 by type,
 * gsi5 delta sync (deleted ones included).
 */
export const ActivityEntity = new Entity(
  {
    model: { entity: 'activity', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      activityId: { type: 'string', required: true, readOnly: true },
      type: { type: ['call', 'meeting', 'email', 'task'] as const, required: true, readOnly: true },
      subject: { type: 'string' },
      notes: { type: 'string' },
      ownerId: { type: 'string', required: true },
      occurredAt: { type: 'string', required: true },
      /** [{ type: 'contact' | 'company' | 'deal' | 'lead', id }] */
      links: { type: 'any', required: true },
      /** call, email */
      direction: { type: 'string' },
      /** call */
      durationSeconds: { type: 'number' },
      outcome: { type: 'string' },
      /** meeting */
      startAt: { type: 'string' },
      endAt: { type: 'string' },
      attendees: { type: 'any' },
      location: { type: 'string' },
      /** meeting: scheduled/held/cancelled; task: open/completed/cancelled */
      status: { type: 'string' },
      /** email */
      from: { type: 'string' },
      to: { type: 'list', items: { type: 'string' } },
      body: { type: 'string' },
      sentAt: { type: 'string' },
      /** task */
      title: { type: 'string' },
      dueAt: { type: 'string' },
      reminderOffsetMinutes: { type: 'number' },
      priority: { type: 'string' },
      assigneeId: { type: 'string' },
      completedAt: { type: 'string' },
      /** Set by the reminder when it mailed the assignee; cleared when the due time or offset changes. */
      remindedAt: { type: 'string' },
      ...gsiKeyAttributes(['gsi1', 'gsi2', 'gsi3', 'gsi4', 'gsi5']),
      deletedAt: { type: 'string' },
      deletedBy: { type: 'string' },
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'activityId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi1', 'gsi2', 'gsi3', 'gsi4', 'gsi5']),
    },
  },
  {},
);
