import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import middy from '@middy/core';
import * as z from 'zod';
import { logger, metrics } from '../../shared/observability.ts';
import { sendSequenceEmail } from '../../shared/sequences/send.ts';
import { runTurn, type TurnResult } from '../../shared/sequences/workflow.ts';

const ses = new SESv2Client({ maxAttempts: 3 });

/** The state machine's input and what each turn hands back: ids only. */
export const SequenceRunState = z.object({
  tenantId: z.string().min(1),
  sequenceId: z.string().min(1),
  contactId: z.string().min(1),
  run: z.number().int().min(1),
});

/** The Step task of the enrolment workflow (infra/constructs/sequences.ts): one turn of shared/sequences/workflow.ts. */
async function step(event: unknown): Promise<TurnResult> {
  const state = SequenceRunState.parse(event);
  logger.appendKeys({ tenantId: state.tenantId, sequenceId: state.sequenceId, contactId: state.contactId });
  return runTurn({ send: (mail) => sendSequenceEmail({ ses }, mail) }, state);
}

export const handler = middy(step)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
