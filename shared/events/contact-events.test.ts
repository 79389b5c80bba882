import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOG, type CatalogEvent } from '../../events/catalog.ts';
import { contactKeys } from '../db/keys.ts';
import { createModel } from '../db/model.ts';
import { eventsFromStreamRecord } from './from-stream.ts';

/** Contact changes on the stream: an unsubscribe also gives `consent.unsubscribed`, derived from the two images. */

// Only used to render items exactly as ElectroDB stores them (params()); nothing is sent.
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const model = createModel({ table: 'stream-test', client });
afterAll(() => client.destroy());

type Item = Record<string, unknown>;
const T0 = '2026-01-01T10:00:00.000Z';
const T1 = '2026-01-03T10:00:00.000Z';

function storedContact(fields: Item = {}): Item {
  const item: Item = {
    tenantId: 'acme',
    contactId: '01ADA',
    firstName: 'Ada',
    sortName: 'ada',
    emails: ['ada@example.com'],
    consent: { email: 'granted', updatedAt: T0, source: 'api' },
    version: 1,
    createdAt: T0,
    updatedAt: T0,
    createdBy: 'alice',
    updatedBy: 'alice',
    ...fields,
  };
  const keys = contactKeys(item as unknown as Parameters<typeof contactKeys>[0]);
  return model.entities.contact.put({ ...item, ...keys } as never).params().Item;
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

/** The derived events, each checked against the catalog. */
function unsubscribes(events: CatalogEvent[]) {
  for (const event of events) {
    expect(event.source).toBe('crm.contacts');
    expect(CATALOG[event.detailType].schema.parse(event.detail)).toEqual(event.detail);
  }
  return events.filter((e) => e.detailType === 'consent.unsubscribed').map((e) => e.detail);
}

const oneClick = { updatedAt: T1, source: 'one_click', campaignId: 'camp-1' };
const byLink = { version: 2, updatedAt: T1, updatedBy: 'contact:01ADA' };

describe('consent.unsubscribed from the stream', () => {
  it('email consent withdrawn: one event of scope all, with source, campaign and time of the change', () => {
    const before = storedContact();
    const after = storedContact({ ...byLink, consent: { email: 'withdrawn', ...oneClick } });
    const events = eventsFromStreamRecord(streamRecord(before, after));
    expect(events.map((e) => e.detailType)).toEqual(['contact.updated', 'consent.unsubscribed']);
    expect(unsubscribes(events)).toEqual([
      {
        schemaVersion: 1,
        tenantId: 'acme',
        contactId: '01ADA',
        version: 2,
        occurredAt: T1,
        actorId: 'contact:01ADA',
        scope: 'all',
        source: 'one_click',
        campaignId: 'camp-1',
      },
    ]);
  });

  it('one event per category newly unsubscribed; choices already unsubscribed or subscribed give none', () => {
    const before = storedContact({
      subscriptions: { old: { status: 'unsubscribed', updatedAt: T0, source: 'api' } },
    });
    const after = storedContact({
      ...byLink,
      subscriptions: {
        old: { status: 'unsubscribed', updatedAt: T0, source: 'api' },
        news: { status: 'unsubscribed', ...oneClick },
        events: { status: 'unsubscribed', updatedAt: T1, source: 'preference_page' },
        offers: { status: 'subscribed', updatedAt: T1, source: 'preference_page' },
      },
    });
    const details = unsubscribes(eventsFromStreamRecord(streamRecord(before, after))) as Array<Item>;
    expect(details.map((d) => [d.scope, d.categoryId, d.source, d.campaignId])).toEqual([
      ['category', 'news', 'one_click', 'camp-1'],
      ['category', 'events', 'preference_page', undefined],
    ]);
  });

  it('no event for a create, a change of anything else, a repeat, a delete or a merge', () => {
    const withdrawn = { consent: { email: 'withdrawn', ...oneClick } };
    const cases: Array<[Item | undefined, Item]> = [
      [undefined, storedContact(withdrawn)],
      [storedContact(), storedContact({ ...byLink, firstName: 'Augusta' })],
      [storedContact(withdrawn), storedContact({ ...withdrawn, ...byLink, firstName: 'Augusta' })],
      [storedContact(), storedContact({ ...withdrawn, ...byLink, deletedAt: T1 })],
      [storedContact(), storedContact({ ...withdrawn, ...byLink, mergedInto: '01OTHER' })],
    ];
    for (const [before, after] of cases) {
      expect(unsubscribes(eventsFromStreamRecord(streamRecord(before, after)))).toEqual([]);
    }
  });
});

describe('consent.unsubscribed on the bus', () => {
  it('the stream publisher may put it; consumers of every contact change do not get it', async () => {
    const { publishedDetailTypes } = await import('../../infra/constructs/events.ts');
    const { auditedEvents } = await import('../../infra/constructs/audit-trail.ts');
    const { candidateEvents } = await import('../../infra/constructs/duplicate-candidates.ts');
    expect(publishedDetailTypes()).toContain('consent.unsubscribed');
    expect(auditedEvents().detailType).not.toContain('consent.unsubscribed');
    expect(candidateEvents().detailType).not.toContain('consent.unsubscribed');
  });
});
