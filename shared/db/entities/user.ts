import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A member of the tenant's workspace: the profile the CRM keeps beside the identity (Cognito in AWS, the local
 * issuer locally), under the same id (the token's `sub`). Roles are mirrored from the identity's groups. Keys:
 * live users by name (gsi4) and by status (gsi2), removed ones in the trash (gsi4), every change on gsi5.
 */
export const UserEntity = new Entity(
  {
    model: { entity: 'user', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      userId: { type: 'string', required: true, readOnly: true },
      email: { type: 'string', required: true },
      name: { type: 'string', required: true },
      roles: { type: 'list', items: { type: 'string' }, required: true },
      /** IANA time zone, e.g. Europe/Paris: reminders, agenda and business hours are computed in it. */
      timeZone: { type: 'string', required: true },
      /** Weekly working hours in the user's time zone: [{ day: 1..7 (ISO, Monday = 1), start: 'HH:MM', end }]. */
      workingHours: { type: 'any' },
      /** invited (never signed in), active, disabled (cannot sign in; kept for history and reassignment). */
      status: { type: ['invited', 'active', 'disabled'] as const, required: true },
      /** When the user first called the API (their first GET /v1/me): they have signed in. */
      activatedAt: { type: 'string' },
      /** Teams the user belongs to (the teams hold the membership details). */
      teamIds: { type: 'list', items: { type: 'string' } },
      sortName: { type: 'string', required: true },
      ...gsiKeyAttributes(['gsi2', 'gsi4', 'gsi5']),
      deletedAt: { type: 'string' },
      deletedBy: { type: 'string' },
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'userId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi2', 'gsi4', 'gsi5']),
    },
  },
  {},
);
