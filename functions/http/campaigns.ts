import { routes } from '../../shared/api/routes.ts';
import * as campaigns from '../../shared/campaigns/service.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';

export const handler = httpApi(
  routes,
  'campaigns',
  {
    createCampaign: async ({ principal, body, idempotency }) => {
      const campaign = await campaigns.createCampaign(principal, body, idempotency);
      return {
        status: 201,
        body: campaign,
        version: campaign.version,
        headers: { location: `/v1/campaigns/${campaign.id}` },
      };
    },
    listCampaigns: async ({ principal, query }) => ({
      status: 200,
      body: await campaigns.listCampaigns(principal, query),
    }),
    getCampaign: async ({ principal, params }) => {
      const campaign = await campaigns.getCampaign(principal, params.campaignId);
      return { status: 200, body: campaign, version: campaign.version };
    },
    patchCampaign: async ({ principal, params, body, ifMatch }) => {
      const campaign = await campaigns.patchCampaign(principal, params.campaignId, body, ifMatch);
      return { status: 200, body: campaign, version: campaign.version };
    },
    deleteCampaign: async ({ principal, params, ifMatch }) => {
      await campaigns.deleteCampaign(principal, params.campaignId, ifMatch);
      return { status: 204 };
    },
    scheduleCampaign: async ({ principal, params, body, ifMatch }) => {
      const campaign = await campaigns.scheduleCampaign(principal, params.campaignId, body, ifMatch);
      return { status: 200, body: campaign, version: campaign.version };
    },
    cancelCampaign: async ({ principal, params, ifMatch }) => {
      const campaign = await campaigns.cancelCampaign(principal, params.campaignId, ifMatch);
      return { status: 200, body: campaign, version: campaign.version };
    },
    pauseCampaign: async ({ principal, params, ifMatch }) => {
      const campaign = await campaigns.pauseCampaign(principal, params.campaignId, ifMatch);
      return { status: 200, body: campaign, version: campaign.version };
    },
    resumeCampaign: async ({ principal, params, ifMatch }) => {
      const campaign = await campaigns.resumeCampaign(principal, params.campaignId, ifMatch);
      return { status: 200, body: campaign, version: campaign.version };
    },
    listCampaignRecipients: async ({ principal, params, query }) => ({
      status: 200,
      body: await campaigns.listRecipients(principal, params.campaignId, query),
    }),
  },
  { findIdempotentResponse, guards: tenantGuards },
);
