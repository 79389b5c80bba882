import { ulid } from 'ulid';
import { createWithAssignedOwner } from '../assignment/service.ts';
import type { Principal } from '../auth/principal.ts';
import { restoredVersion, type StoredAudit, trashedVersion } from '../db/documents.ts';
import { RecordTooLargeError } from '../db/item-size.ts';
import { itemView } from '../db/item-view.ts';
import { dealIndex, dealKeys, sortableName, timelineIndex } from '../db/keys.ts';
import {
  checkCursor,
  type ItemWrite,
  type LookupEntry,
  model,
  type RecordWrite,
  type ReferenceCheck,
  versionCondition,
  writeRecords,
} from '../db/store.ts';
import {
  ConflictError,
  DomainError,
  type FieldError,
  NotFoundError,
  PreconditionFailedError,
  ValidationError,
} from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import type { StageView } from '../pipelines/schema.ts';
import { defaultPipelineId, readPipeline, type StoredPipeline, stageOf } from '../pipelines/service.ts';
import { readProduct } from '../products/service.ts';
import { definedOnly, MAX_RECORD_BYTES } from '../records/lifecycle.ts';
import { type Page, type PageRequest, queryIndex, queryLookup, singleFilter } from '../records/lists.ts';
import { mergePatch } from '../records/merge-patch.ts';
import { type TimelinePlacement, timelineLinkWrites } from '../timeline/links.ts';
import { timeline } from '../timeline/service.ts';
import { AmountError, lineTotals, sumAmounts, toDecimalString } from './money.ts';
import type {
  DealCreateInput,
  DealListFilters,
  DealPatchInput,
  DealStageMoveInput,
  DealSummaryView,
  DealView,
  LineItemInputValue,
  LineItemView,
  PurchaseView,
  StageChangeView,
} from './schema.ts';

export type DealStatus = 'open' | 'won' | 'lost';

export interface StoredDeal extends StoredAudit {
  tenantId: string;
  dealId: string;
  name: string;
  sortName: string;
  amount: number;
  currency: string;
  expectedCloseDate?: string;
  pipelineId: string;
  stageId: string;
  status: DealStatus;
  probability: number;
  stageEnteredAt: string;
  closedAt?: string;
  lostReason?: string;
  ownerId: string;
  assignedByRule?: string;
  contactIds?: string[];
  companyId?: string;
  lineItems?: LineItemView[];
}

// ---------------------------------------------------------------------------------------------------------------
// Views and derived items

export function dealView(stored: StoredDeal): DealView {
  const view = itemView(stored as unknown as Record<string, unknown>, 'dealId');
  return {
    contactIds: [],
    lineItems: [],
    ...view,
    amountDecimal: toDecimalString(stored.amount, stored.currency),
  } as unknown as DealView;
}

/** The bounded projection `deal.contact` / `deal.purchase` lookups carry (no stage: moving stages rewrites none). */
function dealSummary(d: StoredDeal): DealSummaryView {
  return definedOnly({
    id: d.dealId,
    name: d.name,
    amount: d.amount,
    currency: d.currency,
    status: d.status,
    pipelineId: d.pipelineId,
    ownerId: d.ownerId,
    companyId: d.companyId,
    expectedCloseDate: d.expectedCloseDate,
    closedAt: d.closedAt,
    lineItems: d.lineItems ?? [],
  }) as DealSummaryView;
}

const live = (d: StoredDeal | undefined): d is StoredDeal => d !== undefined && !d.deletedAt;

/** Deals of a contact, and (once won) its purchases: one lookup item per contact and kind. */
function dealLookups(d: StoredDeal): LookupEntry[] {
  const contacts = d.contactIds ?? [];
  return [
    ...contacts.map((value) => ({ kind: 'deal.contact' as const, value })),
    ...(d.status === 'won' ? contacts.map((value) => ({ kind: 'deal.purchase' as const, value })) : []),
  ];
}

