/**
 * Roles and what each may do. Deny by default: a role not listed here, or a permission not granted, is refused.
 * Routes name the one permission they need (shared/api/routes.ts); this table is the only place roles are mapped.
 */
export const ROLES = ['admin', 'manager', 'sales', 'support', 'marketing', 'readonly'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  'contacts:read',
  'contacts:write',
  'contacts:delete',
  /** Merge duplicate contacts (the loser becomes a redirect). */
  'contacts:merge',
  'companies:read',
  'companies:write',
  'companies:delete',
  'companies:merge',
  /** See duplicate candidates. */
  'duplicates:read',
  'notes:read',
  'notes:write',
  /** Edit or delete notes written by someone else. */
  'notes:moderate',
  'customFields:read',
  'customFields:manage',
  /** Read the tenant's settings (every role: clients learn whether If-Match is required). */
  'settings:read',
  'settings:manage',
  /** The workspace directory: users and teams. */
  'users:read',
  /** Invite, disable, enable users and change their roles (Cognito). */
  'users:manage',
  'teams:read',
  /** Create teams, change members, availability and capacity. */
  'teams:manage',
  'leads:read',
  'leads:write',
  'leads:delete',
  /** Convert a lead into a contact, a company and a deal. */
  'leads:convert',
  'forms:read',
  /** Declare web-to-lead forms. */
  'forms:manage',
  'scoring:read',
  /** Lead scoring rules. */
  'scoring:manage',
  'products:read',
  'products:manage',
  'pipelines:read',
  'pipelines:manage',
  'deals:read',
  'deals:write',
  'deals:delete',
  'activities:read',
  'activities:write',
  /** Edit or delete activities owned by someone else. */
  'activities:moderate',
  'assignment:read',
  /** Assignment rules and territories. */
  'assignment:manage',
  /** Business calendars and SLA policies (and their due-time preview). */
  'sla:read',
  'sla:manage',
  'tickets:read',
  /** Open tickets, change them, reply and add internal notes. */
  'tickets:write',
  'tickets:delete',
  /** Published knowledge-base articles (every role, through READ). */
  'kb:read',
  /** Write and delete draft articles; see drafts and the trash. */
  'kb:write',
  /** Publish, unpublish, edit or delete published articles. */
  'kb:publish',
  /** Support mailboxes (which addresses feed tickets, and how failed mail checks are handled). */
  'mailboxes:read',
  'mailboxes:manage',
  /** Segments and static lists: read them and their members; define, edit and delete them and list members. */
  'segments:read',
  'segments:write',
  'campaigns:read',
  /** Draft, change and delete email campaigns. */
  'campaigns:write',
  /** Schedule, cancel, pause and resume campaigns: what makes mail go out. */
  'campaigns:send',
  /** Subscription categories (what the preference page lists). */
  'subscriptions:read',
  'subscriptions:manage',
  /** The suppression list (addresses no marketing mail goes to); manage adds and removes entries by hand. */
  'suppressions:read',
  'suppressions:manage',
  /** Marketing email templates (read: list, get, preview). */
  'emailTemplates:read',
  /** Create, change, delete and test-send email templates. */
  'emailTemplates:write',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const READ: Permission[] = PERMISSIONS.filter((p) => p.endsWith(':read'));

/** Administration only: the schema, the tenant's settings and who may sign in. */
const ADMIN_ONLY: readonly Permission[] = ['customFields:manage', 'settings:manage', 'users:manage'];

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
  manager: PERMISSIONS.filter((p) => !ADMIN_ONLY.includes(p)),
  sales: [
    ...READ,
    'contacts:write',
    'companies:write',
    'notes:write',
    'leads:write',
    'leads:convert',
    'deals:write',
    'activities:write',
  ],
  support: [...READ, 'contacts:write', 'notes:write', 'activities:write', 'tickets:write', 'kb:write'],
  marketing: [
    ...READ,
    'contacts:write',
    'companies:write',
    'leads:write',
    'forms:manage',
    'scoring:manage',
    'segments:write',
    'campaigns:write',
    'campaigns:send',
    'subscriptions:manage',
    'suppressions:manage',
    'emailTemplates:write',
  ],
  readonly: READ,
};

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function can(roles: readonly Role[], permission: Permission): boolean {
  return roles.some((role) => ROLE_PERMISSIONS[role].includes(permission));
}
