import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A knowledge-base article. GSIs (keys in ../keys.ts `articleKeys`): gsi2 live articles by status and title, gsi3 by
 * status, locale and title, gsi4 by title and the trash. Categories are `lookup` items (`article.category`, value
 * `<status>#<category>`); the search index is `kbToken` items, all written in the article's own transaction.
 */
export const ArticleEntity = new Entity(
  {
    model: { entity: 'article', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      articleId: { type: 'string', required: true, readOnly: true },
      title: { type: 'string', required: true },
      sortName: { type: 'string', required: true },
      /** Markdown, stored as written; renderers must not pass raw HTML through. */
      body: { type: 'string', required: true },
      status: { type: ['draft', 'published'] as const, required: true },
      /** Canonical BCP 47 tag, e.g. "en-US". */
      locale: { type: 'string', required: true },
      categories: { type: 'list', items: { type: 'string' }, required: true },
      tags: { type: 'list', items: { type: 'string' }, required: true },
      authorId: { type: 'string' },
      publishedAt: { type: 'string' },
      /** The tokens the article is indexed under (kbToken items), so a write plans only their delta without a read. */
      searchTerms: { type: 'any', required: true },
      deletedAt: { type: 'string' },
      deletedBy: { type: 'string' },
      ...gsiKeyAttributes(['gsi2', 'gsi3', 'gsi4']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'articleId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi2', 'gsi3', 'gsi4']),
    },
  },
  {},
);
