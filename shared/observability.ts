import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** One structured logger and one metrics emitter per container (service name from POWERTOOLS_SERVICE_NAME). */
export const logger = new Logger();

/**
 * Metrics are flushed after every invocation (logMetrics), and most invocations record none: that is by design
 * (Lambda and API Gateway count requests already), so Powertools' "No application metrics to publish" notice is
 * dropped; its other warnings reach the structured log.
 */
const metricsLogger = {
  trace: (...args: unknown[]) => logger.trace(String(args[0]), ...(args.slice(1) as [])),
  debug: (...args: unknown[]) => logger.debug(String(args[0]), ...(args.slice(1) as [])),
  info: (...args: unknown[]) => logger.info(String(args[0]), ...(args.slice(1) as [])),
  warn: (...args: unknown[]) => {
    if (String(args[0]).startsWith('No application metrics to publish')) return;
    logger.warn(String(args[0]), ...(args.slice(1) as []));
  },
  error: (...args: unknown[]) => logger.error(String(args[0]), ...(args.slice(1) as [])),
};
export const metrics = new Metrics({ namespace: 'CRM', logger: metricsLogger });
