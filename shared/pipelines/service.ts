import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import type * as z from 'zod';
import type { Principal } from '../auth/principal.ts';
import { documentClient, tableName } from '../db/client.ts';
import { becomeDefaultWrites, type StoredAudit } from '../db/documents.ts';
import { itemView } from '../db/item-view.ts';
import { dealIndex, pipelineIndex, pipelineKeys, sortableName } from '../db/keys.ts';
import { type ItemWrite, model, writeRecord } from '../db/store.ts';
import { ConflictError, DomainError, NotFoundError, PreconditionFailedError, ValidationError } from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import { type Page, queryIndex } from '../records/lists.ts';
import type {
  PipelineCreateInput,
  PipelinePatchInput,
  PipelineView,
  StageKind,
  StagesInput,
  StageView,
} from './schema.ts';

export interface StoredPipeline extends StoredAudit {
  tenantId: string;
  pipelineId: string;
  name: string;
  sortName: string;
  stages: StageView[];
  isDefault: boolean;
}

const DEFAULT_PROBABILITY: Record<StageKind, number> = { open: 10, won: 100, lost: 0 };

export const pipelineView = (stored: StoredPipeline): PipelineView =>
  itemView(stored as unknown as Record<string, unknown>, 'pipelineId') as PipelineView;

export async function readPipeline(tenantId: string, pipelineId: string): Promise<StoredPipeline | undefined> {
  const { data } = await model.entities.pipeline.get({ tenantId, pipelineId }).go();
  return (data as StoredPipeline | null) ?? undefined;
}

async function readExisting(tenantId: string, pipelineId: string): Promise<StoredPipeline> {
  const stored = await readPipeline(tenantId, pipelineId);
  if (!stored) throw new NotFoundError('pipeline', pipelineId);
  return stored;
}

/** The tenant's default pipeline id (one GetItem), if it has any pipeline. */
export async function defaultPipelineId(
  tenantId: string,
): Promise<{ pipelineId: string; version: number } | undefined> {
  const { data } = await model.entities.defaultPipeline.get({ tenantId }).go();
  return data ? { pipelineId: data.pipelineId, version: data.version } : undefined;
}

function normalizeStages(stages: z.output<typeof StagesInput>): StageView[] {
  return stages.map((s) => ({
    id: s.id ?? ulid(),
    name: s.name,
    probability: s.probability ?? DEFAULT_PROBABILITY[s.kind],
    kind: s.kind,
  }));
}

const itemOf = (p: StoredPipeline) => ({ ...p, ...pipelineKeys(p) });

/** The writes that make `pipeline` the default, in one transaction with the pipeline itself (see becomeDefaultWrites). */
async function becomeDefault(pipeline: StoredPipeline, principal: Principal): Promise<ItemWrite[]> {
  const current = await defaultPipelineId(pipeline.tenantId);
  return becomeDefaultWrites<StoredPipeline>({
    pointer: 'defaultPipeline',
    record: 'pipeline',
    idField: 'pipelineId',
    tenantId: pipeline.tenantId,
    id: pipeline.pipelineId,
    current: current && { id: current.pipelineId, version: current.version },
    readRecord: (id) => readPipeline(pipeline.tenantId, id),
    itemOf: itemOf,
    updatedAt: pipeline.updatedAt,
    actorId: principal.userId,
    what: 'default pipeline',
  });
}

export async function createPipeline(
  principal: Principal,
  input: PipelineCreateInput,
  idempotency?: ApiRequest['idempotency'],
): Promise<PipelineView> {
  const now = new Date().toISOString();
  const pipeline: StoredPipeline = {
    tenantId: principal.tenantId,
    pipelineId: ulid(),
    name: input.name,
    sortName: sortableName(input.name),
    stages: normalizeStages(input.stages),
    isDefault: false,
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: principal.userId,
    updatedBy: principal.userId,
  };
  // The organisation's first pipeline is its default whatever the request says.
  const hasDefault = (await defaultPipelineId(principal.tenantId)) !== undefined;
  pipeline.isDefault = input.isDefault === true || !hasDefault;
  const items = pipeline.isDefault ? await becomeDefault(pipeline, principal) : [];
  const view = pipelineView(pipeline);
  await writeRecord({
    entity: 'pipeline',
    item: itemOf(pipeline),
    onVersionConflict: () => new DomainError(409, 'pipeline.exists', `pipeline ${pipeline.pipelineId} already exists.`),
    items,
    ...(idempotency
      ? { idempotency: { tenantId: principal.tenantId, ...idempotency, statusCode: 201, response: view } }
      : {}),
  });
  return view;
}

export async function getPipeline(principal: Principal, pipelineId: string): Promise<PipelineView> {
  return pipelineView(await readExisting(principal.tenantId, pipelineId));
}

/** The most deals counted per stage when a change is refused (the message says "at least" beyond it). */
const COUNT_LIMIT = 1000;

/**
 * Live deals in a stage: one Query (COUNT) of the stage's board partition. GSIs are eventually consistent, so a deal
 * moved in within the last moment may not be counted yet (see README, "Pipelines").
 */
