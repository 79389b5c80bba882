import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOG } from '../../events/catalog.ts';
import { activityKeys } from '../db/keys.ts';
import { createModel } from '../db/model.ts';
import { eventFromStreamRecord, eventsFromStreamRecord } from '../events/from-stream.ts';
import { publishStreamRecords } from '../events/publisher.ts';

/** Activity changes become activity.* events, and a task's recorded reminder also `task.due`: from the stream only. */

// Only used to render items exactly as ElectroDB stores them (params()); nothing is sent.
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const model = createModel({ table: 'stream-test', client });
afterAll(() => client.destroy());

type Item = Record<string, unknown>;
const T0 = '2031-01-01T10:00:00.000Z';

function storedTask(fields: Item = {}): Item {
  const item = {
    tenantId: 'acme',
    activityId: '01TASK',
    type: 'task',
    title: 'Send the quote',
    status: 'open',
    priority: 'high',
    ownerId: 'u1',
    assigneeId: 'u2',
    dueAt: '2031-01-02T09:00:00.000Z',
    occurredAt: T0,
    links: [{ type: 'contact', id: 'c1' }],
    version: 1,
    createdAt: T0,
    updatedAt: T0,
    createdBy: 'u1',
    updatedBy: 'u1',
    ...fields,
  };
  return model.entities.activity.put({ ...item, ...activityKeys(item as never) } as never).params().Item;
}

const image = (item: Item) => marshall(item, { removeUndefinedValues: true, convertClassInstanceToMap: true });
function streamRecord(oldItem?: Item, newItem?: Item, sequence = '100'): DynamoDBRecord {
  const keys = (newItem ?? oldItem)!;
  return {
    eventName: oldItem ? (newItem ? 'MODIFY' : 'REMOVE') : 'INSERT',
    dynamodb: {
      Keys: image({ pk: keys.pk, sk: keys.sk }),
      ...(oldItem ? { OldImage: image(oldItem) } : {}),
      ...(newItem ? { NewImage: image(newItem) } : {}),
      SequenceNumber: sequence,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  } as unknown as DynamoDBRecord;
}

describe('activity events from the stream', () => {
  it('publishes activity.created with type, links and status in the record, and no storage keys', () => {
    const event = eventFromStreamRecord(streamRecord(undefined, storedTask()))!;
    expect(event.detailType).toBe('activity.created');
    expect(event.source).toBe('crm.activities');
    const detail = CATALOG['activity.created'].schema.parse(event.detail) as { record: Item; entityId: string };
    expect(detail.entityId).toBe('01TASK');
    expect(detail.record).toMatchObject({
      id: '01TASK',
      type: 'task',
      status: 'open',
      links: [{ type: 'contact', id: 'c1' }],
    });
    for (const key of Object.keys(detail.record)) expect(key).not.toMatch(/^(pk|sk|gsi\d|__edb|tenantId)/);
  });

  it('publishes completion as activity.updated (status old → new), and a soft delete as activity.deleted', () => {
    const open = storedTask();
    const done = storedTask({
      status: 'completed',
      completedAt: T0,
      version: 2,
      updatedAt: '2031-01-01T11:00:00.000Z',
    });
    const updated = eventFromStreamRecord(streamRecord(open, done))!;
    expect(updated.detailType).toBe('activity.updated');
    expect((updated.detail as { changes: Item }).changes.status).toEqual({ old: 'open', new: 'completed' });
    const deleted = storedTask({ deletedAt: '2031-01-01T12:00:00.000Z', version: 2 });
    expect(eventFromStreamRecord(streamRecord(open, deleted))!.detailType).toBe('activity.deleted');
  });

  it('derives task.due when the reminder records remindedAt, once', () => {
    const before = storedTask();
    const reminded = storedTask({ remindedAt: '2031-01-02T09:00:01.000Z', version: 2, updatedBy: 'system:reminders' });
    const events = eventsFromStreamRecord(streamRecord(before, reminded));
    expect(events.map((e) => e.detailType)).toEqual(['activity.updated', 'task.due']);
    const due = CATALOG['task.due'].schema.parse(events[1]!.detail);
    expect(due).toEqual({
      schemaVersion: 1,
      tenantId: 'acme',
      taskId: '01TASK',
      version: 2,
      occurredAt: '2031-01-02T09:00:01.000Z',
      title: 'Send the quote',
      dueAt: '2031-01-02T09:00:00.000Z',
      remindedAt: '2031-01-02T09:00:01.000Z',
      assigneeId: 'u2',
      ownerId: 'u1',
      priority: 'high',
      links: [{ type: 'contact', id: 'c1' }],
    });
    // A later edit of the reminded task, or its deletion, is no new task.due.
    const edited = storedTask({ remindedAt: '2031-01-02T09:00:01.000Z', version: 3, notes: 'x' });
    expect(eventsFromStreamRecord(streamRecord(reminded, edited)).map((e) => e.detailType)).toEqual([
      'activity.updated',
    ]);
    const gone = storedTask({ remindedAt: '2031-01-02T09:00:01.000Z', deletedAt: T0, version: 3 });
    expect(eventsFromStreamRecord(streamRecord(reminded, gone)).map((e) => e.detailType)).toEqual(['activity.deleted']);
  });

  it('the publisher puts both events of one change, in order', async () => {
    const sent: Array<{ DetailType?: string | undefined; Source?: string | undefined }> = [];
    const before = storedTask();
    const reminded = storedTask({ remindedAt: '2031-01-02T09:00:01.000Z', version: 2 });
    const result = await publishStreamRecords(
      [streamRecord(undefined, before, '1'), streamRecord(before, reminded, '2')],
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
      'crm.activities activity.created',
      'crm.activities activity.updated',
      'crm.activities task.due',
    ]);
  });
});
