import { ulid } from 'ulid';
import type { Principal } from '../auth/principal.ts';
import { trashedVersion } from '../db/documents.ts';
import { itemView } from '../db/item-view.ts';
import { campaignIndex, campaignKeys, sortableName } from '../db/keys.ts';
import { checkCursor, model, versionCondition, writeRecord } from '../db/store.ts';
import {
  ConflictError,
  type DomainError,
  type FieldError,
  NotFoundError,
  PreconditionFailedError,
  ValidationError,
} from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import { type Page, queryIndex } from '../records/lists.ts';
import { templateFieldErrors } from '../templates/render.ts';
import { marketingSendConfig, senderAddressProblem } from '../templates/sender.ts';
import { resolveSchedule } from './schedule.ts';
import type {
  AudienceInput,
  CampaignCreateInput,
  CampaignListQueryInput,
  CampaignPatchInput,
  CampaignRecipientsQueryInput,
  CampaignScheduleInput,
  CampaignStatus,
  CampaignView,
} from './schema.ts';
import { sumStats } from './stats.ts';

export type StoredCampaign = Record<string, unknown> & {
  tenantId: string;
  campaignId: string;
  name: string;
  status: CampaignStatus;
  audience: AudienceInput;
  templateId: string;
  categoryId?: string;
  from: { address: string; name?: string };
  replyTo?: string;
  version: number;
  run?: number;
  executionName?: string;
  executionRun?: number;
  progress?: SendProgress;
  content?: { subject: string; html?: string; text?: string };
  deletedAt?: string;
  startedAt?: string;
  createdAt: string;
};

/** Where the send stands: the audience source being paged (segments, then lists) and its ElectroDB cursor. */
export interface SendProgress {
  source: number;
  cursor?: string | null;
  done?: boolean;
}

/** The campaign as the API shows it: without its internals (the content snapshot, the send's cursor, its owner). */
export function campaignView(stored: Record<string, unknown>, stats?: Record<string, number>): CampaignView {
  const { content: _c, progress: _p, executionName: _e, executionRun: _r, ...view } = itemView(stored, 'campaignId');
  return (stats ? { ...view, stats } : view) as unknown as CampaignView;
}

export async function readCampaign(tenantId: string, campaignId: string): Promise<StoredCampaign | undefined> {
  const { data } = await model.entities.campaign.get({ tenantId, campaignId }).go({ consistent: true });
  return (data as StoredCampaign | null) ?? undefined;
}

async function liveCampaign(tenantId: string, campaignId: string): Promise<StoredCampaign> {
  const campaign = await readCampaign(tenantId, campaignId);
  if (!campaign || campaign.deletedAt) throw new NotFoundError('campaign', campaignId);
  return campaign;
}

function checkVersion(campaign: StoredCampaign, ifMatch?: VersionPrecondition): void {
  if (ifMatch && !ifMatch.matches(campaign.version)) throw new PreconditionFailedError('campaign', campaign.campaignId);
}

function wrongStatus(campaign: StoredCampaign, action: string, allowed: readonly CampaignStatus[]): DomainError {
  return new ConflictError(
    'campaign.invalid_status',
    `A ${campaign.status} campaign cannot be ${action} (only ${allowed.join(' or ')}).`,
    { campaignStatus: campaign.status },
  );
}

function requireStatus(campaign: StoredCampaign, action: string, allowed: readonly CampaignStatus[]): void {
  if (!allowed.includes(campaign.status)) throw wrongStatus(campaign, action, allowed);
}

/** The sender must be within the mail domain: the SES identity the stack verified and the send role is scoped to. */
export function senderFieldErrors(input: { from?: { address: string }; replyTo?: string | null }): FieldError[] {
  const address = input.from?.address;
  const problem = address && senderAddressProblem(address, marketingSendConfig().MARKETING_MAIL_DOMAIN);
  return problem ? [{ field: 'body.from.address', message: problem, code: 'campaign.sender_domain' }] : [];
}

async function save(
  p: Principal,
  next: StoredCampaign,
  previous: StoredCampaign | undefined,
  idempotency?: ApiRequest['idempotency'],
  statusCode = 200,
): Promise<CampaignView> {
  const view = campaignView(next, previous ? undefined : {});
  await writeRecord({
    entity: 'campaign',
    item: { ...next, ...campaignKeys(next as StoredCampaign & { sortName: string }) },
    ...versionCondition('campaign', next.campaignId, previous),
    ...(idempotency ? { idempotency: { tenantId: p.tenantId, ...idempotency, statusCode, response: view } } : {}),
  });
  return view;
}

