import { pageOf } from '../api/common-schemas.ts';
import { defineRoutes } from '../api/route.ts';
import { Board, BoardQuery, Deal } from '../deals/schema.ts';
import { PageOnlyQuery } from '../notes/schema.ts';
import {
  Pipeline,
  PipelineCreate,
  PipelineIdParams,
  PipelineListQuery,
  PipelinePatch,
  PipelineStageParams,
} from './schema.ts';

export const pipelinesRoutes = defineRoutes([
  {
    operationId: 'createPipeline',
    method: 'POST',
    path: '/v1/pipelines',
    group: 'catalog',
    permission: 'pipelines:manage',
    tag: 'Pipelines',
    summary: 'Create a pipeline',
    description:
      "Ordered stages with win probabilities; at least one won and one lost stage. The organisation's first pipeline is its default.",
    body: PipelineCreate,
    response: { status: 201, schema: Pipeline, description: 'The new pipeline.' },
    idempotent: true,
  },
  {
    operationId: 'listPipelines',
    method: 'GET',
    path: '/v1/pipelines',
    group: 'catalog',
    permission: 'pipelines:read',
    tag: 'Pipelines',
    summary: 'List pipelines by name',
    query: PipelineListQuery,
    response: { status: 200, schema: pageOf(Pipeline), description: 'A page of pipelines.' },
  },
  {
    operationId: 'getPipeline',
    method: 'GET',
    path: '/v1/pipelines/{pipelineId}',
    group: 'catalog',
    permission: 'pipelines:read',
    tag: 'Pipelines',
    summary: 'Get a pipeline',
    params: PipelineIdParams,
    response: { status: 200, schema: Pipeline, description: 'The pipeline, with its version as ETag.' },
  },
  {
    operationId: 'patchPipeline',
    method: 'PATCH',
    path: '/v1/pipelines/{pipelineId}',
    group: 'catalog',
    permission: 'pipelines:manage',
    tag: 'Pipelines',
    summary: 'Rename a pipeline, replace its stages or make it the default',
    description:
      'Stages are matched by id. Removing a stage, or changing its kind, while deals are in it is refused with 409 ' +
      '`pipeline.stage_has_deals` naming each stage and its deal count: move the deals first.',
    params: PipelineIdParams,
    body: PipelinePatch,
    response: { status: 200, schema: Pipeline, description: 'The updated pipeline.' },
    conditional: true,
  },
  {
    operationId: 'deletePipeline',
    method: 'DELETE',
    path: '/v1/pipelines/{pipelineId}',
    group: 'catalog',
    permission: 'pipelines:manage',
    tag: 'Pipelines',
    summary: 'Delete a pipeline without deals',
    description: '409 `pipeline.is_default` for the default pipeline, `pipeline.stage_has_deals` while it holds deals.',
    params: PipelineIdParams,
    response: { status: 204, description: 'Done; nothing to return.' },
    conditional: true,
  },
  {
    operationId: 'pipelineBoard',
    method: 'GET',
    path: '/v1/pipelines/{pipelineId}/board',
    group: 'deals',
    permission: 'deals:read',
    tag: 'Deals',
    summary: "A pipeline's board: each stage with its first deals",
    description:
      'Each stage is one Query on its own index partition, soonest expected close date first (undated deals last). ' +
      "Page further with the stage deals route and the stage's nextCursor.",
    params: PipelineIdParams,
    query: BoardQuery,
    response: { status: 200, schema: Board, description: 'The stages in board order with their first page of deals.' },
  },
  {
    operationId: 'stageDeals',
    method: 'GET',
    path: '/v1/pipelines/{pipelineId}/stages/{stageId}/deals',
    group: 'deals',
    permission: 'deals:read',
    tag: 'Deals',
    summary: "One stage's deals, soonest expected close first",
    params: PipelineStageParams,
    query: PageOnlyQuery,
    response: { status: 200, schema: pageOf(Deal), description: 'A page of deals.' },
  },
]);
