import { Entity } from 'electrodb';
import { gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * One search token of one article (the knowledge base's inverted index), in the article's partition so its tokens
 * sit together. gsi2: the token's partition, heaviest articles first (exact matches); gsi3: the partition of the
 * first two characters of the token's word, sorted by word (prefix matches of a word being typed). Both keys carry
 * the article's status and locale (../keys.ts `kbTokenKeys`), so a search reads only published articles of a locale.
 * Written and deleted in the article's transaction; only live articles have tokens.
 */
export const KbTokenEntity = new Entity(
  {
    model: { entity: 'kbToken', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      articleId: { type: 'string', required: true, readOnly: true },
      token: { type: 'string', required: true, readOnly: true },
      surface: { type: 'string', required: true },
      weight: { type: 'number', required: true },
      ...gsiKeyAttributes(['gsi2', 'gsi3']),
    },
    indexes: {
      byArticle: {
        pk: { field: 'pk', composite: ['tenantId', 'articleId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: ['token'], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi2', 'gsi3']),
    },
  },
  {},
);
