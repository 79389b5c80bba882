import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOG, type CatalogEvent } from '../../events/catalog.ts';
import { ticketKeys } from '../db/keys.ts';
import { createModel } from '../db/model.ts';
import { eventsFromStreamRecord } from './from-stream.ts';

/** Ticket and message changes on the stream become ticket.created|updated|deleted and ticket.message_added. */

// Only used to render items exactly as ElectroDB stores them (params()); nothing is sent.
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const model = createModel({ table: 'stream-test', client });
afterAll(() => client.destroy());

type Item = Record<string, unknown>;
const T0 = '2026-01-01T10:00:00.000Z';
const T1 = '2026-01-01T11:00:00.000Z';

function storedTicket(fields: Item = {}): Item {
  const item: Item = {
    tenantId: 'acme',
    ticketId: '01TICKET',
    seq: 1042,
    number: 'T-1042',
    subject: 'Printer on fire',
    status: 'new',
    priority: 'urgent',
    channel: 'email',
    requesterId: '01ADA',
    teamId: 'support',
    messageCount: 0,
    version: 1,
    createdAt: T0,
    updatedAt: T0,
    createdBy: 'agent',
    updatedBy: 'agent',
    ...fields,
  };
  return model.entities.ticket.put({ ...item, ...ticketKeys(item as never) } as never).params().Item;
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

function parsed(events: CatalogEvent[]): CatalogEvent[] {
  for (const event of events) {
    expect(event.source).toBe('crm.tickets');
    expect(CATALOG[event.detailType].schema.parse(event.detail)).toEqual(event.detail);
  }
  return events;
}

describe('ticket events from the stream', () => {
  it('a create is ticket.created with the fields routing matches on, and no storage keys', () => {
    const [event] = parsed(eventsFromStreamRecord(streamRecord(undefined, storedTicket())));
    expect(event!.detailType).toBe('ticket.created');
    const detail = event!.detail as { entityId: string; record: Item };
    expect(detail.entityId).toBe('01TICKET');
    expect(detail.record).toMatchObject({
      id: '01TICKET',
      number: 'T-1042',
      status: 'new',
      priority: 'urgent',
      channel: 'email',
      requesterId: '01ADA',
      teamId: 'support',
    });
    expect(Object.keys(detail.record).filter((k) => /^(pk|sk|gsi\d)/.test(k))).toEqual([]);
  });

  it('a status change is ticket.updated naming the change; a soft delete is ticket.deleted', () => {
    const before = storedTicket();
    const after = storedTicket({ status: 'solved', solvedAt: T1, version: 2, updatedAt: T1 });
    const [updated] = parsed(eventsFromStreamRecord(streamRecord(before, after)));
    expect(updated!.detailType).toBe('ticket.updated');
    expect((updated!.detail as { changes: Item }).changes.status).toEqual({ old: 'new', new: 'solved' });
    const deleted = storedTicket({ deletedAt: T1, deletedBy: 'mgr', version: 3, updatedAt: T1 });
    expect(parsed(eventsFromStreamRecord(streamRecord(after, deleted))).map((e) => e.detailType)).toEqual([
      'ticket.deleted',
    ]);
  });

  it('a new message is ticket.message_added', () => {
    const message = model.entities.ticketMessage
      .put({
        tenantId: 'acme',
        ticketId: '01TICKET',
        messageId: '01MSG',
        visibility: 'public',
        authorType: 'contact',
        authorId: '01ADA',
        bodyText: 'Still broken',
        version: 1,
        createdAt: T1,
        updatedAt: T1,
      })
      .params().Item;
    const [event] = parsed(eventsFromStreamRecord(streamRecord(undefined, message)));
    expect(event!.detailType).toBe('ticket.message_added');
    expect((event!.detail as { record: Item }).record).toMatchObject({
      id: '01MSG',
      ticketId: '01TICKET',
      authorType: 'contact',
    });
  });
});