function nextVersion(p: Principal, previous: StoredCampaign, changes: Partial<StoredCampaign>): StoredCampaign {
  return {
    ...previous,
    ...changes,
    version: previous.version + 1,
    updatedAt: new Date().toISOString(),
    updatedBy: p.userId,
  };
}

export async function createCampaign(
  p: Principal,
  input: CampaignCreateInput,
  idempotency?: ApiRequest['idempotency'],
): Promise<CampaignView> {
  const problems = senderFieldErrors(input);
  if (problems.length > 0) throw new ValidationError('The sender is outside the mail domain.', problems);
  const now = new Date().toISOString();
  const stored: StoredCampaign = {
    tenantId: p.tenantId,
    campaignId: ulid(),
    name: input.name,
    sortName: sortableName(input.name),
    status: 'draft',
    audience: input.audience,
    templateId: input.templateId,
    ...(input.categoryId ? { categoryId: input.categoryId } : {}),
    from: input.from,
    ...(input.replyTo ? { replyTo: input.replyTo } : {}),
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: p.userId,
    updatedBy: p.userId,
  };
  return save(p, stored, undefined, idempotency, 201);
}

/** The campaign with its counters: one GetItem and one Query of the stats shards. */
export async function getCampaign(p: Principal, campaignId: string): Promise<CampaignView> {
  const campaign = await liveCampaign(p.tenantId, campaignId);
  return campaignView(campaign, await sumStats(p.tenantId, campaignId));
}

export async function listCampaigns(p: Principal, query: CampaignListQueryInput): Promise<Page<CampaignView>> {
  const given = (['status', 'q', 'inTrash'] as const).filter((f) => query[f] !== undefined);
  if (given.length > 1) {
    throw new ValidationError(
      'Use one filter at a time: each filter is served by its own index.',
      given.map((field) => ({ field: `query.${field}`, message: `Cannot be combined with ${given.join(', ')}.` })),
    );
  }
  const page = { limit: query.limit, cursor: query.cursor };
  const result = query.status
    ? await queryIndex<Record<string, unknown>>(
        'campaign',
        'gsi2',
        campaignIndex.status(p.tenantId, query.status),
        page,
      )
    : query.inTrash
      ? await queryIndex<Record<string, unknown>>('campaign', 'gsi4', campaignIndex.trash(p.tenantId), page, {
          order: 'desc',
        })
      : await queryIndex<Record<string, unknown>>(
          'campaign',
          'gsi4',
          campaignIndex.name(p.tenantId),
          page,
          query.q ? { begins: sortableName(query.q) } : undefined,
        );
  return { items: result.items.map((c) => campaignView(c)), nextCursor: result.nextCursor };
}

const EDITABLE: readonly CampaignStatus[] = ['draft', 'scheduled'];

export async function patchCampaign(
  p: Principal,
  campaignId: string,
  patch: CampaignPatchInput,
  ifMatch?: VersionPrecondition,
): Promise<CampaignView> {
  const previous = await liveCampaign(p.tenantId, campaignId);
  checkVersion(previous, ifMatch);
  requireStatus(previous, 'changed', EDITABLE);
  const problems = senderFieldErrors(patch);
  if (problems.length > 0) throw new ValidationError('The sender is outside the mail domain.', problems);
  const { categoryId, replyTo, ...rest } = patch;
  const next = nextVersion(p, previous, rest as Partial<StoredCampaign>);
  if (patch.name) next.sortName = sortableName(patch.name);
  if (categoryId === null) delete next.categoryId;
  else if (categoryId !== undefined) next.categoryId = categoryId;
  if (replyTo === null) delete next.replyTo;
  else if (replyTo !== undefined) next.replyTo = replyTo;
  // A scheduled campaign stays scheduled only if it is still sendable as changed.
  if (next.status === 'scheduled') await assertSendable(p.tenantId, next);
  return campaignView(await save(p, next, previous), await sumStats(p.tenantId, campaignId));
}

