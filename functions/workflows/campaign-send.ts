import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import middy from '@middy/core';
import * as z from 'zod';
import { SEND_BURST_SECONDS, sendLanesFor, TokenBucket } from '../../shared/campaigns/rate.ts';
import { RateShare } from '../../shared/campaigns/rate-share.ts';
import { failRun, finishRun, type RunState, sendBatch, startRun } from '../../shared/campaigns/sender.ts';
import { lazyConfig } from '../../shared/config.ts';
import { logger, metrics } from '../../shared/observability.ts';

/** The campaign send state machine's tasks: one function, the step named in the task's payload (`{ step, state }`). */
export const CAMPAIGN_STEPS = ['start', 'sendBatch', 'finish', 'fail'] as const;
export type CampaignStep = (typeof CAMPAIGN_STEPS)[number];

const config = lazyConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    /** SES's sending rate for the account (messages per second), shared by the campaigns sending at once. */
    SES_MAX_SEND_RATE: z.coerce.number().positive().default(14),
    /** Sends in flight at once (default: enough for the rate, sendLanesFor); the rate decides how many start. */
    SEND_CONCURRENCY: z.coerce.number().int().min(1).max(64).optional(),
    /** How long one SendBatch invocation takes pages (well inside the function's timeout). */
    BATCH_SECONDS: z.coerce.number().positive().default(120),
  }),
);
const ses = new SESv2Client({ maxAttempts: 3 });

const Task = z.object({
  step: z.enum(CAMPAIGN_STEPS),
  state: z.looseObject({
    tenantId: z.string().min(1),
    campaignId: z.string().min(1),
    run: z.number().int().positive(),
    execution: z.string().min(1),
  }),
});

async function runStep(event: unknown): Promise<RunState> {
  const { step, state } = Task.parse(event);
  logger.appendKeys({ tenantId: state.tenantId, campaignId: state.campaignId, run: state.run, step });
  const c = config();
  switch (step) {
    case 'start':
      return startRun(state);
    case 'sendBatch': {
      // The account's rate, shared with the other campaigns sending now: the bucket runs at this batch's share.
      const bucket = new TokenBucket(c.SES_MAX_SEND_RATE, undefined, SEND_BURST_SECONDS);
      const share = await RateShare.join(c.SES_MAX_SEND_RATE, bucket, {
        owner: { tenantId: state.tenantId, campaignId: state.campaignId },
      });
      try {
        const result = await sendBatch(
          state,
          { ses, bucket, concurrency: c.SEND_CONCURRENCY ?? sendLanesFor(c.SES_MAX_SEND_RATE) },
          { maxMs: c.BATCH_SECONDS * 1000 },
        );
        if (result.done) logger.info('send stopped', { outcome: result.outcome });
        return result;
      } finally {
        await share.leave();
      }
    }
    case 'finish': {
      const result = await finishRun(state);
      if (result.outcome === 'sent') metrics.addMetric('CampaignsSent', MetricUnit.Count, 1);
      return result;
    }
    case 'fail': {
      const result = await failRun(state as RunState & { error?: { Error?: string; Cause?: string } });
      metrics.addMetric('CampaignsFailed', MetricUnit.Count, 1);
      return result;
    }
  }
}

export const handler = middy(runStep)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