export async function dealsInStage(tenantId: string, pipelineId: string, stageId: string): Promise<number> {
  const result = await documentClient.send(
    new QueryCommand({
      TableName: tableName(),
      IndexName: 'gsi2',
      KeyConditionExpression: 'gsi2pk = :pk',
      ExpressionAttributeValues: { ':pk': dealIndex.stage(tenantId, pipelineId, stageId) },
      Select: 'COUNT',
      Limit: COUNT_LIMIT,
    }),
  );
  return result.Count ?? 0;
}

/** Refuses (409) to drop stages, or change their kind, while deals are in them, naming each stage and its count. */
async function assertStagesEmpty(tenantId: string, pipelineId: string, stages: StageView[], why: string) {
  const counts = await Promise.all(stages.map((s) => dealsInStage(tenantId, pipelineId, s.id)));
  const busy = stages
    .map((stage, i) => ({ id: stage.id, name: stage.name, deals: counts[i]! }))
    .filter((s) => s.deals > 0);
  if (busy.length === 0) return;
  const described = busy.map((s) => `${s.name} (${s.deals >= COUNT_LIMIT ? `${COUNT_LIMIT}+` : s.deals} deals)`);
  throw new ConflictError(
    'pipeline.stage_has_deals',
    `${why} ${described.join(', ')}: move those deals to another stage first (POST /v1/deals/{dealId}/stage).`,
    { stages: busy },
  );
}

export async function patchPipeline(
  principal: Principal,
  pipelineId: string,
  patch: PipelinePatchInput,
  ifMatch?: VersionPrecondition,
): Promise<PipelineView> {
  const previous = await readExisting(principal.tenantId, pipelineId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('pipeline', pipelineId);
  const stages = patch.stages ? normalizeStages(patch.stages) : previous.stages;
  if (patch.stages) {
    const kept = new Map(stages.map((s) => [s.id, s]));
    const removed = previous.stages.filter((s) => !kept.has(s.id));
    const rekinded = previous.stages.filter((s) => kept.has(s.id) && kept.get(s.id)!.kind !== s.kind);
    await assertStagesEmpty(principal.tenantId, pipelineId, removed, 'Cannot remove stages that hold deals:');
    await assertStagesEmpty(
      principal.tenantId,
      pipelineId,
      rekinded,
      'Cannot change the kind of stages that hold deals:',
    );
  }
  const next: StoredPipeline = {
    ...previous,
    ...(patch.name ? { name: patch.name, sortName: sortableName(patch.name) } : {}),
    stages,
    isDefault: previous.isDefault || patch.isDefault === true,
    version: previous.version + 1,
    updatedAt: new Date().toISOString(),
    updatedBy: principal.userId,
  };
  const unchanged =
    JSON.stringify(
      pipelineView({
        ...next,
        version: previous.version,
        updatedAt: previous.updatedAt,
        updatedBy: previous.updatedBy,
      }),
    ) === JSON.stringify(pipelineView(previous));
  if (unchanged) return pipelineView(previous);
  const items = next.isDefault && !previous.isDefault ? await becomeDefault(next, principal) : [];
  // The version condition also fails any deal write that checked the stages this change replaces.
  await writeRecord({
    entity: 'pipeline',
    item: itemOf(next),
    expectedVersion: previous.version,
    onVersionConflict: () => new PreconditionFailedError('pipeline', pipelineId),
    items,
  });
  return pipelineView(next);
}

/** Deletes a pipeline that holds no deals and is not the default. */
export async function deletePipeline(principal: Principal, pipelineId: string, ifMatch?: VersionPrecondition) {
  const previous = await readExisting(principal.tenantId, pipelineId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('pipeline', pipelineId);
  if (previous.isDefault) {
    throw new ConflictError(
      'pipeline.is_default',
      'The default pipeline cannot be deleted: make another pipeline the default first.',
    );
  }
  await assertStagesEmpty(
    principal.tenantId,
    pipelineId,
    previous.stages,
    'Cannot delete a pipeline whose stages hold deals:',
  );
  const { rejected } = await model.entities.pipeline
    .delete({ tenantId: principal.tenantId, pipelineId })
    .where((attr, op) => op.eq(attr.version, previous.version))
    .go({ response: 'none', returnOnConditionCheckFailure: true } as never);
  if (rejected) throw new PreconditionFailedError('pipeline', pipelineId);
}

export async function listPipelines(principal: Principal, page: { limit: number; cursor?: string | undefined }) {
  const result = await queryIndex<StoredPipeline>('pipeline', 'gsi4', pipelineIndex.name(principal.tenantId), page);
  return { items: result.items.map(pipelineView), nextCursor: result.nextCursor } satisfies Page<PipelineView>;
}

/** A stage of a pipeline, or a 422 naming the field that pointed at it. */
export function stageOf(pipeline: StoredPipeline, stageId: string, field: string): StageView {
  const stage = pipeline.stages.find((s) => s.id === stageId);
  if (!stage) {
    throw new ValidationError('The stage is not in the pipeline.', [
      { field, message: `Pipeline ${pipeline.pipelineId} has no stage ${stageId}.`, code: 'unknown_stage' },
    ]);
  }
  return stage;
}
