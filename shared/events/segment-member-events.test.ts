import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOG, DERIVED_ONLY_ENTITIES } from '../../events/catalog.ts';
import { publishedDetailTypes, publishedEntitiesFilter } from '../../infra/constructs/events.ts';
import { createModel } from '../db/model.ts';
import { eventsFromStreamRecord } from './from-stream.ts';
import { publishStreamRecords } from './publisher.ts';

/**
 * Segment membership from the stream: a membership item's creation is `segment.member.added`, its deletion
 * `segment.member.removed`, an update (the evaluation refreshed) nothing; the details carry ids only.
 */

// Only used to render items exactly as ElectroDB stores them (params()); nothing is sent.
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const model = createModel({ table: 'stream-test', client });
afterAll(() => client.destroy());

type Item = Record<string, unknown>;
const ADDED = '2031-01-01T10:00:00.000Z';

const member = (fields: Item = {}): Item =>
  model.entities.segmentMember
    .put({ tenantId: 'acme', segmentId: 'seg1', contactId: 'c1', addedAt: ADDED, source: 'manual', ...fields } as never)
    .params().Item;

const image = (item: Item) => marshall(item, { removeUndefinedValues: true });
function streamRecord(oldItem: Item | undefined, newItem: Item | undefined, at?: number): DynamoDBRecord {
  const keyed = (newItem ?? oldItem)!;
  return {
    eventName: !oldItem ? 'INSERT' : newItem ? 'MODIFY' : 'REMOVE',
    dynamodb: {
      Keys: image({ pk: keyed.pk, sk: keyed.sk }),
      ...(oldItem ? { OldImage: image(oldItem) } : {}),
      ...(newItem ? { NewImage: image(newItem) } : {}),
      ...(at ? { ApproximateCreationDateTime: at } : {}),
      SequenceNumber: '100',
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  } as unknown as DynamoDBRecord;
}

describe('segment membership events from the stream', () => {
  it('gives segment.member.added on a membership item created, with ids, source and its add time only', () => {
    const events = eventsFromStreamRecord(streamRecord(undefined, member({ source: 'filter', evaluation: 3 })));
    expect(events).toEqual([
      {
        source: 'crm.segments',
        detailType: 'segment.member.added',
        detail: {
          schemaVersion: 1,
          tenantId: 'acme',
          segmentId: 'seg1',
          contactId: 'c1',
          source: 'filter',
          occurredAt: ADDED,
        },
      },
    ]);
    expect(CATALOG['segment.member.added'].schema.parse(events[0]!.detail)).toBeTruthy();
  });

  it('gives segment.member.removed on its deletion, timed by the stream record', () => {
    const removedAt = Date.parse('2031-02-03T04:05:06.000Z') / 1000;
    const [event] = eventsFromStreamRecord(streamRecord(member(), undefined, removedAt));
    expect(event?.detailType).toBe('segment.member.removed');
    expect(event?.detail).toMatchObject({
      segmentId: 'seg1',
      contactId: 'c1',
      source: 'manual',
      occurredAt: '2031-02-03T04:05:06.000Z',
    });
  });

  it('gives nothing for an update of the item (an evaluation refresh is no membership change)', () => {
    expect(eventsFromStreamRecord(streamRecord(member({ evaluation: 1 }), member({ evaluation: 2 })))).toEqual([]);
  });

  it('passes the stream filter, may be put by the publisher, and is put although the entity has no record event', async () => {
    expect(DERIVED_ONLY_ENTITIES).toContain('segmentMember');
    expect(JSON.stringify(publishedEntitiesFilter())).toContain('segmentMember');
    expect(publishedDetailTypes()).toEqual(expect.arrayContaining(['segment.member.added', 'segment.member.removed']));
    const sent: Array<{ DetailType?: string | undefined; Source?: string | undefined; Detail?: string | undefined }> =
      [];
    const result = await publishStreamRecords(
      [streamRecord(undefined, member({ contactId: 'c2', source: 'backfill' })), streamRecord(member(), undefined)],
      {
        eventBusName: 'bus',
        store: { bucket: 'b', put: async () => {}, get: async () => new Uint8Array() },
        putEvents: async (entries) => {
          sent.push(...entries);
          return { FailedEntryCount: 0, Entries: entries.map((_, i) => ({ EventId: `e${i}` })) };
        },
      },
    );
    expect(result.batchItemFailures).toEqual([]);
    expect(sent.map((e) => `${e.Source} ${e.DetailType}`)).toEqual([
      'crm.segments segment.member.added',
      'crm.segments segment.member.removed',
    ]);
    // Ids only: no contact or segment fields travel, whatever the item holds.
    expect(Object.keys(JSON.parse(sent[0]!.Detail!)).sort()).toEqual([
      'contactId',
      'occurredAt',
      'schemaVersion',
      'segmentId',
      'source',
      'tenantId',
    ]);
  });
});
