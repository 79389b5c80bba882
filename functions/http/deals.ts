import { routes } from '../../shared/api/routes.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import * as deals from '../../shared/deals/service.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';

export const handler = httpApi(
  routes,
  'deals',
  {
    createDeal: async ({ principal, body, idempotency }) => {
      const deal = await deals.createDeal(principal, body, idempotency);
      return { status: 201, body: deal, version: deal.version, headers: { location: `/v1/deals/${deal.id}` } };
    },
    listDeals: async ({ principal, query }) => ({ status: 200, body: await deals.listDeals(principal, query) }),
    getDeal: async ({ principal, params }) => {
      const deal = await deals.getDeal(principal, params.dealId);
      return { status: 200, body: deal, version: deal.version };
    },
    patchDeal: async ({ principal, params, body, ifMatch }) => {
      const deal = await deals.patchDeal(principal, params.dealId, body, ifMatch);
      return { status: 200, body: deal, version: deal.version };
    },
    moveDealStage: async ({ principal, params, body, ifMatch }) => {
      const deal = await deals.moveDealStage(principal, params.dealId, body, ifMatch);
      return { status: 200, body: deal, version: deal.version };
    },
    deleteDeal: async ({ principal, params, ifMatch }) => {
      await deals.deleteDeal(principal, params.dealId, ifMatch);
      return { status: 204 };
    },
    restoreDeal: async ({ principal, params, ifMatch }) => {
      const deal = await deals.restoreDeal(principal, params.dealId, ifMatch);
      return { status: 200, body: deal, version: deal.version };
    },
    dealStageHistory: async ({ principal, params, query }) => ({
      status: 200,
      body: await deals.stageHistory(principal, params.dealId, query),
    }),
    dealTimeline: async ({ principal, params, query }) => ({
      status: 200,
      body: await deals.dealTimeline(principal, params.dealId, query),
    }),
    pipelineBoard: async ({ principal, params, query }) => ({
      status: 200,
      body: await deals.board(principal, params.pipelineId, query.limit),
    }),
    stageDeals: async ({ principal, params, query }) => ({
      status: 200,
      body: await deals.stageDeals(principal, params.pipelineId, params.stageId, query),
    }),
    contactPurchases: async ({ principal, params, query }) => ({
      status: 200,
      body: await deals.contactPurchases(principal, params.contactId, query),
    }),
    companyPurchases: async ({ principal, params, query }) => ({
      status: 200,
      body: await deals.companyPurchases(principal, params.companyId, query),
    }),
  },
  { findIdempotentResponse, guards: tenantGuards },
);
