import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import * as z from 'zod';
import { logger, metrics } from '../../shared/observability.ts';
import {
  type BackfillInput,
  type BackfillStepState,
  backfillPage,
  failBackfill,
  startBackfill,
} from '../../shared/segments/backfill.ts';

/**
 * The backfill state machine's tasks: one function, the step named in the payload (`{ step, run, state }`; `run` is
 * the execution's name).
 */
export const BACKFILL_STEPS = ['start', 'page', 'fail'] as const;
export type BackfillStep = (typeof BACKFILL_STEPS)[number];

const Task = z.object({
  step: z.enum(BACKFILL_STEPS),
  run: z.string().min(1),
  state: z.looseObject({
    tenantId: z.string().min(1),
    segmentId: z.string().min(1),
    mode: z.enum(['backfill', 'sweep']).optional(),
    evaluation: z.number().int().optional(),
    decision: z.enum(['page', 'done', 'skip']).optional(),
    error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
  }),
});

async function runStep(event: unknown): Promise<BackfillStepState> {
  const { step, run, state } = Task.parse(event);
  logger.appendKeys({ tenantId: state.tenantId, segmentId: state.segmentId, run, step });
  const input: BackfillInput = {
    tenantId: state.tenantId,
    segmentId: state.segmentId,
    run,
    ...(state.mode ? { mode: state.mode } : {}),
  };
  if (step === 'start') return startBackfill(input);
  const current: BackfillStepState = {
    ...input,
    ...(state.evaluation !== undefined ? { evaluation: state.evaluation } : {}),
    decision: state.decision ?? 'page',
  };
  if (step === 'page') return backfillPage(current);
  await failBackfill(current, `${state.error?.Error ?? 'Error'}: ${state.error?.Cause ?? ''}`);
  return { ...current, decision: 'skip' };
}

export const handler = middy(runStep)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
