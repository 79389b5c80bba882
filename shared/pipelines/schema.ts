import * as z from 'zod';
import { Audit, Id, PageQuery } from '../api/common-schemas.ts';

export const STAGE_KINDS = ['open', 'won', 'lost'] as const;
export type StageKind = (typeof STAGE_KINDS)[number];

export const MAX_STAGES = 30;

export const StageInput = z
  .strictObject({
    id: Id.optional().meta({
      description: "The stage's id; keep it to keep the stage (and its deals). New if absent.",
    }),
    name: z.string().trim().min(1).max(100),
    probability: z
      .number()
      .int()
      .min(0)
      .max(100)
      .optional()
      .meta({ description: 'Win probability in percent; defaults to 100 for won, 0 for lost, 10 for open stages.' }),
    kind: z.enum(STAGE_KINDS).default('open').meta({ description: 'open, won or lost.' }),
  })
  .meta({ id: 'StageInput' });

/** Ordered stages: ids and names unique, at least one won and one lost stage. */
export const StagesInput = z
  .array(StageInput)
  .min(2)
  .max(MAX_STAGES)
  .superRefine((stages, ctx) => {
    const seen = { ids: new Set<string>(), names: new Set<string>() };
    stages.forEach((stage, i) => {
      if (stage.id !== undefined) {
        if (seen.ids.has(stage.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: 'Duplicate stage id.' });
        seen.ids.add(stage.id);
      }
      const name = stage.name.toLowerCase();
      if (seen.names.has(name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: 'Duplicate stage name.' });
      seen.names.add(name);
    });
    for (const kind of ['won', 'lost'] as const) {
      if (!stages.some((s) => s.kind === kind)) {
        ctx.addIssue({ code: 'custom', path: [], message: `A pipeline needs at least one ${kind} stage.` });
      }
    }
  })
  .meta({ description: 'The stages in board order; at least one won and one lost stage.' });

export const PipelineCreate = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    stages: StagesInput,
    isDefault: z
      .boolean()
      .optional()
      .meta({ description: "Make it the default pipeline (the organisation's first pipeline always is)." }),
  })
  .meta({ id: 'PipelineCreate' });

export const PipelinePatch = z
  .strictObject({
    name: PipelineCreate.shape.name,
    stages: StagesInput.meta({
      description:
        'Replaces the stages. A stage is kept by its id; removing a stage or changing its kind is refused (409) ' +
        'while deals are in it: move them first (POST /v1/deals/{dealId}/stage).',
    }),
    isDefault: z.literal(true).meta({ description: 'Make it the default (the previous default stops being one).' }),
  })
  .partial()
  .meta({ id: 'PipelinePatch' });

export const Stage = z
  .object({
    id: z.string(),
    name: z.string(),
    probability: z.number().int(),
    kind: z.enum(STAGE_KINDS),
  })
  .meta({ id: 'Stage' });
export type StageView = z.infer<typeof Stage>;

export const Pipeline = z
  .object({
    id: z.string(),
    name: z.string(),
    stages: z.array(Stage),
    isDefault: z.boolean(),
    ...Audit,
  })
  .meta({ id: 'Pipeline' });

export type PipelineView = z.infer<typeof Pipeline>;
export type PipelineCreateInput = z.output<typeof PipelineCreate>;
export type PipelinePatchInput = z.output<typeof PipelinePatch>;

export const PipelineIdParams = z.object({ pipelineId: Id });
export const PipelineStageParams = z.object({ pipelineId: Id, stageId: Id });
export const PipelineListQuery = z.strictObject({ ...PageQuery }).meta({ id: 'PipelineListQuery' });
