import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalEventBridge } from '../../infra/local/eventbridge.ts';
import { TemplateResolver } from '../../infra/local/template.ts';
import { EVENT_BUDGET_BYTES, entrySize, PUT_EVENTS_MAX_BYTES } from '../../shared/events/bounds.ts';
import { isClaimCheck, resolveClaimChecks } from '../../shared/events/claim-check.ts';
import { publishStreamRecords } from '../../shared/events/publisher.ts';
import { startLocalClaimChecks } from '../../test/support/local-claim-checks.ts';

/**
 * The publisher handler against the local EventBridge (which enforces PutEvents' 10-entry and 256 KB limits) and the
 * local S3: nothing stubbed between the handler and the two services.
 */

const BUS = 'crm-events';
type Item = Record<string, unknown>;

let bridge: LocalEventBridge;
let claimChecks: Awaited<ReturnType<typeof startLocalClaimChecks>>;
let handler: (event: DynamoDBStreamEvent, context: Context) => Promise<{ batchItemFailures: unknown[] }>;
const requests: Array<Array<Record<string, string>>> = [];

const context = {
  functionName: 'publish-changes',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:publish-changes',
  memoryLimitInMB: '512',
  awsRequestId: 'req-1',
  logGroupName: '/aws/lambda/publish-changes',
  logStreamName: 'local',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

beforeAll(async () => {
  claimChecks = await startLocalClaimChecks();
  bridge = await LocalEventBridge.start({
    resolver: new TemplateResolver({
      Resources: { Bus: { Type: 'AWS::Events::EventBus', Properties: { Name: BUS } } },
    }),
    invoker: { invoke: async () => undefined, has: () => false },
    log: () => {},
  });
  const put = bridge.put.bind(bridge);
  vi.spyOn(bridge, 'put').mockImplementation((entries) => {
    requests.push(entries as Array<Record<string, string>>);
    return put(entries);
  });
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_EVENTBRIDGE: bridge.endpoint,
    AWS_ENDPOINT_URL_S3: claimChecks.endpoint,
    EVENT_BUS_NAME: BUS,
    CLAIM_CHECK_BUCKET: claimChecks.bucket,
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  ({ handler } = (await import('./publish-changes.ts')) as unknown as { handler: typeof handler });
});

afterAll(async () => {
  await bridge?.stop();
  await claimChecks?.stop();
});

let sequence = 0;
function contact(id: string, version: number, fields: Item = {}): Item {
  return {
    pk: `$crm#tenantid_acme#${id}`,
    sk: '$contact_1',
    __edb_e__: 'contact',
    __edb_v__: '1',
    tenantId: 'acme',
    contactId: id,
    firstName: 'Ada',
    version,
    createdAt: '2026-01-01T10:00:00.000Z',
    updatedAt: `2026-01-01T10:00:${String(version).padStart(2, '0')}.000Z`,
    updatedBy: 'user-1',
    ...fields,
  };
}

function change(oldItem: Item | undefined, newItem: Item): DynamoDBRecord {
  sequence += 1;
  const image = (item: Item) => marshall(item, { removeUndefinedValues: true });
  return {
    eventName: oldItem ? 'MODIFY' : 'INSERT',
    eventSource: 'aws:dynamodb',
    dynamodb: {
      Keys: image({ pk: newItem.pk, sk: newItem.sk }),
      ...(oldItem ? { OldImage: image(oldItem) } : {}),
      NewImage: image(newItem),
      SequenceNumber: String(sequence).padStart(21, '0'),
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  } as unknown as DynamoDBRecord;
}

describe('the stream publisher', () => {
  it('puts every change on the bus in order, each request under 256 KB, large values claim-checked in S3', async () => {
    const big = (n: number, c: string) => c.repeat(n);
    const records: DynamoDBRecord[] = [];
    const expected: Array<{ id: string; version: number }> = [];
    // A contact growing through 200 KB notes, interleaved with small changes of others: 24 changes.
    let previous = contact('01BIG', 1);
    records.push(change(undefined, previous));
    expected.push({ id: '01BIG', version: 1 });
    for (let v = 2; v <= 9; v++) {
      const next = contact('01BIG', v, { customFields: { notes: big(200_000, String.fromCharCode(96 + v)) } });
      records.push(change(previous, next));
      expected.push({ id: '01BIG', version: v });
      previous = next;
      const small = contact(`01SMALL${v}`, 1, { jobTitle: 'Engineer' });
      records.push(change(undefined, small));
      expected.push({ id: `01SMALL${v}`, version: 1 });
    }
    // Many medium fields changed at once.
    const wide = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}`, big(20_000, 'w')]));
    records.push(change(contact('01WIDE', 1), contact('01WIDE', 2, wide)));
    expected.push({ id: '01WIDE', version: 2 });

    const result = await handler({ Records: records }, context);
    expect(result.batchItemFailures).toEqual([]);

    // Every PutEvents request was within both limits, and so was every entry.
    expect(requests.length).toBeGreaterThan(1);
    for (const entries of requests) {
      expect(entries.length).toBeLessThanOrEqual(10);
      const total = entries.reduce((sum, e) => sum + entrySize(e), 0);
      expect(total).toBeLessThanOrEqual(EVENT_BUDGET_BYTES);
      expect(total).toBeLessThan(PUT_EVENTS_MAX_BYTES);
    }

    const published = bridge.recentEvents(BUS).map((e) => e.detail as { entityId: string; version: number });
    expect(published.map(({ entityId, version }) => ({ id: entityId, version }))).toEqual(expected);

    // The claimed values are objects in the local S3, and resolve to the full values.
    const listed = await claimChecks.client.send(
      new ListObjectsV2Command({ Bucket: claimChecks.bucket, Prefix: 'events/acme/contact/01BIG/5/updated/' }),
    );
    expect(listed.Contents?.map((o) => o.Key).sort()).toEqual([
      'events/acme/contact/01BIG/5/updated/changes/customFields/new',
      'events/acme/contact/01BIG/5/updated/changes/customFields/old',
      'events/acme/contact/01BIG/5/updated/record',
    ]);
    const stored = await claimChecks.client.send(
      new GetObjectCommand({
        Bucket: claimChecks.bucket,
        Key: 'events/acme/contact/01BIG/5/updated/changes/customFields/new',
      }),
    );
    expect(JSON.parse(await stored.Body!.transformToString())).toEqual({ notes: big(200_000, 'e') });

    const fifth = bridge.recentEvents(BUS).find((e) => {
      const d = e.detail as { entityId: string; version: number };
      return d.entityId === '01BIG' && d.version === 5;
    })!.detail as Parameters<typeof resolveClaimChecks>[1];
    expect('changes' in fifth && isClaimCheck(fifth.changes.customFields?.new)).toBe(true);
    const resolved = await resolveClaimChecks(claimChecks.store, fifth);
    expect(resolved.changes.customFields).toEqual({
      old: { notes: big(200_000, 'd') },
      new: { notes: big(200_000, 'e') },
    });
    expect(resolved.record).toMatchObject({ id: '01BIG', version: 5, customFields: { notes: big(200_000, 'e') } });
  });
});

describe('publishStreamRecords failures', () => {
  const records = [1, 2, 3, 4].map((v) => change(undefined, contact(`01F${v}`, 1)));
  const store = {
    bucket: 'b',
    put: async () => {},
    get: async () => new Uint8Array(),
  };

  it('reports the first rejected entry, so the stream retries from it', async () => {
    const result = await publishStreamRecords(records, {
      eventBusName: BUS,
      store,
      putEvents: async (entries) => ({
        FailedEntryCount: 1,
        Entries: entries.map((_, i) => (i === 2 ? { ErrorCode: 'InternalFailure' } : { EventId: `e${i}` })),
      }),
    });
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: records[2]!.dynamodb!.SequenceNumber }]);
  });

  it('retries from the first unsent record when storing a claim check fails', async () => {
    const sent: string[] = [];
    const large = change(contact('01L', 1), contact('01L', 2, { jobTitle: 'x'.repeat(100_000) }));
    const result = await publishStreamRecords([records[0]!, large, records[1]!], {
      eventBusName: BUS,
      store: { ...store, put: async () => Promise.reject(new Error('S3 is down')) },
      putEvents: async (entries) => {
        sent.push(...entries.map((e) => e.DetailType!));
        return { FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: 'e' })) };
      },
    });
    // Nothing was sent yet when the claim check failed, so the batch restarts at the first record.
    expect(sent).toEqual([]);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: records[0]!.dynamodb!.SequenceNumber }]);
  });
});
