import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOG } from '../../events/catalog.ts';
import { createModel } from '../db/model.ts';
import { eventsFromStreamRecord } from '../events/from-stream.ts';
import { publishStreamRecords } from '../events/publisher.ts';

/**
 * A contact's engagement moving forward gives email.opened / email.clicked from the stream: the one entity whose
 * changes give derived events only (it has no record-change event), which the publisher must still put.
 */

// Only used to render items exactly as ElectroDB stores them (params()); nothing is sent.
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const model = createModel({ table: 'stream-test', client });
afterAll(() => client.destroy());

type Item = Record<string, unknown>;
const T1 = '2031-01-01T10:00:00.000Z';
const T2 = '2031-01-01T11:00:00.000Z';

const stored = (fields: Item): Item =>
  model.entities.contactEngagement
    .put({ tenantId: 'acme', contactId: 'c1', updatedAt: T1, ...fields } as never)
    .params().Item;

const image = (item: Item) => marshall(item, { removeUndefinedValues: true });
function streamRecord(oldItem: Item | undefined, newItem: Item, sequence = '100'): DynamoDBRecord {
  return {
    eventName: oldItem ? 'MODIFY' : 'INSERT',
    dynamodb: {
      Keys: image({ pk: newItem.pk, sk: newItem.sk }),
      ...(oldItem ? { OldImage: image(oldItem) } : {}),
      NewImage: image(newItem),
      SequenceNumber: sequence,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  } as unknown as DynamoDBRecord;
}

describe('engagement events from the stream', () => {
  it('gives email.opened when the last open moves (naming the campaign), email.clicked when the last click does', () => {
    const opened = stored({ lastOpenedAt: T1, lastOpenedCampaignId: 'camp1' });
    const [event] = eventsFromStreamRecord(streamRecord(undefined, opened));
    expect(event).toEqual({
      source: 'crm.marketing',
      detailType: 'email.opened',
      detail: {
        schemaVersion: 1,
        tenantId: 'acme',
        contactId: 'c1',
        campaignId: 'camp1',
        at: T1,
        occurredAt: T1,
        links: [{ type: 'contact', id: 'c1' }],
      },
    });
    expect(CATALOG['email.opened'].schema.parse(event!.detail)).toBeTruthy();
    const clicked = stored({ lastOpenedAt: T1, lastOpenedCampaignId: 'camp1', lastClickedAt: T2 });
    expect(eventsFromStreamRecord(streamRecord(opened, clicked)).map((e) => e.detailType)).toEqual(['email.clicked']);
    const both = stored({ lastOpenedAt: T2, lastClickedAt: T2 });
    expect(eventsFromStreamRecord(streamRecord(undefined, both)).map((e) => e.detailType)).toEqual([
      'email.opened',
      'email.clicked',
    ]);
  });

  it('gives nothing when neither moved (e.g. only lastSentAt changed)', () => {
    const before = stored({ lastOpenedAt: T1 });
    const after = stored({ lastOpenedAt: T1, lastSentAt: T2, updatedAt: T2 });
    expect(eventsFromStreamRecord(streamRecord(before, after))).toEqual([]);
  });

  it('are put by the publisher although the entity has no record-change event', async () => {
    const sent: Array<{ DetailType?: string | undefined; Source?: string | undefined }> = [];
    const result = await publishStreamRecords(
      [streamRecord(undefined, stored({ lastClickedAt: T2, lastClickedCampaignId: 'camp9' }), '1')],
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
    expect(sent.map((e) => `${e.Source} ${e.DetailType}`)).toEqual(['crm.marketing email.clicked']);
  });
});
