import * as z from 'zod';
import { pageOf } from '../api/common-schemas.ts';
import { defineRoutes } from '../api/route.ts';
import {
  Article,
  ArticleCreate,
  ArticleIdParams,
  ArticleListQuery,
  ArticlePatch,
  ArticleSearchQuery,
  ArticleSummary,
  SearchResult,
  SuggestionRequest,
} from './schema.ts';

const TAG = 'Knowledge base';

export const knowledgeRoutes = defineRoutes([
  {
    operationId: 'createArticle',
    method: 'POST',
    path: '/v1/kb/articles',
    group: 'knowledge',
    permission: 'kb:write',
    tag: TAG,
    summary: 'Write a knowledge-base article',
    description:
      'A draft by default; creating it published needs kb:publish. Its title and body are indexed for search in the ' +
      'same transaction (the 40 most significant words).',
    body: ArticleCreate,
    response: { status: 201, schema: Article, description: 'The new article.' },
    idempotent: true,
  },
  {
    operationId: 'listArticles',
    method: 'GET',
    path: '/v1/kb/articles',
    group: 'knowledge',
    permission: 'kb:read',
    tag: TAG,
    summary: 'List articles',
    description:
      'Published articles by title unless status=draft (kb:write). One filter at a time: category (summaries), ' +
      'locale, inTrash=true (kb:write).',
    query: ArticleListQuery,
    response: {
      status: 200,
      schema: pageOf(z.union([Article, ArticleSummary])),
      description: 'A page of articles.',
    },
  },
  {
    operationId: 'searchArticles',
    method: 'GET',
    path: '/v1/kb/search',
    group: 'knowledge',
    permission: 'kb:read',
    tag: TAG,
    summary: 'Search articles',
    description:
      'Words are folded (case, accents), stemmed (English locales) and matched against the token index; the last ' +
      'word also as a prefix while typing ("password res" finds "reset"). Ranked by matched words, then summed ' +
      'weights (title words count 5). The best `limit` (at most 25), no cursor. Drafts with status=draft (kb:write).',
    query: ArticleSearchQuery,
    response: { status: 200, schema: SearchResult, description: 'The best matches, best first.' },
  },
  {
    operationId: 'suggestArticles',
    method: 'POST',
    path: '/v1/kb/suggestions',
    group: 'knowledge',
    permission: 'kb:read',
    tag: TAG,
    summary: "Suggest articles for a ticket's subject and body",
    description: "Published articles ranked by the ticket's 8 heaviest words (the subject counts like a title).",
    body: SuggestionRequest,
    response: { status: 200, schema: SearchResult, description: 'Suggested articles, best first.' },
  },
  {
    operationId: 'getArticle',
    method: 'GET',
    path: '/v1/kb/articles/{articleId}',
    group: 'knowledge',
    permission: 'kb:read',
    tag: TAG,
    summary: 'Get an article',
    description: 'A draft is 404 for readers without kb:write.',
    params: ArticleIdParams,
    response: { status: 200, schema: Article, description: 'The article, with its version as ETag.' },
  },
  {
    operationId: 'patchArticle',
    method: 'PATCH',
    path: '/v1/kb/articles/{articleId}',
    group: 'knowledge',
    permission: 'kb:write',
    tag: TAG,
    summary: 'Update an article (JSON merge patch)',
    description: 'Publishing, unpublishing or editing a published article needs kb:publish; re-indexes what changed.',
    params: ArticleIdParams,
    body: ArticlePatch,
    response: { status: 200, schema: Article, description: 'The updated article.' },
    conditional: true,
  },
  {
    operationId: 'deleteArticle',
    method: 'DELETE',
    path: '/v1/kb/articles/{articleId}',
    group: 'knowledge',
    permission: 'kb:write',
    tag: TAG,
    summary: 'Move an article to the trash',
    description: 'It leaves every list and the search index; a published one needs kb:publish.',
    params: ArticleIdParams,
    response: { status: 204, description: 'Done; nothing to return.' },
    conditional: true,
  },
  {
    operationId: 'restoreArticle',
    method: 'POST',
    path: '/v1/kb/articles/{articleId}/restore',
    group: 'knowledge',
    permission: 'kb:write',
    tag: TAG,
    summary: 'Restore an article from the trash',
    description: 'With the status it had (a published one needs kb:publish), indexed again.',
    params: ArticleIdParams,
    response: { status: 200, schema: Article, description: 'The restored article.' },
    conditional: true,
  },
]);
