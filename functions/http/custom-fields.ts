import { routes } from '../../shared/api/routes.ts';
import { getCustomFieldSchema, putCustomFieldSchema } from '../../shared/custom-fields/service.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';

export const handler = httpApi(
  routes,
  'customFields',
  {
    getCustomFields: async ({ principal, params }) => {
      const schema = await getCustomFieldSchema(principal.tenantId, params.entityType);
      return { status: 200, body: schema, version: schema.version };
    },
    putCustomFields: async ({ principal, params, body, ifMatch }) => {
      const schema = await putCustomFieldSchema(principal, params.entityType, body.fields, ifMatch);
      return { status: 200, body: schema, version: schema.version };
    },
  },
  { guards: tenantGuards },
);
