import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A business-hours calendar: IANA time zone, weekly hours and holidays, in one bounded item (at most 7 × 6 intervals
 * and 200 holidays), so SLA arithmetic reads it with one GetItem. gsi4: calendars by name.
 */
export const BusinessCalendarEntity = new Entity(
  {
    model: { entity: 'businessCalendar', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      calendarId: { type: 'string', required: true, readOnly: true },
      name: { type: 'string', required: true },
      sortName: { type: 'string', required: true },
      timeZone: { type: 'string', required: true },
      /** { mon … sun: [{ start: 'HH:MM', end: 'HH:MM' | '24:00' }] } in local time. */
      weeklyHours: { type: 'any', required: true },
      /** [{ date: 'YYYY-MM-DD', recurring: boolean, name? }] */
      holidays: { type: 'any', required: true },
      ...gsiKeyAttributes(['gsi4']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'calendarId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi4']),
    },
  },
  {},
);
