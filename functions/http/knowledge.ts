import { routes } from '../../shared/api/routes.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import * as kb from '../../shared/knowledge/service.ts';

export const handler = httpApi(
  routes,
  'knowledge',
  {
    createArticle: async ({ principal, body, idempotency }) => {
      const article = await kb.createArticle(principal, body, idempotency);
      return {
        status: 201,
        body: article,
        version: article.version,
        headers: { location: `/v1/kb/articles/${article.id}` },
      };
    },
    listArticles: async ({ principal, query }) => ({ status: 200, body: await kb.listArticles(principal, query) }),
    searchArticles: async ({ principal, query }) => ({ status: 200, body: await kb.searchArticles(principal, query) }),
    suggestArticles: async ({ principal, body }) => ({
      status: 200,
      body: { items: await kb.suggestArticles(principal.tenantId, body, body.limit), limit: body.limit },
    }),
    getArticle: async ({ principal, params }) => {
      const article = await kb.getArticle(principal, params.articleId);
      return { status: 200, body: article, version: article.version };
    },
    patchArticle: async ({ principal, params, body, ifMatch }) => {
      const article = await kb.patchArticle(principal, params.articleId, body, ifMatch);
      return { status: 200, body: article, version: article.version };
    },
    deleteArticle: async ({ principal, params, ifMatch }) => {
      await kb.deleteArticle(principal, params.articleId, ifMatch);
      return { status: 204 };
    },
    restoreArticle: async ({ principal, params, ifMatch }) => {
      const article = await kb.restoreArticle(principal, params.articleId, ifMatch);
      return { status: 200, body: article, version: article.version };
    },
  },
  { findIdempotentResponse, guards: tenantGuards },
);