/** A live deal shows on each of its contacts' and its company's timelines, as of its creation. */
function timelinePlacement(d: StoredDeal): TimelinePlacement | undefined {
  if (!live(d)) return undefined;
  const subjects = [
    ...(d.contactIds ?? []).map((id) => ({ type: 'contact', id })),
    ...(d.companyId ? [{ type: 'company', id: d.companyId }] : []),
  ];
  const summary = definedOnly({ name: d.name, amount: d.amount, currency: d.currency, status: d.status });
  return { subjects, occurredAt: d.createdAt, summary };
}

/** Company and contacts a write newly points at must be live: ConditionChecks in the same transaction. */
function references(next: StoredDeal, previous: StoredDeal | undefined): ReferenceCheck[] {
  if (!live(next)) return [];
  const before = live(previous) ? previous : undefined;
  const checks: ReferenceCheck[] = [];
  if (next.companyId && next.companyId !== before?.companyId) {
    checks.push({
      entity: 'company',
      key: { tenantId: next.tenantId, companyId: next.companyId },
      error: new ValidationError('The company does not exist.', [
        { field: 'body.companyId', message: `No company ${next.companyId} (or it is in the trash).` },
      ]),
    });
  }
  const known = new Set(before?.contactIds ?? []);
  for (const contactId of next.contactIds ?? []) {
    if (known.has(contactId)) continue;
    checks.push({
      entity: 'contact',
      key: { tenantId: next.tenantId, contactId },
      error: new ValidationError('A contact does not exist.', [
        { field: 'body.contactIds', message: `No contact ${contactId} (or it is in the trash).` },
      ]),
    });
  }
  return checks;
}

function stageChangeItem(
  next: StoredDeal,
  previous: StoredDeal | undefined,
  to: StageView,
  from: StageView | undefined,
  actorId: string,
): ItemWrite {
  const changeId = ulid();
  const moved = previous !== undefined && previous.pipelineId !== next.pipelineId;
  return {
    put: 'dealStageChange',
    mustBeNew: true,
    onConflict: () => new PreconditionFailedError('deal', next.dealId),
    item: definedOnly({
      tenantId: next.tenantId,
      dealId: next.dealId,
      seq: String(next.version).padStart(10, '0'),
      changeId,
      pipelineId: next.pipelineId,
      fromPipelineId: moved ? previous.pipelineId : undefined,
      fromStageId: previous?.stageId,
      fromStageName: from?.name,
      toStageId: to.id,
      toStageName: to.name,
      status: to.kind,
      occurredAt: next.stageEnteredAt,
      changedBy: actorId,
      msInPreviousStage: previous
        ? Math.max(0, Date.parse(next.stageEnteredAt) - Date.parse(previous.stageEnteredAt))
        : undefined,
      lostReason: next.lostReason,
      gsi6pk: timelineIndex.pk(next.tenantId, 'deal', next.dealId),
      gsi6sk: timelineIndex.sk(next.stageEnteredAt, 'dealStageChange', changeId),
    }),
  };
}

export interface PlannedDealWrite {
  write: RecordWrite;
  items: ItemWrite[];
  view: DealView;
}

/**
 * Everything one deal change writes, planned but not sent: the deal (conditioned on its version), its lookups and
 * timeline links (only those that changed), ConditionChecks on what it newly references, and, when it enters a
 * stage, a ConditionCheck on the pipeline's version (the stages it was checked against are still the pipeline's) and
 * the stage-history entry. All of it goes into one TransactWriteItems.
 */
