import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createModel } from '../db/model.ts';
import { eventFromStreamRecord } from '../events/from-stream.ts';

const model = createModel({
  table: 't',
  client: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
});

type Item = Record<string, unknown>;
const segment = (overrides: Item = {}): Item =>
  model.entities.segment
    .put({
      tenantId: 'acme',
      segmentId: 's1',
      kind: 'dynamic',
      name: 'VIPs',
      sortName: 'vips',
      filter: { field: 'tags', op: 'contains', value: 'vip' },
      filterVersion: 1,
      evaluation: 1,
      memberCount: 0,
      backfill: { status: 'pending', evaluation: 1, processed: 0, matched: 0 },
      version: 1,
      createdAt: '2026-12-01T10:00:00.000Z',
      updatedAt: '2026-12-01T10:00:00.000Z',
      ...overrides,
    } as never)
    .params().Item as Item;

function streamRecord(eventName: 'INSERT' | 'MODIFY', oldItem: Item | undefined, newItem: Item): DynamoDBRecord {
  const image = (item: Item) => marshall(item, { removeUndefinedValues: true });
  return {
    eventName,
    dynamodb: {
      Keys: image({ pk: newItem.pk, sk: newItem.sk }),
      ...(oldItem ? { OldImage: image(oldItem) } : {}),
      NewImage: image(newItem),
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  } as unknown as DynamoDBRecord;
}

describe('segment change events', () => {
  it('publishes definition changes, never the member count or backfill progress alone', () => {
    const created = eventFromStreamRecord(streamRecord('INSERT', undefined, segment()));
    expect(created).toMatchObject({ source: 'crm.segments', detailType: 'segment.created' });
    expect((created!.detail as { changes: Item }).changes.evaluation).toEqual({ new: 1 });

    const counted = segment({
      memberCount: 41,
      backfill: { status: 'running', evaluation: 1, processed: 500, matched: 41 },
    });
    expect(eventFromStreamRecord(streamRecord('MODIFY', segment(), counted))).toBeUndefined();

    const edited = segment({
      version: 2,
      memberCount: 41,
      filter: { field: 'tags', op: 'contains', value: 'gold' },
      filterVersion: 2,
      evaluation: 2,
      backfill: { status: 'pending', evaluation: 2, processed: 0, matched: 0 },
    });
    const updated = eventFromStreamRecord(streamRecord('MODIFY', counted, edited));
    expect(updated?.detailType).toBe('segment.updated');
    expect(Object.keys((updated!.detail as { changes: Item }).changes).sort()).toEqual([
      'backfill',
      'evaluation',
      'filter',
      'filterVersion',
      'version',
    ]);
  });
});
