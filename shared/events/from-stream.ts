import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import {
  CATALOG,
  type CatalogEvent,
  catalogEvent,
  type DetailType,
  PUBLISHED_ENTITIES,
  STREAM_DETAIL_TYPES,
} from '../../events/catalog.ts';
import { itemView } from '../db/item-view.ts';
import { changedFields } from '../records/merge-patch.ts';

const ID_FIELD: Record<string, string> = {
  contact: 'contactId',
  company: 'companyId',
  note: 'noteId',
  user: 'userId',
  team: 'teamId',
  deal: 'dealId',
  lead: 'leadId',
  formSubmission: 'submissionId',
  activity: 'activityId',
  ticket: 'ticketId',
  ticketMessage: 'messageId',
  article: 'articleId',
  segment: 'segmentId',
  campaign: 'campaignId',
  sequence: 'sequenceId',
  sequenceEnrollment: 'enrollmentId',
};

/** Fields kept by bookkeeping writes that are no change of the record: an update of only these publishes nothing. */
const BOOKKEEPING_FIELDS: Record<string, readonly string[]> = {
  // A segment's count moves with every member write, its backfill progress with every page.
  segment: ['memberCount', 'backfill'],
  // A campaign's send moves its cursor after every page.
  campaign: ['progress'],
};

type Item = Record<string, unknown>;

function changes(before: Item, after: Item): Record<string, { old?: unknown; new?: unknown }> {
  const result: Record<string, { old?: unknown; new?: unknown }> = {};
  for (const key of changedFields(before, after)) {
    if (key === 'id') continue;
    result[key] = {
      ...(before[key] !== undefined ? { old: before[key] } : {}),
      ...(after[key] !== undefined ? { new: after[key] } : {}),
    };
  }
  return result;
}

function action(
  oldItem: Item | undefined,
  newItem: Item | undefined,
): 'created' | 'updated' | 'deleted' | 'restored' | 'merged' {
  if (!oldItem) return 'created';
  if (!newItem) return 'deleted';
  if (!oldItem.mergedInto && newItem.mergedInto) return 'merged';
  if (!oldItem.deletedAt && newItem.deletedAt) return 'deleted';
  if (oldItem.deletedAt && !newItem.deletedAt) return 'restored';
  return 'updated';
}

/**
 * The explicit mapping from a table change to a catalog event, with every value inline (the publisher then bounds it
 * with `boundRecordChange`, shared/events/bounds.ts). Returns undefined for items that are not published (lookups,
 * idempotency records, settings) and for writes that changed nothing visible.
 */
export function eventFromStreamRecord(record: DynamoDBRecord): CatalogEvent | undefined {
  const image = (i: unknown) => (i ? unmarshall(i as Record<string, AttributeValue>) : undefined);
  const oldItem = image(record.dynamodb?.OldImage);
  const newItem = image(record.dynamodb?.NewImage);
  const current = newItem ?? oldItem;
  const entity = String(current?.__edb_e__ ?? '');
  if (!current || !(PUBLISHED_ENTITIES as readonly string[]).includes(entity)) return undefined;

  const before = oldItem ? itemView(oldItem, ID_FIELD[entity]!) : {};
  const after = newItem ? itemView(newItem, ID_FIELD[entity]!) : {};
  const kind = action(oldItem, newItem);
  const changed = changes(before, after);
  if (kind === 'updated' && Object.keys(changed).length === 0) return undefined;
  const bookkeeping = BOOKKEEPING_FIELDS[entity];
  if (kind === 'updated' && bookkeeping && Object.keys(changed).every((f) => bookkeeping.includes(f))) return undefined;
  const detailType = STREAM_DETAIL_TYPES[`${entity}.${kind}`] ?? `${entity}.${kind}`;
  // A change the catalog has no type for (e.g. a note restore) is skipped, never allowed to wedge the stream.
  if (!(detailType in CATALOG)) return undefined;

  return catalogEvent(detailType as DetailType, {
    schemaVersion: 2,
    tenantId: String(current.tenantId),
    entity: entity as 'contact',
    entityId: String(current[ID_FIELD[entity]!]),
    version: Number(current.version),
    occurredAt: String((kind === 'deleted' ? current.deletedAt : current.updatedAt) ?? current.updatedAt),
    ...(current.updatedBy ? { actorId: String(current.updatedBy) } : {}),
    changes: changed,
    record: kind === 'deleted' && !newItem ? before : after,
  });
}

