import { routes } from '../../shared/api/routes.ts';
import { history } from '../../shared/audit/service.ts';
import * as companies from '../../shared/companies/service.ts';
import { contactsOfCompany } from '../../shared/contacts/view.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import { timeline } from '../../shared/timeline/service.ts';

export const handler = httpApi(
  routes,
  'companies',
  {
    createCompany: async ({ principal, body, idempotency }) => {
      const company = await companies.createCompany(principal, body, idempotency);
      return {
        status: 201,
        body: company,
        version: company.version,
        headers: { location: `/v1/companies/${company.id}` },
      };
    },
    listCompanies: async ({ principal, query }) => ({
      status: 200,
      body: await companies.listCompanies(principal, query),
    }),
    getCompany: async ({ principal, params }) => {
      const company = await companies.getCompany(principal, params.companyId);
      return { status: 200, body: company, version: company.version };
    },
    patchCompany: async ({ principal, params, body, ifMatch }) => {
      const company = await companies.patchCompany(principal, params.companyId, body, ifMatch);
      return { status: 200, body: company, version: company.version };
    },
    deleteCompany: async ({ principal, params, ifMatch }) => {
      await companies.deleteCompany(principal, params.companyId, ifMatch);
      return { status: 204 };
    },
    restoreCompany: async ({ principal, params, ifMatch }) => {
      const company = await companies.restoreCompany(principal, params.companyId, ifMatch);
      return { status: 200, body: company, version: company.version };
    },
    listCompanyContacts: async ({ principal, params, query }) => ({
      status: 200,
      body: await contactsOfCompany(principal, params.companyId, query),
    }),
    companyHistory: async ({ principal, params, query }) => ({
      status: 200,
      body: await history(principal, 'company', params.companyId, query),
    }),
    companyTimeline: async ({ principal, params, query }) => ({
      status: 200,
      body: await timeline(principal, 'company', params.companyId, query),
    }),
  },
  { findIdempotentResponse, guards: tenantGuards },
);
