import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import * as z from 'zod';
import { logger, metrics } from '../../shared/observability.ts';
import {
  applyStep,
  assignStep,
  fallbackStep,
  type RoutingStart,
  type RoutingState,
  routeStep,
} from '../../shared/routing/workflow.ts';

/** The routing state machine's tasks: one function, the step named in the task's payload (`{ step, state }`). */
export const ROUTING_STEPS = ['route', 'assign', 'apply', 'fallback'] as const;
export type RoutingStep = (typeof ROUTING_STEPS)[number];

const Task = z.object({
  step: z.enum(ROUTING_STEPS),
  state: z.looseObject({ tenantId: z.string().min(1), ticketId: z.string().min(1) }),
});

const STEPS: Record<RoutingStep, (state: RoutingState) => Promise<RoutingState>> = {
  route: (state) => routeStep(state as RoutingStart),
  assign: assignStep,
  apply: applyStep,
  fallback: fallbackStep,
};

async function runStep(event: unknown): Promise<RoutingState> {
  const { step, state } = Task.parse(event);
  logger.appendKeys({ tenantId: state.tenantId, ticketId: state.ticketId, step });
  return STEPS[step](state as unknown as RoutingState);
}

export const handler = middy(runStep)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