/**
 * Every event of a table change: its record-change event, then the events derived from it. A live deal whose stage
 * changed (a create enters its first stage too) also gives `deal.stage_changed`, and `deal.won` or `deal.lost` when
 * it entered a won or lost stage from a stage of another kind. Read from the old and new images, so they are exactly
 * as reliable as the change itself.
 */
export function eventsFromStreamRecord(record: DynamoDBRecord): CatalogEvent[] {
  const { change, derived } = streamRecordEvents(record);
  return change ? [change, ...derived] : derived;
}

/**
 * A change's record-change event (which the publisher bounds) apart from its derived events (small by construction).
 * Entities without record-change events (DERIVED_ONLY_ENTITIES) give derived events alone.
 */
export function streamRecordEvents(record: DynamoDBRecord): { change?: CatalogEvent; derived: CatalogEvent[] } {
  const change = eventFromStreamRecord(record);
  if (!change) return { derived: [...derivedEngagementEvents(record), ...derivedMembershipEvents(record)] };
  return {
    change,
    derived: [...derivedDealEvents(record), ...derivedTaskEvents(record), ...derivedUnsubscribeEvents(record)],
  };
}

/**
 * `email.opened` / `email.clicked` when a contact's engagement moved its last open / click forward (the tracking
 * consumer only ever moves them forward, once per newer SES event).
 */
function derivedEngagementEvents(record: DynamoDBRecord): CatalogEvent[] {
  const { before, after } = imagesOf(record);
  if (after?.__edb_e__ !== 'contactEngagement') return [];
  const events: CatalogEvent[] = [];
  const moved = [
    ['email.opened', 'lastOpenedAt', 'lastOpenedCampaignId'],
    ['email.clicked', 'lastClickedAt', 'lastClickedCampaignId'],
  ] as const;
  for (const [detailType, field, campaignField] of moved) {
    const at = after[field];
    if (typeof at !== 'string' || at === before?.[field]) continue;
    events.push(
      catalogEvent(detailType, {
        schemaVersion: 1,
        tenantId: String(after.tenantId),
        contactId: String(after.contactId),
        ...(typeof after[campaignField] === 'string' ? { campaignId: after[campaignField] } : {}),
        at,
        occurredAt: at,
        links: [{ type: 'contact', id: String(after.contactId) }],
      }),
    );
  }
  return events;
}

/**
 * `segment.member.added` when a membership item is created, `segment.member.removed` when it is deleted (an update
 * only refreshes the evaluation it was found under: no event). Ids only: a backfill's 100,000 members make 100,000
 * small events. A removal's time is the stream record's (the deleted item has only its add time).
 */
function derivedMembershipEvents(record: DynamoDBRecord): CatalogEvent[] {
  const { before, after } = imagesOf(record);
  const item = after ?? before;
  if (item?.__edb_e__ !== 'segmentMember' || (before && after)) return [];
  const seconds = record.dynamodb?.ApproximateCreationDateTime;
  const removedAt = seconds ? new Date(seconds * 1000) : new Date();
  return [
    catalogEvent(after ? 'segment.member.added' : 'segment.member.removed', {
      schemaVersion: 1,
      tenantId: String(item.tenantId),
      segmentId: String(item.segmentId),
      contactId: String(item.contactId),
      source: String(item.source ?? 'manual'),
      occurredAt: after ? String(after.addedAt) : removedAt.toISOString(),
    }),
  ];
}

/** The change's old and new items (absent on a create or a delete). */
function imagesOf(record: DynamoDBRecord) {
  const image = (i: unknown) => (i ? unmarshall(i as Record<string, AttributeValue>) : undefined);
  return { before: image(record.dynamodb?.OldImage), after: image(record.dynamodb?.NewImage) };
}

