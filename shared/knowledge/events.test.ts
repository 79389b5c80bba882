import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOG } from '../../events/catalog.ts';
import { articleKeys, kbTokenKeys } from '../db/keys.ts';
import { createModel } from '../db/model.ts';
import { eventFromStreamRecord } from '../events/from-stream.ts';
import { indexTerms } from './text.ts';

// Only used to render items exactly as ElectroDB stores them (params()); nothing is sent.
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const model = createModel({ table: 'kb-events', client });
afterAll(() => client.destroy());

type Item = Record<string, unknown>;
const T0 = '2026-01-01T10:00:00.000Z';

function storedArticle(fields: Item = {}): Item {
  const article = {
    tenantId: 'acme',
    articleId: '01ARTICLE',
    title: 'Reset your password',
    sortName: 'reset your password',
    body: 'Open Settings.',
    status: 'published',
    locale: 'en',
    categories: ['account'],
    tags: [],
    authorId: 'u1',
    searchTerms: indexTerms('Reset your password', 'Open Settings.', 'en'),
    version: 1,
    createdAt: T0,
    updatedAt: T0,
    updatedBy: 'u1',
    ...fields,
  };
  return model.entities.article.put({ ...article, ...articleKeys(article as never) } as never).params().Item;
}

const image = (item: Item) => marshall(item, { removeUndefinedValues: true });
const streamRecord = (oldItem?: Item, newItem?: Item) =>
  ({
    eventName: oldItem && newItem ? 'MODIFY' : newItem ? 'INSERT' : 'REMOVE',
    dynamodb: {
      ...(oldItem ? { OldImage: image(oldItem) } : {}),
      ...(newItem ? { NewImage: image(newItem) } : {}),
    },
  }) as unknown as DynamoDBRecord;

describe('article events from the stream', () => {
  it('publishes article.created with the record, never its search tokens', () => {
    const event = eventFromStreamRecord(streamRecord(undefined, storedArticle()));
    expect(event?.detailType).toBe('article.created');
    expect(event?.source).toBe('crm.knowledge');
    expect(CATALOG['article.created'].schema.safeParse(event?.detail).success).toBe(true);
    const detail = event?.detail as { entityId: string; record: Item };
    expect(detail.entityId).toBe('01ARTICLE');
    expect(detail.record).toMatchObject({ id: '01ARTICLE', title: 'Reset your password', status: 'published' });
    expect(Object.keys(detail.record)).not.toContain('searchTerms');
  });

  it('publishes article.updated with what changed, article.deleted and article.restored', () => {
    const before = storedArticle();
    const after = storedArticle({ status: 'draft', version: 2 });
    const updated = eventFromStreamRecord(streamRecord(before, after));
    expect(updated?.detailType).toBe('article.updated');
    expect((updated!.detail as { changes: Item }).changes).toEqual({
      status: { old: 'published', new: 'draft' },
      version: { old: 1, new: 2 },
    });
    const deleted = storedArticle({ version: 3, deletedAt: '2026-01-02T00:00:00.000Z' });
    expect(eventFromStreamRecord(streamRecord(after, deleted))?.detailType).toBe('article.deleted');
    expect(eventFromStreamRecord(streamRecord(deleted, storedArticle({ version: 4 })))?.detailType).toBe(
      'article.restored',
    );
  });

  it('keeps the index items internal', () => {
    const term = { token: 'reset', weight: 6, surface: 'reset' };
    const token = model.entities.kbToken
      .put({
        tenantId: 'acme',
        articleId: '01ARTICLE',
        ...term,
        ...kbTokenKeys({ tenantId: 'acme', articleId: '01ARTICLE', status: 'published', locale: 'en', ...term }),
      } as never)
      .params().Item;
    expect(eventFromStreamRecord(streamRecord(undefined, token))).toBeUndefined();
  });
});
