import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod';
import {
  FormSubmitted,
  LeadChanged,
  SegmentMembershipChanged,
  SequenceChanged,
  SequenceEnrollmentChanged,
} from '../../events/catalog.ts';
import { readConfig } from '../../shared/config.ts';
import { logger, metrics } from '../../shared/observability.ts';
import { executionName } from '../../shared/sequences/execution.ts';
import {
  onFormSubmission,
  onLeadConverted,
  onSegmentMemberAdded,
  runSegmentJob,
} from '../../shared/sequences/triggers.ts';

/** The events this consumer acts on. */
export const SEQUENCE_TRIGGER_EVENTS = [
  'sequence.enrollment_created',
  'sequence.updated',
  'form.submitted',
  'lead.updated',
  'segment.member.added',
] as const;

const configSchema = z.object({ SEQUENCE_STATE_MACHINE_ARN: z.string().min(1) });
let config: z.infer<typeof configSchema> | undefined;
const configured = () => (config ??= readConfig(configSchema));
const sfn = new SFNClient({ maxAttempts: 3 });

/**
 * What starts sequence work, all from the stream's events:
 * - `sequence.enrollment_created` starts the enrolment's workflow under a name derived from tenant, sequence,
 *   contact and run, so a redelivered event starts nothing twice (ExecutionAlreadyExists);
 * - `sequence.updated` that gave the sequence its `segmentJob` (activation) enrols the segment's members;
 * - `form.submitted` enrols the lead's contact in the active sequences enrolling that form;
 * - `lead.updated` that converted the lead enrols the new contact in the active sequences of the lead's forms;
 * - `segment.member.added` enrols the new member in the active sequences enrolling that segment (their list cached
 *   per container for a few seconds: a bulk add is one event per member).
 */
async function onEvent(event: EventBridgeEvent<string, unknown>): Promise<void> {
  switch (event['detail-type']) {
    case 'sequence.enrollment_created': {
      const change = SequenceEnrollmentChanged.parse(event.detail);
      if (!('record' in change) || '$claimCheck' in change.record) throw new Error('enrolment event without record');
      const record = z
        .object({ sequenceId: z.string(), contactId: z.string(), run: z.number().int() })
        .parse(change.record);
      const input = { tenantId: change.tenantId, ...record };
      logger.appendKeys({ tenantId: change.tenantId, sequenceId: record.sequenceId, contactId: record.contactId });
      try {
        await sfn.send(
          new StartExecutionCommand({
            stateMachineArn: configured().SEQUENCE_STATE_MACHINE_ARN,
            name: executionName(input),
            input: JSON.stringify(input),
          }),
        );
      } catch (error) {
        if (!(error instanceof ExecutionAlreadyExists) && (error as Error).name !== 'ExecutionAlreadyExists')
          throw error;
      }
      return;
    }
    case 'sequence.updated': {
      const change = SequenceChanged.parse(event.detail);
      // Only the change that created the job: its own progress updates come back here too and must not restart it.
      if (!('changes' in change) || !change.changes.segmentJob || change.changes.segmentJob.old !== undefined) return;
      logger.appendKeys({ tenantId: change.tenantId, sequenceId: change.entityId });
      const enrolled = await runSegmentJob(change.tenantId, change.entityId);
      logger.info('segment enrolled', { enrolled });
      return;
    }
    case 'form.submitted': {
      const change = FormSubmitted.parse(event.detail);
      logger.appendKeys({ tenantId: change.tenantId, submissionId: change.entityId });
      await onFormSubmission(change.tenantId, change.entityId);
      return;
    }
    case 'lead.updated': {
      const change = LeadChanged.parse(event.detail);
      // The conversion itself: convertedContactId set by this change (a claim-checked change names its fields only).
      const converted = 'changes' in change ? change.changes.convertedContactId?.new : undefined;
      if (typeof converted !== 'string' || ('changes' in change && change.changes.convertedContactId?.old)) return;
      logger.appendKeys({ tenantId: change.tenantId, leadId: change.entityId });
      await onLeadConverted(change.tenantId, change.entityId, converted);
      return;
    }
    case 'segment.member.added': {
      const { tenantId, segmentId, contactId } = SegmentMembershipChanged.parse(event.detail);
      const enrolled = await onSegmentMemberAdded(tenantId, segmentId, contactId);
      if (enrolled.length > 0) logger.info('segment member enrolled', { tenantId, segmentId, contactId, enrolled });
      return;
    }
  }
}

export const handler = middy(onEvent)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
