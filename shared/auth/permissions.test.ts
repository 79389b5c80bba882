import { describe, expect, it } from 'vitest';
import { routes } from '../api/routes.ts';
import { can, isRole, PERMISSIONS, type Permission, ROLE_PERMISSIONS, ROLES, type Role } from './permissions.ts';

/** The intended matrix, written out independently of the implementation. */
const ALL_READS: Permission[] = [
  'contacts:read',
  'companies:read',
  'duplicates:read',
  'notes:read',
  'customFields:read',
  'settings:read',
  'users:read',
  'teams:read',
  'leads:read',
  'forms:read',
  'scoring:read',
  'products:read',
  'pipelines:read',
  'deals:read',
  'activities:read',
  'assignment:read',
  'sla:read',
  'tickets:read',
  'kb:read',
  'mailboxes:read',
  'segments:read',
  'subscriptions:read',
  'suppressions:read',
  'emailTemplates:read',
  'campaigns:read',
];

/** The intended matrix, written out independently of the implementation. */
const EXPECTED: Record<Role, Permission[]> = {
  admin: [...PERMISSIONS],
  manager: PERMISSIONS.filter((p) => p !== 'customFields:manage' && p !== 'settings:manage' && p !== 'users:manage'),
  sales: [
    ...ALL_READS,
    'contacts:write',
    'companies:write',
    'notes:write',
    'leads:write',
    'leads:convert',
    'deals:write',
    'activities:write',
  ],
  support: [...ALL_READS, 'contacts:write', 'notes:write', 'activities:write', 'tickets:write', 'kb:write'],
  marketing: [
    ...ALL_READS,
    'contacts:write',
    'companies:write',
    'leads:write',
    'forms:manage',
    'scoring:manage',
    'segments:write',
    'subscriptions:manage',
    'suppressions:manage',
    'emailTemplates:write',
    'campaigns:write',
    'campaigns:send',
  ],
  readonly: ALL_READS,
};

const WRITES = PERMISSIONS.filter((p) => !p.endsWith(':read'));

describe('role matrix', () => {
  it.each(ROLES)('%s has exactly its intended permissions', (role) => {
    for (const permission of PERMISSIONS) {
      expect(can([role], permission), `${role} ${permission}`).toBe(EXPECTED[role].includes(permission));
    }
    expect([...ROLE_PERMISSIONS[role]].sort()).toEqual([...EXPECTED[role]].sort());
  });

  it('denies by default: no roles means no permission', () => {
    for (const permission of PERMISSIONS) expect(can([], permission)).toBe(false);
  });

  it('readonly has no write, delete, moderate or manage permission', () => {
    expect(WRITES.length).toBeGreaterThan(0);
    for (const permission of WRITES) expect(can(['readonly'], permission)).toBe(false);
  });

  it('every role can read everything', () => {
    for (const role of ROLES) {
      for (const permission of PERMISSIONS.filter((p) => p.endsWith(':read')))
        expect(can([role], permission)).toBe(true);
    }
  });

  it('knowledge base: support agents write drafts; only admin and manager publish', () => {
    expect(ROLES.filter((r) => can([r], 'kb:write'))).toEqual(['admin', 'manager', 'support']);
    expect(ROLES.filter((r) => can([r], 'kb:publish'))).toEqual(['admin', 'manager']);
  });

  it('only admin may manage custom fields', () => {
    expect(ROLES.filter((r) => can([r], 'customFields:manage'))).toEqual(['admin']);
  });

  it('only admin may change the settings or manage users', () => {
    expect(ROLES.filter((r) => can([r], 'settings:manage'))).toEqual(['admin']);
    expect(ROLES.filter((r) => can([r], 'users:manage'))).toEqual(['admin']);
  });

  it('only admin and manager may delete or moderate', () => {
    for (const permission of [
      'contacts:delete',
      'companies:delete',
      'notes:moderate',
      'contacts:merge',
      'companies:merge',
      'leads:delete',
      'deals:delete',
      'activities:moderate',
      'teams:manage',
      'assignment:manage',
      'products:manage',
      'pipelines:manage',
      'mailboxes:manage',
      'sla:manage',
      'tickets:delete',
    ] as const) {
      expect(ROLES.filter((r) => can([r], permission))).toEqual(['admin', 'manager']);
    }
  });

  it('support cannot write companies; marketing can, but cannot write notes', () => {
    expect(can(['support'], 'companies:write')).toBe(false);
    expect(can(['marketing'], 'companies:write')).toBe(true);
    expect(can(['marketing'], 'notes:write')).toBe(false);
  });

  it('support and managers work tickets; sales, marketing and readonly only read them', () => {
    expect(ROLES.filter((r) => can([r], 'tickets:write'))).toEqual(['admin', 'manager', 'support']);
    expect(ROLES.filter((r) => can([r], 'tickets:read'))).toEqual([...ROLES]);
  });

  it('marketing, managers and admins manage subscription categories and the suppression list', () => {
    for (const permission of ['subscriptions:manage', 'suppressions:manage'] as const) {
      expect(ROLES.filter((r) => can([r], permission))).toEqual(['admin', 'manager', 'marketing']);
    }
  });

  it('marketing, managers and admins write and test-send email templates; every role previews them', () => {
    expect(ROLES.filter((r) => can([r], 'emailTemplates:write'))).toEqual(['admin', 'manager', 'marketing']);
    expect(ROLES.filter((r) => can([r], 'emailTemplates:read'))).toEqual([...ROLES]);
  });

  it('marketing, managers and admins draft and send campaigns; every role reads them', () => {
    for (const permission of ['campaigns:write', 'campaigns:send'] as const) {
      expect(ROLES.filter((r) => can([r], permission))).toEqual(['admin', 'manager', 'marketing']);
    }
    expect(ROLES.filter((r) => can([r], 'campaigns:read'))).toEqual([...ROLES]);
  });

  it('several roles grant the union of their permissions', () => {
    expect(can(['support', 'marketing'], 'companies:write')).toBe(true);
    expect(can(['support', 'marketing'], 'notes:write')).toBe(true);
    expect(can(['support', 'marketing'], 'contacts:delete')).toBe(false);
  });
});