/** Into the trash; a scheduled one is unscheduled (the schedule consumer drops its schedule). Not while sending. */
export async function deleteCampaign(p: Principal, campaignId: string, ifMatch?: VersionPrecondition): Promise<void> {
  const previous = await liveCampaign(p.tenantId, campaignId);
  checkVersion(previous, ifMatch);
  if (previous.status === 'sending' || previous.status === 'paused') {
    throw wrongStatus(previous, 'deleted', ['draft', 'scheduled', 'sent', 'cancelled', 'failed']);
  }
  await save(p, trashedVersion(previous, p.userId), previous);
}

/**
 * What must hold before a campaign may be scheduled: the template is there and valid (no unknown merge field), every
 * segment and list is live and of its kind, the category exists, and the sender is within the mail domain. All
 * problems at once, as a 400 with field errors.
 */
export async function assertSendable(tenantId: string, campaign: StoredCampaign): Promise<void> {
  const problems: FieldError[] = [...senderFieldErrors(campaign)];
  const { data: template } = await model.entities.emailTemplate
    .get({ tenantId, templateId: campaign.templateId })
    .go({ consistent: true });
  if (!template || template.deletedAt) {
    problems.push({ field: 'templateId', message: 'No such template.', code: 'campaign.template_missing' });
  } else {
    for (const e of templateFieldErrors(template as { subject: string; html?: string; text?: string })) {
      problems.push({ field: `template.${e.field}`, message: e.message, code: 'campaign.template_invalid' });
    }
  }

  const wanted: Array<{ field: string; id: string; kind: 'dynamic' | 'static' }> = [];
  const add = (field: keyof AudienceInput, kind: 'dynamic' | 'static') => {
    for (const [i, id] of campaign.audience[field].entries())
      wanted.push({ field: `audience.${field}.${i}`, id, kind });
  };
  add('segmentIds', 'dynamic');
  add('excludeSegmentIds', 'dynamic');
  add('listIds', 'static');
  add('excludeListIds', 'static');
  // GetItems, not a BatchGet: tenant roles get no batch actions (at most 40 ids, read in parallel).
  const found = new Map<string, { kind: string; deletedAt?: string }>();
  await Promise.all(
    [...new Set(wanted.map((w) => w.id))].map(async (segmentId) => {
      const { data } = await model.entities.segment.get({ tenantId, segmentId }).go({ consistent: true });
      if (data) found.set(segmentId, data as { kind: string; deletedAt?: string });
    }),
  );
  for (const w of wanted) {
    const segment = found.get(w.id);
    if (!segment || segment.deletedAt) {
      problems.push({ field: w.field, message: `No live segment or list ${w.id}.`, code: 'campaign.audience_missing' });
    } else if (segment.kind !== w.kind) {
      problems.push({
        field: w.field,
        message: `${w.id} is a ${segment.kind === 'static' ? 'list' : 'segment'}: name it under ${
          segment.kind === 'static' ? 'listIds' : 'segmentIds'
        }.`,
        code: 'campaign.audience_kind',
      });
    }
  }

  if (campaign.categoryId) {
    const { data } = await model.entities.subscriptionCategories.get({ tenantId }).go();
    const categories = (data?.categories ?? []) as Array<{ id: string }>;
    if (!categories.some((c) => c.id === campaign.categoryId)) {
      problems.push({ field: 'categoryId', message: 'No such subscription category.', code: 'campaign.category' });
    }
  }
  if (problems.length > 0) {
    throw new ValidationError('The campaign cannot be sent as it is.', problems, 'campaign.not_sendable');
  }
}

/**
 * Schedules (or reschedules, before the send started) the campaign: at a local time in a zone, or now. Each
 * scheduling is a new run, so a schedule that fired for an earlier time starts nothing (the run no longer matches).
 */