function planDealWrite(
  next: StoredDeal,
  previous: StoredDeal | undefined,
  options: {
    actorId: string;
    stage?: { pipeline: StoredPipeline; to: StageView; from?: StageView | undefined };
    idempotency?: ApiRequest['idempotency'];
    statusCode?: number;
  },
): PlannedDealWrite {
  const view = dealView(next);
  const items: ItemWrite[] = [];
  if (options.stage) {
    const { pipeline, to, from } = options.stage;
    items.push({
      check: 'pipeline',
      key: { tenantId: pipeline.tenantId, pipelineId: pipeline.pipelineId },
      expectedVersion: pipeline.version,
      error: new ConflictError('pipeline.changed', 'The pipeline changed while the deal was written; retry.'),
    });
    items.push(stageChangeItem(next, previous, to, from, options.actorId));
  }
  items.push(
    ...timelineLinkWrites(
      next.tenantId,
      'deal',
      next.dealId,
      timelinePlacement(next),
      previous && timelinePlacement(previous),
    ),
  );
  const write: RecordWrite = {
    entity: 'deal',
    item: { ...next, ...dealKeys(next) },
    ...versionCondition('deal', next.dealId, previous),
    lookups: {
      tenantId: next.tenantId,
      targetId: next.dealId,
      next: live(next) ? dealLookups(next) : [],
      previous: live(previous) ? dealLookups(previous) : [],
      summary: live(next) ? dealSummary(next) : undefined,
      previousSummary: live(previous) ? dealSummary(previous) : undefined,
    },
    references: references(next, previous),
    sizeLimit: {
      bytes: MAX_RECORD_BYTES,
      tooLarge: (_stored, size) => new RecordTooLargeError('deal', size, MAX_RECORD_BYTES, []),
    },
    ...(options.idempotency
      ? {
          idempotency: {
            tenantId: next.tenantId,
            ...options.idempotency,
            statusCode: options.statusCode ?? 201,
            response: view,
          },
        }
      : {}),
  };
  return { write, items, view };
}

async function send(plan: PlannedDealWrite): Promise<DealView> {
  await writeRecords([plan.write], plan.items);
  return plan.view;
}

// ---------------------------------------------------------------------------------------------------------------
// Money: line items and the amount

/**
 * Line items as stored: product snapshot (name, SKU, price in the deal's currency unless given), the discount and the
 * exact line total. Products are read once each (GetItem, in parallel). Every problem is reported at once.
 */
async function resolveLineItems(
  tenantId: string,
  inputs: LineItemInputValue[],
  currency: string,
  field = 'body.lineItems',
): Promise<LineItemView[]> {
  const productIds = [...new Set(inputs.flatMap((l) => (l.productId ? [l.productId] : [])))];
  const products = new Map(
    await Promise.all(productIds.map(async (id) => [id, await readProduct(tenantId, id)] as const)),
  );
  const errors: FieldError[] = [];
  const lines: LineItemView[] = [];
  inputs.forEach((input, i) => {
    const at = `${field}.${i}`;
    const product = input.productId ? products.get(input.productId) : undefined;
    if (input.productId && (!product || product.deletedAt)) {
      errors.push({ field: `${at}.productId`, message: `No product ${input.productId} (or it was deleted).` });
      return;
    }
    const unitPrice = input.unitPrice ?? product?.prices[currency];
    if (unitPrice === undefined) {
      errors.push({
        field: `${at}.unitPrice`,
        message: product
          ? `Product ${product.productId} has no price in ${currency}: give a unitPrice.`
          : 'Give a unitPrice (or a productId with a price in the deal currency).',
      });
      return;
    }
    const name = input.name ?? product?.name;
    if (!name) {
      errors.push({ field: `${at}.name`, message: 'Give a name (or a productId).' });
      return;
    }
    try {
      const totals = lineTotals({ quantity: input.quantity, unitPrice, discount: input.discount });
      lines.push(
        definedOnly({
          productId: product?.productId,
          sku: product?.sku,
          name,
          quantity: input.quantity,
          unitPrice,
          discount: input.discount,
          discountAmount: totals.discountAmount,
          lineTotal: totals.lineTotal,
        }) as LineItemView,
      );
    } catch (error) {
      if (!(error instanceof AmountError)) throw error;
      errors.push({ field: `${at}.discount`, message: error.message });
    }
  });
  if (errors.length > 0) throw new ValidationError('Some line items are invalid.', errors, 'deal.invalid_line_items');
  return lines;
}