describe('isRole', () => {
  it('recognises exactly the known roles, case-sensitively', () => {
    for (const role of ROLES) expect(isRole(role)).toBe(true);
    for (const junk of ['Admin', 'superuser', '', 'admin ', 'toString', '__proto__']) expect(isRole(junk)).toBe(false);
  });
});

describe('routes', () => {
  it('every route names a known permission or is explicitly public', () => {
    for (const route of routes) {
      expect(route.permission === 'public' || (PERMISSIONS as readonly string[]).includes(route.permission)).toBe(true);
    }
  });

  it('only the API description, the web-to-lead endpoints, the secret-URL calendar feed and the signed-link unsubscribe pages are public', () => {
    expect(routes.filter((r) => r.permission === 'public').map((r) => r.path)).toEqual([
      '/v1/openapi.json',
      '/docs',
      '/docs/{asset}',
      '/v1/forms/{formId}/submissions',
      '/v1/forms/{formId}/submissions',
      '/v1/forms/confirmations/{token}',
      '/v1/calendar-feeds/{token}',
      '/v1/unsubscribe/{token}',
      '/v1/unsubscribe/{token}',
      '/v1/preferences/{token}',
      '/v1/preferences/{token}',
    ]);
  });

  /** Writes that change only the caller's own state, which every role that can see teams may do. */
  const SELF_SERVICE = ['PUT /v1/me/availability'];
  /** POSTs that store nothing: their input is too long for a query string (a ticket's subject and body). */
  // POSTs that store nothing (a body too rich for a query string): reading is enough.
  const READ_ONLY_POSTS = [
    'POST /v1/kb/suggestions',
    'POST /v1/ticket-routing/preview',
    'POST /v1/email-templates/{templateId}/preview',
  ];

  it('no write operation is public (except the web-to-lead submission and the signed-link pages) or guarded by a read permission (except self-service on /v1/me)', () => {
    for (const route of routes) {
      const permission: string = route.permission;
      if (SELF_SERVICE.includes(`${route.method} ${route.path}`)) expect(route.path).toMatch(/^\/v1\/me\//);
      else if (route.group === 'formSubmissions' || route.group === 'preferences')
        expect(route.permission).toBe('public');
      else if (READ_ONLY_POSTS.includes(`${route.method} ${route.path}`)) expect(permission).toMatch(/:read$/);
      else if (route.method !== 'GET') expect(permission).not.toMatch(/:read$|^public$/);
    }
  });

  it('the public web-to-lead endpoints sit in a group of their own, with nothing authenticated', () => {
    const group = routes.filter((r) => r.group === 'formSubmissions');
    expect(group.map((r) => r.operationId).sort()).toEqual([
      'confirmFormSubmission',
      'preflightFormSubmission',
      'submitForm',
    ]);
    expect(group.every((r) => r.permission === 'public')).toBe(true);
  });

  it('the signed-link unsubscribe and preference pages sit in a group of their own, with nothing authenticated', () => {
    const group = routes.filter((r) => r.group === 'preferences');
    expect(group.map((r) => r.operationId).sort()).toEqual([
      'oneClickUnsubscribe',
      'showPreferences',
      'showUnsubscribe',
      'updatePreferences',
    ]);
    expect(group.every((r) => r.permission === 'public')).toBe(true);
  });
});