function derivedDealEvents(record: DynamoDBRecord): CatalogEvent[] {
  const { before, after } = imagesOf(record);
  if (after?.__edb_e__ !== 'deal' || after.deletedAt) return [];
  // A create enters its first stage; a restore comes back to the stage it had; otherwise the stage must differ.
  const restored = before?.deletedAt !== undefined;
  const moved = before !== undefined && (before.stageId !== after.stageId || before.pipelineId !== after.pipelineId);
  const entered = before === undefined || (!restored && moved);
  if (!entered) return [];
  const detail = {
    schemaVersion: 1 as const,
    tenantId: String(after.tenantId),
    dealId: String(after.dealId),
    version: Number(after.version),
    occurredAt: String(after.stageEnteredAt),
    ...(after.updatedBy ? { actorId: String(after.updatedBy) } : {}),
    name: String(after.name),
    pipelineId: String(after.pipelineId),
    ...(before && before.pipelineId !== after.pipelineId ? { fromPipelineId: String(before.pipelineId) } : {}),
    ...(before ? { fromStageId: String(before.stageId), previousStatus: before.status } : {}),
    toStageId: String(after.stageId),
    status: after.status,
    probability: Number(after.probability),
    amount: Number(after.amount),
    currency: String(after.currency),
    ownerId: String(after.ownerId),
    ...(after.companyId ? { companyId: String(after.companyId) } : {}),
    contactIds: (after.contactIds as string[] | undefined) ?? [],
    ...(before
      ? { msInPreviousStage: Math.max(0, Date.parse(after.stageEnteredAt) - Date.parse(before.stageEnteredAt)) }
      : {}),
    ...(after.lostReason ? { lostReason: String(after.lostReason) } : {}),
  };
  const events = [catalogEvent('deal.stage_changed', detail)];
  const closedNow = after.status !== 'open' && after.status !== before?.status;
  if (closedNow) events.push(catalogEvent(after.status === 'won' ? 'deal.won' : 'deal.lost', detail));
  return events;
}

/** `task.due` when a task's reminder recorded `remindedAt` (set where it was unset, on a live task). */
function derivedTaskEvents(record: DynamoDBRecord): CatalogEvent[] {
  const { before: oldItem, after: newItem } = imagesOf(record);
  if (newItem?.__edb_e__ !== 'activity' || newItem.type !== 'task' || newItem.deletedAt) return [];
  if (!newItem.remindedAt || oldItem?.remindedAt === newItem.remindedAt) return [];
  return [
    catalogEvent('task.due', {
      schemaVersion: 1,
      tenantId: String(newItem.tenantId),
      taskId: String(newItem.activityId),
      version: Number(newItem.version),
      occurredAt: String(newItem.remindedAt),
      title: String(newItem.title ?? newItem.subject ?? ''),
      dueAt: String(newItem.dueAt),
      remindedAt: String(newItem.remindedAt),
      assigneeId: String(newItem.assigneeId ?? newItem.ownerId),
      ownerId: String(newItem.ownerId),
      ...(newItem.priority ? { priority: String(newItem.priority) } : {}),
      links: (newItem.links ?? []) as Array<{ type: string; id: string }>,
    }),
  ];
}

type Stamp = { status?: string; email?: string; updatedAt?: string; source?: string; campaignId?: string };

/**
 * `consent.unsubscribed` for each unsubscribe a change of a live contact made: email consent becoming `withdrawn`
 * (scope all), a category's choice becoming `unsubscribed` (scope category). Creates are not unsubscribes.
 */
function derivedUnsubscribeEvents(record: DynamoDBRecord): CatalogEvent[] {
  const { before, after } = imagesOf(record);
  if (after?.__edb_e__ !== 'contact' || !before || after.deletedAt || after.mergedInto) return [];
  const base = {
    schemaVersion: 1 as const,
    tenantId: String(after.tenantId),
    contactId: String(after.contactId),
    version: Number(after.version),
    ...(after.updatedBy ? { actorId: String(after.updatedBy) } : {}),
  };
  const event = (stamp: Stamp, scope: { scope: 'all' } | { scope: 'category'; categoryId: string }) =>
    catalogEvent('consent.unsubscribed', {
      ...base,
      occurredAt: String(stamp.updatedAt ?? after.updatedAt),
      ...scope,
      source: String(stamp.source ?? 'api'),
      ...(stamp.campaignId ? { campaignId: String(stamp.campaignId) } : {}),
    });
  const events: CatalogEvent[] = [];
  const consent = after.consent as Stamp | undefined;
  if (consent?.email === 'withdrawn' && (before.consent as Stamp | undefined)?.email !== 'withdrawn') {
    events.push(event(consent, { scope: 'all' }));
  }
  const was = (before.subscriptions ?? {}) as Record<string, Stamp>;
  for (const [categoryId, choice] of Object.entries((after.subscriptions ?? {}) as Record<string, Stamp>)) {
    if (choice?.status === 'unsubscribed' && was[categoryId]?.status !== 'unsubscribed') {
      events.push(event(choice, { scope: 'category', categoryId }));
    }
  }
  return events;
}