/** The deal amount: the exact sum of its lines when it has any (a given amount must agree), else as given. */
function amountOf(lines: LineItemView[] | undefined, given: number | undefined, fallback: number): number {
  if (!lines || lines.length === 0) return given ?? fallback;
  let total: number;
  try {
    total = sumAmounts(lines.map((l) => l.lineTotal));
  } catch (error) {
    if (!(error instanceof AmountError)) throw error;
    throw new ValidationError(error.message, [{ field: 'body.lineItems', message: error.message }]);
  }
  if (given !== undefined && given !== total) {
    throw new ValidationError('The amount does not match the line items.', [
      { field: 'body.amount', message: `With line items the amount is their sum, ${total}; leave it out.` },
    ]);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------------------
// Pipelines and stages

/**
 * Pipelines as this container last read them (30 s, bounded). Safe to use stale: every deal write that enters a
 * stage carries a ConditionCheck on the pipeline's version, so a stale copy costs one fresh read and a retry
 * (moveDealStage), never a deal in a stage that no longer exists.
 */
const PIPELINE_CACHE_MS = 30_000;
const PIPELINE_CACHE_MAX = 1_000;
const pipelineCache = new Map<string, { pipeline: StoredPipeline; expires: number }>();

async function cachedPipeline(tenantId: string, pipelineId: string): Promise<StoredPipeline | undefined> {
  const key = `${tenantId}#${pipelineId}`;
  const hit = pipelineCache.get(key);
  if (hit && hit.expires > Date.now()) return hit.pipeline;
  const pipeline = await readPipeline(tenantId, pipelineId);
  pipelineCache.delete(key);
  if (pipeline) {
    if (pipelineCache.size >= PIPELINE_CACHE_MAX) pipelineCache.delete(pipelineCache.keys().next().value!);
    pipelineCache.set(key, { pipeline, expires: Date.now() + PIPELINE_CACHE_MS });
  }
  return pipeline;
}

async function pipelineFor(
  tenantId: string,
  pipelineId: string | undefined,
  read: (tenantId: string, pipelineId: string) => Promise<StoredPipeline | undefined> = readPipeline,
): Promise<StoredPipeline> {
  const id = pipelineId ?? (await defaultPipelineId(tenantId))?.pipelineId;
  if (!id) {
    throw new ValidationError('There is no pipeline yet.', [
      { field: 'body.pipelineId', message: 'Create a pipeline first (POST /v1/pipelines).' },
    ]);
  }
  const pipeline = await read(tenantId, id);
  if (!pipeline) {
    throw new ValidationError('The pipeline does not exist.', [
      { field: 'body.pipelineId', message: `No pipeline ${id}.` },
    ]);
  }
  return pipeline;
}

/** Closing fields for a deal entering `stage`: lost needs a reason, which only a lost stage keeps. */
function stageFields(stage: StageView, lostReason: string | undefined, at: string) {
  if (stage.kind === 'lost' && !lostReason) {
    throw new ValidationError('A lost deal needs a reason.', [
      { field: 'body.lostReason', message: `Stage ${stage.name} is a lost stage: say why the deal was lost.` },
    ]);
  }
  if (stage.kind !== 'lost' && lostReason) {
    throw new ValidationError('Only lost deals have a lost reason.', [
      { field: 'body.lostReason', message: `Stage ${stage.name} is not a lost stage.` },
    ]);
  }
  return {
    stageId: stage.id,
    status: stage.kind,
    probability: stage.probability,
    stageEnteredAt: at,
    closedAt: stage.kind === 'open' ? undefined : at,
    lostReason: stage.kind === 'lost' ? lostReason : undefined,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Create, read, change

async function readDeal(tenantId: string, dealId: string): Promise<StoredDeal | undefined> {
  const { data } = await model.entities.deal.get({ tenantId, dealId }).go();
  return (data as StoredDeal | null) ?? undefined;
}

async function readLive(tenantId: string, dealId: string): Promise<StoredDeal> {
  const stored = await readDeal(tenantId, dealId);
  if (!live(stored)) throw new NotFoundError('deal', dealId);
  return stored;
}

const withoutUnset = <T extends object>(value: T): T => definedOnly(value as Record<string, unknown>) as T;

/**
 * The whole create (deal, first stage-history entry, lookups, timeline links, reference and pipeline checks),
 * planned but not sent, so a lead conversion can write a deal in its own transaction. The owner defaults to the
 * caller (assignment rules are wired in by the integrator).
 */
export async function planDealCreate(
  principal: Principal,
  input: DealCreateInput & { assignedByRule?: string },
  idempotency?: ApiRequest['idempotency'],
): Promise<PlannedDealWrite> {
  const pipeline = await pipelineFor(principal.tenantId, input.pipelineId);
  const stage = input.stageId ? stageOf(pipeline, input.stageId, 'body.stageId') : pipeline.stages[0]!;
  const lineItems = input.lineItems?.length
    ? await resolveLineItems(principal.tenantId, input.lineItems, input.currency)
    : undefined;
  const now = new Date().toISOString();
  const deal: StoredDeal = withoutUnset({
    tenantId: principal.tenantId,
    dealId: ulid(),
    name: input.name,
    sortName: sortableName(input.name),
    amount: amountOf(lineItems, input.amount, 0),
    currency: input.currency,
    expectedCloseDate: input.expectedCloseDate,
    pipelineId: pipeline.pipelineId,
    ...stageFields(stage, input.lostReason, now),
    ownerId: input.ownerId ?? principal.userId,
    assignedByRule: input.assignedByRule,
    contactIds: input.contactIds?.length ? input.contactIds : undefined,
    companyId: input.companyId,
    lineItems,
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: principal.userId,
    updatedBy: principal.userId,
  });
  return planDealWrite(deal, undefined, {
    actorId: principal.userId,
    stage: { pipeline, to: stage },
    ...(idempotency ? { idempotency } : {}),
    statusCode: 201,
  });
}

export async function createDeal(
  principal: Principal,
  input: DealCreateInput,
  idempotency?: ApiRequest['idempotency'],
): Promise<DealView> {
  // Without an owner, the assignment rules for deals choose one; when none applies, the deal is the caller's.
  return createWithAssignedOwner(
    principal.tenantId,
    { entity: 'deal' },
    input,
    async (assigned) => send(await planDealCreate(principal, assigned, idempotency)),
    idempotency?.key,
  );
}

export async function getDeal(principal: Principal, dealId: string): Promise<DealView> {
  return dealView(await readLive(principal.tenantId, dealId));
}

/** Fields a patch may change (the stage moves through moveDealStage). */
const EDITABLE = ['name', 'amount', 'currency', 'expectedCloseDate', 'ownerId', 'contactIds', 'companyId'] as const;

export async function patchDeal(
  principal: Principal,
  dealId: string,
  patch: DealPatchInput,
  ifMatch?: VersionPrecondition,
): Promise<DealView> {
  const previous = await readLive(principal.tenantId, dealId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('deal', dealId);
  const { lineItems: linePatch, ...fieldPatch } = patch;
  const editable = Object.fromEntries(EDITABLE.map((k) => [k, previous[k]]));
  const merged = mergePatch(editable, fieldPatch) as Partial<StoredDeal>;
  const currency = merged.currency ?? previous.currency;
  let lineItems = previous.lineItems;
  if (linePatch === null) lineItems = undefined;
  else if (linePatch)
    lineItems = linePatch.length ? await resolveLineItems(previous.tenantId, linePatch, currency) : undefined;
  else if (currency !== previous.currency && lineItems?.length) {
    throw new ValidationError('The line items are priced in the old currency.', [
      { field: 'body.lineItems', message: `Send the line items again, priced in ${currency}.` },
    ]);
  }
  const next: StoredDeal = withoutUnset({
    ...previous,
    ...Object.fromEntries(EDITABLE.map((k) => [k, undefined])),
    ...merged,
    contactIds: merged.contactIds?.length ? merged.contactIds : undefined,
    currency,
    lineItems,
    amount: amountOf(lineItems, fieldPatch.amount, previous.amount),
    sortName: sortableName(merged.name ?? previous.name),
  });
  if (JSON.stringify(dealView(next)) === JSON.stringify(dealView(previous))) return dealView(previous);
  next.version = previous.version + 1;
  next.updatedAt = new Date().toISOString();
  next.updatedBy = principal.userId;
  return send(planDealWrite(next, previous, { actorId: principal.userId }));
}

/**
 * Moves a deal to a stage (of its pipeline, or of another): one TransactWriteItems of the deal (at the version read),
 * the stage-history entry (from, to, when, who, time in the previous stage) and a ConditionCheck on the pipeline's
 * version. Moving to the stage it is in changes nothing.
 */
export async function moveDealStage(
  principal: Principal,
  dealId: string,
  input: DealStageMoveInput,
  ifMatch?: VersionPrecondition,
): Promise<DealView> {
  const previous = await readLive(principal.tenantId, dealId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('deal', dealId);
  const pipelineId = input.pipelineId ?? previous.pipelineId;
  try {
    return await moveTo(
      principal,
      previous,
      pipelineId,
      input,
      await pipelineFor(principal.tenantId, pipelineId, cachedPipeline),
    );
  } catch (error) {
    // The cached pipeline may be stale (a stage added, removed or renamed since): the write's check on its version
    // failed, or the stage is not in it. Move against the one stored now, which decides.
    const stale =
      (error instanceof ConflictError && error.code === 'pipeline.changed') || error instanceof ValidationError;
    if (!stale) throw error;
    pipelineCache.delete(`${principal.tenantId}#${pipelineId}`);
    return moveTo(principal, previous, pipelineId, input, await pipelineFor(principal.tenantId, pipelineId));
  }
}

async function moveTo(
  principal: Principal,
  previous: StoredDeal,
  pipelineId: string,
  input: DealStageMoveInput,
  pipeline: StoredPipeline,
): Promise<DealView> {
  const to = stageOf(pipeline, input.stageId, 'body.stageId');
  if (pipelineId === previous.pipelineId && to.id === previous.stageId) return dealView(previous);
  const from = pipelineId === previous.pipelineId ? pipeline.stages.find((s) => s.id === previous.stageId) : undefined;
  const now = new Date().toISOString();
  const next: StoredDeal = withoutUnset({
    ...previous,
    pipelineId,
    ...stageFields(to, input.lostReason, now),
    version: previous.version + 1,
    updatedAt: now,
    updatedBy: principal.userId,
  });
  return send(planDealWrite(next, previous, { actorId: principal.userId, stage: { pipeline, to, from } }));
}

/** Soft delete: the deal leaves every list, board, lookup and timeline but the trash and the sync feed. */
export async function deleteDeal(principal: Principal, dealId: string, ifMatch?: VersionPrecondition): Promise<void> {
  const previous = await readLive(principal.tenantId, dealId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('deal', dealId);
  const next = trashedVersion(previous, principal.userId);
  await send(planDealWrite(next, previous, { actorId: principal.userId }));
}

/** Back from the trash into its stage, which must still exist (409 otherwise); its references are checked again. */
export async function restoreDeal(
  principal: Principal,
  dealId: string,
  ifMatch?: VersionPrecondition,
): Promise<DealView> {
  const previous = await readDeal(principal.tenantId, dealId);
  if (!previous) throw new NotFoundError('deal', dealId);
  if (!previous.deletedAt) throw new DomainError(409, 'deal.not_deleted', `deal ${dealId} is not in the trash.`);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('deal', dealId);
  const pipeline = await readPipeline(principal.tenantId, previous.pipelineId);
  if (!pipeline?.stages.some((s) => s.id === previous.stageId)) {
    throw new ConflictError(
      'deal.stage_gone',
      `The deal's stage ${previous.stageId} is no longer in pipeline ${previous.pipelineId}; it cannot be restored there.`,
    );
  }
  const next = restoredVersion(previous, principal.userId);
  // The pipeline check keeps the stage from disappearing meanwhile; no history entry (the stage did not change).
  const plan = planDealWrite(next, previous, { actorId: principal.userId });
  plan.items.push({
    check: 'pipeline',
    key: { tenantId: pipeline.tenantId, pipelineId: pipeline.pipelineId },
    expectedVersion: pipeline.version,
    error: new ConflictError('pipeline.changed', 'The pipeline changed while the deal was restored; retry.'),
  });
  return send(plan);
}

// ---------------------------------------------------------------------------------------------------------------
// Lists

const FILTERS = ['ownerId', 'companyId', 'contactId', 'q', 'updatedSince', 'inTrash'] as const;

const toDealPage = (page: Page<Record<string, unknown>>): Page<DealView> => ({
  items: page.items.map((d) => dealView(d as unknown as StoredDeal)),
  nextCursor: page.nextCursor,
});

/** One Query per filter; deals of a contact come from lookup items (DealSummary). */
export async function listDeals(
  principal: Principal,
  filters: DealListFilters,
): Promise<Page<DealView> | Page<DealSummaryView>> {
  const t = principal.tenantId;
  const page = { limit: filters.limit, cursor: filters.cursor };
  switch (singleFilter(filters, FILTERS)) {
    case 'ownerId':
      return toDealPage(await queryIndex('deal', 'gsi1', dealIndex.owner(t, filters.ownerId!), page));
    case 'companyId':
      return toDealPage(await queryIndex('deal', 'gsi3', dealIndex.company(t, filters.companyId!), page));
    case 'contactId':
      return queryLookup<DealSummaryView>(t, 'deal.contact', filters.contactId!, page);
    case 'q':
      return toDealPage(await queryIndex('deal', 'gsi4', dealIndex.name(t), page, { begins: sortableName(filters.q) }));
    case 'updatedSince':
      return toDealPage(
        await queryIndex('deal', 'gsi5', dealIndex.sync(t), page, {
          gte: new Date(filters.updatedSince!).toISOString(),
        }),
      );
    case 'inTrash':
      return toDealPage(await queryIndex('deal', 'gsi4', dealIndex.trash(t), page, { order: 'desc' }));
    default:
      return toDealPage(await queryIndex('deal', 'gsi4', dealIndex.name(t), page));
  }
}

/** The deal's stage history, oldest first: one Query of the deal's own partition. */
export async function stageHistory(
  principal: Principal,
  dealId: string,
  page: PageRequest,
): Promise<Page<StageChangeView>> {
  const key = { tenantId: principal.tenantId, dealId };
  const partition = model.entities.dealStageChange.get({ ...key, seq: '0' }).params().Key.pk as string;
  checkCursor(page.cursor, 'pk', partition);
  const result = await model.entities.dealStageChange.query
    .byDeal(key)
    .go({ limit: page.limit, cursor: page.cursor ?? null });
  const items = result.data.map((item) => {
    const { seq: _s, dealId: _d, ...view } = itemView(item as Record<string, unknown>, 'changeId');
    return view as unknown as StageChangeView;
  });
  return { items, nextCursor: result.cursor ?? null };
}

/** The deal's timeline (its stage changes, and activities linked to it), newest first. */
export const dealTimeline = (principal: Principal, dealId: string, page: PageRequest) =>
  timeline(principal, 'deal', dealId, page);

/** One stage's deals, soonest expected close first (undated last): one Query of the stage's board partition. */
export async function stageDeals(
  principal: Principal,
  pipelineId: string,
  stageId: string,
  page: PageRequest,
): Promise<Page<DealView>> {
  return toDealPage(await queryIndex('deal', 'gsi2', dealIndex.stage(principal.tenantId, pipelineId, stageId), page));
}

/** The pipeline (one GetItem) and each stage's first page (one Query per stage, in parallel). */
export async function board(principal: Principal, pipelineId: string, limit: number) {
  const pipeline = await readPipeline(principal.tenantId, pipelineId);
  if (!pipeline) throw new NotFoundError('pipeline', pipelineId);
  const stages = await Promise.all(
    pipeline.stages.map(async (stage) => {
      const page = await stageDeals(principal, pipelineId, stage.id, { limit });
      return { stage, deals: page.items, nextCursor: page.nextCursor };
    }),
  );
  return { pipelineId, name: pipeline.name, stages };
}

// ---------------------------------------------------------------------------------------------------------------
// Purchase history (won deals and their line items)

const purchaseOf = (d: DealSummaryView): PurchaseView =>
  definedOnly({
    dealId: d.id,
    dealName: d.name,
    currency: d.currency,
    amount: d.amount,
    closedAt: d.closedAt,
    companyId: d.companyId,
    lineItems: d.lineItems ?? [],
  }) as PurchaseView;

/** A contact's won deals with their line items: one Query of its `deal.purchase` lookups. */
export async function contactPurchases(
  principal: Principal,
  contactId: string,
  page: PageRequest,
): Promise<Page<PurchaseView>> {
  const result = await queryLookup<DealSummaryView>(principal.tenantId, 'deal.purchase', contactId, page);
  return { items: result.items.map(purchaseOf), nextCursor: result.nextCursor };
}

/** A company's won deals with their line items, most recently closed first: one Query of gsi7. */
export async function companyPurchases(
  principal: Principal,
  companyId: string,
  page: PageRequest,
): Promise<Page<PurchaseView>> {
  const result = await queryIndex<StoredDeal>(
    'deal',
    'gsi7',
    dealIndex.purchasesOfCompany(principal.tenantId, companyId),
    page,
    {
      order: 'desc',
    },
  );
  return { items: result.items.map((d) => purchaseOf(dealSummary(d))), nextCursor: result.nextCursor };
}

// ---------------------------------------------------------------------------------------------------------------
// Merges

type LinkTarget = { type: 'contact' | 'company'; id: string };

/** Ids of every live deal linked to a contact or company, following cursors. */
async function linkedDealIds(tenantId: string, target: LinkTarget): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page: Page<{ id?: string; dealId?: string }> =
      target.type === 'contact'
        ? await queryLookup(tenantId, 'deal.contact', target.id, { limit: 100, cursor })
        : await queryIndex('deal', 'gsi3', dealIndex.company(tenantId, target.id), { limit: 100, cursor });
    ids.push(...page.items.map((d) => (d.id ?? d.dealId)!));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return ids;
}

const MOVE_ATTEMPTS = 3;

/**
 * Re-points every deal linked to `from` onto `to` (its contactIds or companyId, lookups and timeline links), for a
 * merge. Idempotent: a deal already moved is no longer linked to `from`. Returns how many deals moved.
 */
export async function moveLinks(tenantId: string, from: LinkTarget, to: LinkTarget): Promise<number> {
  if (from.type !== to.type) throw new Error(`moveLinks: cannot move ${from.type} links onto a ${to.type}`);
  let moved = 0;
  for (const dealId of await linkedDealIds(tenantId, from)) {
    for (let attempt = 1; ; attempt++) {
      try {
        const previous = await readDeal(tenantId, dealId);
        if (!live(previous)) break;
        const contactIds = previous.contactIds ?? [];
        const next: StoredDeal =
          from.type === 'contact'
            ? { ...previous, contactIds: [...new Set(contactIds.map((id) => (id === from.id ? to.id : id)))] }
            : { ...previous, ...(previous.companyId === from.id ? { companyId: to.id } : {}) };
        if (JSON.stringify(next) === JSON.stringify(previous)) break;
        Object.assign(next, {
          version: previous.version + 1,
          updatedAt: new Date().toISOString(),
          updatedBy: 'system:merge',
        });
        await send(planDealWrite(next, previous, { actorId: 'system:merge' }));
        moved++;
        break;
      } catch (error) {
        const retryable = error instanceof DomainError && error.status === 412;
        if (!retryable || attempt >= MOVE_ATTEMPTS) throw error;
      }
    }
  }
  return moved;
}
