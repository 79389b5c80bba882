import { routes } from '../../shared/api/routes.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import { getSettings, patchSettings } from '../../shared/settings/service.ts';

export const handler = httpApi(
  routes,
  'settings',
  {
    getSettings: async ({ principal }) => {
      const settings = await getSettings(principal.tenantId);
      return { status: 200, body: settings, version: settings.version };
    },
    patchSettings: async ({ principal, body, ifMatch }) => {
      const settings = await patchSettings(principal, body, ifMatch);
      return { status: 200, body: settings, version: settings.version };
    },
  },
  { guards: tenantGuards },
);