export async function scheduleCampaign(
  p: Principal,
  campaignId: string,
  input: CampaignScheduleInput,
  ifMatch?: VersionPrecondition,
): Promise<CampaignView> {
  const previous = await liveCampaign(p.tenantId, campaignId);
  checkVersion(previous, ifMatch);
  requireStatus(previous, 'scheduled', EDITABLE);
  const now = Date.now();
  let schedule: Record<string, unknown>;
  let sendAt: string;
  if (input.now) {
    schedule = { now: true };
    sendAt = new Date(now).toISOString();
  } else {
    const resolved = resolveSchedule(input.at!, input.timeZone!, now);
    if (!resolved.ok) {
      throw new ValidationError(
        'The schedule time is not usable.',
        resolved.problems.map((problem) => ({ field: `body.${problem.field}`, message: problem.message })),
        'campaign.schedule_invalid',
      );
    }
    schedule = {
      at: input.at,
      timeZone: input.timeZone,
      localTime: resolved.value.localTime,
      adjusted: resolved.value.adjusted,
    };
    sendAt = resolved.value.sendAt;
  }
  await assertSendable(p.tenantId, previous);
  const next = nextVersion(p, previous, { status: 'scheduled', schedule, sendAt, run: (previous.run ?? 0) + 1 });
  return campaignView(await save(p, next, previous), await sumStats(p.tenantId, campaignId));
}

/** Before the send starts (scheduled), or while it is paused: for good. */
export async function cancelCampaign(p: Principal, campaignId: string, ifMatch?: VersionPrecondition) {
  const previous = await liveCampaign(p.tenantId, campaignId);
  checkVersion(previous, ifMatch);
  requireStatus(previous, 'cancelled', ['scheduled', 'paused']);
  const next = nextVersion(p, previous, { status: 'cancelled', cancelledAt: new Date().toISOString() });
  return campaignView(await save(p, next, previous), await sumStats(p.tenantId, campaignId));
}

/** While sending: the workflow sees it before its next page and stops, keeping its progress. */
export async function pauseCampaign(p: Principal, campaignId: string, ifMatch?: VersionPrecondition) {
  const previous = await liveCampaign(p.tenantId, campaignId);
  checkVersion(previous, ifMatch);
  requireStatus(previous, 'paused', ['sending']);
  const next = nextVersion(p, previous, { status: 'paused' });
  return campaignView(await save(p, next, previous), await sumStats(p.tenantId, campaignId));
}

/**
 * A paused (or failed) campaign goes on from where it stopped: a new run (run + 1), which the schedule consumer
 * starts now; the ledger keeps anyone mailed in an earlier run from being mailed again.
 */
export async function resumeCampaign(p: Principal, campaignId: string, ifMatch?: VersionPrecondition) {
  const previous = await liveCampaign(p.tenantId, campaignId);
  checkVersion(previous, ifMatch);
  requireStatus(previous, 'resumed', ['paused', 'failed']);
  const next = nextVersion(p, previous, {
    status: 'sending',
    run: (previous.run ?? 0) + 1,
    sendAt: new Date().toISOString(),
  });
  return campaignView(await save(p, next, previous), await sumStats(p.tenantId, campaignId));
}

/** The ledger, in address order: one Query of the campaign's partition (filtered by state when asked). */
export async function listRecipients(
  p: Principal,
  campaignId: string,
  query: CampaignRecipientsQueryInput,
): Promise<Page<Record<string, unknown>>> {
  await liveCampaign(p.tenantId, campaignId);
  const recipients = model.entities.campaignRecipient;
  // The ledger shares the campaign's partition: a cursor must be a ledger key of it.
  const partition = recipients.get({ tenantId: p.tenantId, campaignId, email: '-' }).params().Key.pk as string;
  checkCursor(query.cursor, 'pk', partition, (sk) => sk.startsWith('$campaignRecipient_1#email_'));
  const base = recipients.query.byRecipient({ tenantId: p.tenantId, campaignId });
  // A filtered page reads at most 10 times what it may return, each read asking only for the items still missing,
  // so a page never holds more than `limit` and its cursor is exact; a sparse state gives short pages.
  const found: Array<Record<string, unknown>> = [];
  let cursor = query.cursor ?? null;
  for (let read = 0; read < (query.state ? 10 : 1) && found.length < query.limit; read++) {
    const options = { limit: query.limit - found.length, cursor };
    const result = query.state
      ? await base.where((attr, op) => op.eq(attr.state, query.state as string)).go(options)
      : await base.go(options);
    found.push(...(result.data as Array<Record<string, unknown>>));
    cursor = result.cursor ?? null;
    if (!cursor) break;
  }
  const result = { data: found, cursor };
  return {
    items: result.data.map(({ tenantId: _t, campaignId: _c, ...item }) => item),
    nextCursor: result.cursor ?? null,
  };
}
