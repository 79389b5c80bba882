import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** One structured logger and one metrics emitter per container (service name from POWERTOOLS_SERVICE_NAME). */
export const logger = new Logger();
export const metrics = new Metrics({ namespace: 'CRM' });
export const tracer = new Tracer();
