import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOG, type CatalogEvent } from '../../events/catalog.ts';
import { dealKeys } from '../db/keys.ts';
import { createModel } from '../db/model.ts';
import { eventsFromStreamRecord } from './from-stream.ts';

/** Deal changes on the stream: the record-change event, and the derived stage events from the old and new images. */

// Only used to render items exactly as ElectroDB stores them (params()); nothing is sent.
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const model = createModel({ table: 'stream-test', client });
afterAll(() => client.destroy());

type Item = Record<string, unknown>;
const T0 = '2026-01-01T10:00:00.000Z';
const T1 = '2026-01-03T10:00:00.000Z';

function storedDeal(fields: Item = {}): Item {
  const item: Item = {
    tenantId: 'acme',
    dealId: '01DEAL',
    name: 'Big one',
    sortName: 'big one',
    amount: 150000,
    currency: 'EUR',
    pipelineId: '01PIPE',
    stageId: 'qualify',
    status: 'open',
    probability: 20,
    stageEnteredAt: T0,
    ownerId: 'alice',
    contactIds: ['01ADA'],
    companyId: '01CO',
    lineItems: [{ name: 'Seat', quantity: 2, unitPrice: 75000, discountAmount: 0, lineTotal: 150000 }],
    version: 1,
    createdAt: T0,
    updatedAt: T0,
    createdBy: 'alice',
    updatedBy: 'alice',
    ...fields,
  };
  const keys = dealKeys(item as unknown as Parameters<typeof dealKeys>[0]);
  return model.entities.deal.put({ ...item, ...keys } as never).params().Item;
}

const image = (item: Item) => marshall(item, { removeUndefinedValues: true });

function streamRecord(oldItem?: Item, newItem?: Item): DynamoDBRecord {
  const keys = (newItem ?? oldItem)!;
  return {
    eventName: oldItem && newItem ? 'MODIFY' : newItem ? 'INSERT' : 'REMOVE',
    dynamodb: {
      Keys: image({ pk: keys.pk, sk: keys.sk }),
      ...(oldItem ? { OldImage: image(oldItem) } : {}),
      ...(newItem ? { NewImage: image(newItem) } : {}),
      SequenceNumber: '1',
    },
  } as unknown as DynamoDBRecord;
}

/** Every event is on the catalog with its source, and its detail parses with the catalog's schema. */
function typesOf(events: CatalogEvent[]): string[] {
  for (const event of events) {
    expect(event.source).toBe('crm.deals');
    expect(CATALOG[event.detailType].schema.parse(event.detail)).toEqual(event.detail);
  }
  return events.map((e) => e.detailType);
}

describe('deal events from the stream', () => {
  it('a create is deal.created plus deal.stage_changed into its first stage', () => {
    const events = eventsFromStreamRecord(streamRecord(undefined, storedDeal()));
    expect(typesOf(events)).toEqual(['deal.created', 'deal.stage_changed']);
    expect(events[1]!.detail).toEqual({
      schemaVersion: 1,
      tenantId: 'acme',
      dealId: '01DEAL',
      version: 1,
      occurredAt: T0,
      actorId: 'alice',
      name: 'Big one',
      pipelineId: '01PIPE',
      toStageId: 'qualify',
      status: 'open',
      probability: 20,
      amount: 150000,
      currency: 'EUR',
      ownerId: 'alice',
      companyId: '01CO',
      contactIds: ['01ADA'],
    });
    // The record-change event carries the whole deal, line items included, and none of the storage keys.
    const record = (events[0]!.detail as { record: Item }).record;
    expect(record.lineItems).toHaveLength(1);
    expect(Object.keys(record).filter((k) => /^(pk|sk|gsi\d)/.test(k))).toEqual([]);
  });

  it('a move to a won stage is deal.updated, deal.stage_changed and deal.won, with the time in the previous stage', () => {
    const before = storedDeal();
    const after = storedDeal({
      stageId: 'won',
      status: 'won',
      probability: 100,
      stageEnteredAt: T1,
      closedAt: T1,
      version: 2,
      updatedAt: T1,
      updatedBy: 'bob',
    });
    const events = eventsFromStreamRecord(streamRecord(before, after));
    expect(typesOf(events)).toEqual(['deal.updated', 'deal.stage_changed', 'deal.won']);
    expect(events[2]!.detail).toMatchObject({
      fromStageId: 'qualify',
      previousStatus: 'open',
      toStageId: 'won',
      status: 'won',
      actorId: 'bob',
      msInPreviousStage: 2 * 24 * 3600 * 1000,
    });
    expect(events[1]!.detail).toEqual(events[2]!.detail);
  });

  it('a move to a lost stage is deal.lost with the reason; a move between open stages only deal.stage_changed', () => {
    const lost = eventsFromStreamRecord(
      streamRecord(
        storedDeal(),
        storedDeal({
          stageId: 'lost',
          status: 'lost',
          probability: 0,
          lostReason: 'Budget',
          stageEnteredAt: T1,
          version: 2,
        }),
      ),
    );
    expect(typesOf(lost)).toEqual(['deal.updated', 'deal.stage_changed', 'deal.lost']);
    expect(lost[2]!.detail).toMatchObject({ lostReason: 'Budget' });
    const open = eventsFromStreamRecord(
      streamRecord(storedDeal(), storedDeal({ stageId: 'propose', probability: 60, stageEnteredAt: T1, version: 2 })),
    );
    expect(typesOf(open)).toEqual(['deal.updated', 'deal.stage_changed']);
  });

  it('a move between two won stages is no second deal.won; a move to another pipeline names the old one', () => {
    const won = { stageId: 'won', status: 'won', probability: 100, closedAt: T0 };
    const events = eventsFromStreamRecord(
      streamRecord(storedDeal(won), storedDeal({ ...won, stageId: 'won-2', stageEnteredAt: T1, version: 2 })),
    );
    expect(typesOf(events)).toEqual(['deal.updated', 'deal.stage_changed']);
    const moved = eventsFromStreamRecord(
      streamRecord(
        storedDeal(),
        storedDeal({ pipelineId: '02PIPE', stageId: 'qualify', stageEnteredAt: T1, version: 2 }),
      ),
    );
    expect(moved[1]!.detail).toMatchObject({ fromPipelineId: '01PIPE', pipelineId: '02PIPE' });
  });

  it('other changes, deletes and restores publish no stage events', () => {
    const renamed = eventsFromStreamRecord(streamRecord(storedDeal(), storedDeal({ name: 'Bigger', version: 2 })));
    expect(typesOf(renamed)).toEqual(['deal.updated']);
    const deleted = storedDeal({ deletedAt: T1, deletedBy: 'alice', version: 2, updatedAt: T1 });
    expect(typesOf(eventsFromStreamRecord(streamRecord(storedDeal(), deleted)))).toEqual(['deal.deleted']);
    const restored = storedDeal({ version: 3, updatedAt: T1 });
    expect(typesOf(eventsFromStreamRecord(streamRecord(deleted, restored)))).toEqual(['deal.restored']);
  });

  it('stage history items, products and pipelines are internal', () => {
    const change = model.entities.dealStageChange
      .put({
        tenantId: 'acme',
        dealId: '01DEAL',
        seq: '0000000001',
        changeId: '01CH',
        pipelineId: '01PIPE',
        toStageId: 'qualify',
        toStageName: 'Qualify',
        status: 'open',
        occurredAt: T0,
        changedBy: 'alice',
      })
      .params().Item;
    expect(eventsFromStreamRecord(streamRecord(undefined, change))).toEqual([]);
  });
});
