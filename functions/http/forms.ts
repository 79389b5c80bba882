import { routes } from '../../shared/api/routes.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import * as forms from '../../shared/forms/service.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';

export const handler = httpApi(
  routes,
  'forms',
  {
    createForm: async ({ principal, body, idempotency }) => {
      const form = await forms.createForm(principal, body, idempotency);
      return { status: 201, body: form, version: form.version, headers: { location: `/v1/forms/${form.id}` } };
    },
    listForms: async ({ principal, query }) => ({ status: 200, body: await forms.listForms(principal, query) }),
    getForm: async ({ principal, params }) => {
      const form = await forms.getForm(principal, params.formId);
      return { status: 200, body: form, version: form.version };
    },
    patchForm: async ({ principal, params, body, ifMatch }) => {
      const form = await forms.patchForm(principal, params.formId, body, ifMatch);
      return { status: 200, body: form, version: form.version };
    },
    deleteForm: async ({ principal, params, ifMatch }) => {
      await forms.deleteForm(principal, params.formId, ifMatch);
      return { status: 204 };
    },
  },
  { findIdempotentResponse, guards: tenantGuards },
);
