import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { eventFromStreamRecord } from '../events/from-stream.ts';

const campaign = (changes: Record<string, unknown> = {}) => ({
  pk: '$crm#tenantId_t1#campaignId_c1',
  sk: '$campaign_1',
  __edb_e__: 'campaign',
  __edb_v__: '1',
  tenantId: 't1',
  campaignId: 'c1',
  name: 'News',
  status: 'sending',
  run: 1,
  version: 3,
  createdAt: '2026-05-01T00:00:00.000Z',
  updatedAt: '2026-05-01T00:00:00.000Z',
  progress: { source: 0, cursor: null },
  ...changes,
});

const change = (oldItem: object | undefined, newItem: object | undefined) =>
  ({
    eventName: !oldItem ? 'INSERT' : newItem ? 'MODIFY' : 'REMOVE',
    dynamodb: {
      ...(oldItem ? { OldImage: marshall(oldItem, { removeUndefinedValues: true }) } : {}),
      ...(newItem ? { NewImage: marshall(newItem, { removeUndefinedValues: true }) } : {}),
    },
  }) as DynamoDBRecord;

describe('campaign events from the stream', () => {
  it('publishes campaign.created / updated with the record, never the send’s progress alone', () => {
    const created = eventFromStreamRecord(change(undefined, campaign({ status: 'draft', version: 1 })));
    expect(created).toMatchObject({ source: 'crm.campaigns', detailType: 'campaign.created' });
    const paused = eventFromStreamRecord(
      change(campaign(), campaign({ status: 'paused', version: 4, updatedAt: '2026-05-01T00:01:00.000Z' })),
    );
    expect(paused).toMatchObject({
      detailType: 'campaign.updated',
      detail: { tenantId: 't1', entityId: 'c1', version: 4, changes: { status: { old: 'sending', new: 'paused' } } },
    });
    // The send writes its cursor after every page: bookkeeping, no event (a 100,000 send would publish 1,000).
    const progressed = eventFromStreamRecord(change(campaign(), campaign({ progress: { source: 0, cursor: 'x' } })));
    expect(progressed).toBeUndefined();
  });

  it('publishes campaign.deleted when it goes to the trash', () => {
    const deleted = eventFromStreamRecord(
      change(
        campaign({ status: 'draft' }),
        campaign({ status: 'draft', version: 4, deletedAt: '2026-05-02T00:00:00Z' }),
      ),
    );
    expect(deleted?.detailType).toBe('campaign.deleted');
  });
});
