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
  'companies:read',
  'companies:write',
  'companies:delete',
  'notes:read',
  'notes:write',
  /** Edit or delete notes written by someone else. */
  'notes:moderate',
  'customFields:read',
  'customFields:manage',
  /** Read the tenant's settings (every role: clients learn whether If-Match is required). */
  'settings:read',
  'settings:manage',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const READ: Permission[] = ['contacts:read', 'companies:read', 'notes:read', 'customFields:read', 'settings:read'];

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
  manager: PERMISSIONS.filter((p) => p !== 'customFields:manage' && p !== 'settings:manage'),
  sales: [...READ, 'contacts:write', 'companies:write', 'notes:write'],
  support: [...READ, 'contacts:write', 'notes:write'],
  marketing: [...READ, 'contacts:write', 'companies:write'],
  readonly: READ,
};

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function can(roles: readonly Role[], permission: Permission): boolean {
  return roles.some((role) => ROLE_PERMISSIONS[role].includes(permission));
}
