import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import middy from '@middy/core';
import * as z from 'zod';
import { logger, metrics } from '../../shared/observability.ts';
import { sendSequenceEmail } from '../../shared/sequences/send.ts';
import { failEnrollment, failureCause } from '../../shared/sequences/service.ts';
import { runTurn, type SequenceRun, type TurnResult } from '../../shared/sequences/workflow.ts';

const ses = new SESv2Client({ maxAttempts: 3 });

/** The state machine's input and what each turn hands back: ids only. */
export const SequenceRunState = z.object({
  tenantId: z.string().min(1),
  sequenceId: z.string().min(1),
  contactId: z.string().min(1),
  run: z.number().int().min(1),
});

/** The Fail task's input: the state with the error the Catch caught past the Step's retries. */
export const SequenceFailState = SequenceRunState.extend({
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }),
});

/**
 * The enrolment workflow's tasks (infra/constructs/sequences.ts): Step, one turn of shared/sequences/workflow.ts;
 * Fail (its input carries the caught `error`), which ends the enrolment as `failed` with the cause.
 */
async function step(event: unknown): Promise<TurnResult | (SequenceRun & { failed: boolean })> {
  if (event && typeof event === 'object' && 'error' in event) {
    const { error, ...state } = SequenceFailState.parse(event);
    logger.appendKeys({ tenantId: state.tenantId, sequenceId: state.sequenceId, contactId: state.contactId });
    const cause = failureCause(error);
    const key = { tenantId: state.tenantId, sequenceId: state.sequenceId, contactId: state.contactId };
    const failed = await failEnrollment(key, state.run, cause);
    logger.error('sequence enrolment failed', { cause, recorded: failed });
    // Counted once per enrolment: one that had already ended keeps its end and counts nothing.
    if (failed) metrics.addMetric('SequenceEnrollmentsFailed', MetricUnit.Count, 1);
    return { ...state, failed };
  }
  const state = SequenceRunState.parse(event);
  logger.appendKeys({ tenantId: state.tenantId, sequenceId: state.sequenceId, contactId: state.contactId });
  return runTurn({ send: (mail) => sendSequenceEmail({ ses }, mail) }, state);
}

export const handler = middy(step)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
