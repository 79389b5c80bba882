import { tenantQuota } from '../quota/quota.ts';
import { cachedSettings } from '../settings/service.ts';
import type { TenantGuards } from './handler.ts';

/**
 * The per-tenant checks of every authenticated request, backed by the table: the request quota (shared/quota) and
 * the settings that can require If-Match (shared/settings). Kept out of handler.ts so that a function serving only
 * public routes (the docs) loads no database code and needs no table.
 */
export const tenantGuards: TenantGuards = {
  admit: (tenantId) => tenantQuota().admit(tenantId),
  requiresIfMatch: async (tenantId) => (await cachedSettings(tenantId)).requireIfMatch,
};
