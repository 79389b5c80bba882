import { SESv2Client } from '@aws-sdk/client-sesv2';
import { routes } from '../../shared/api/routes.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import * as templates from '../../shared/templates/service.ts';

const ses = new SESv2Client({ maxAttempts: 3 });

export const handler = httpApi(
  routes,
  'emailTemplates',
  {
    createEmailTemplate: async ({ principal, body, idempotency }) => {
      const template = await templates.createTemplate(principal, body, idempotency);
      return {
        status: 201,
        body: template,
        version: template.version,
        headers: { location: `/v1/email-templates/${template.id}` },
      };
    },
    listEmailTemplates: async ({ principal, query }) => ({
      status: 200,
      body: await templates.listTemplates(principal, query),
    }),
    getEmailTemplate: async ({ principal, params }) => {
      const template = await templates.getTemplate(principal, params.templateId);
      return { status: 200, body: template, version: template.version };
    },
    patchEmailTemplate: async ({ principal, params, body, ifMatch }) => {
      const template = await templates.patchTemplate(principal, params.templateId, body, ifMatch);
      return { status: 200, body: template, version: template.version };
    },
    deleteEmailTemplate: async ({ principal, params, ifMatch }) => {
      await templates.deleteTemplate(principal, params.templateId, ifMatch);
      return { status: 204 };
    },
    restoreEmailTemplate: async ({ principal, params, ifMatch }) => {
      const template = await templates.restoreTemplate(principal, params.templateId, ifMatch);
      return { status: 200, body: template, version: template.version };
    },
    previewEmailTemplate: async ({ principal, params, body }) => ({
      status: 200,
      body: await templates.previewTemplate(principal, params.templateId, body),
    }),
    testSendEmailTemplate: async ({ principal, params, body }) => ({
      status: 200,
      body: await templates.testSendTemplate({ ses }, principal, params.templateId, body),
    }),
  },
  { findIdempotentResponse, guards: tenantGuards },
);
