import { createHash } from 'node:crypto';
import {
  ConflictException,
  CreateScheduleCommand,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { type EngagementEvent, SCORE_FIELDS } from './service.ts';

/** What the decay schedule sends back to the consumer. */
export interface RescoreRequest {
  kind: 'lead.rescore';
  tenantId: string;
  leadId: string;
}

interface ChangeDetail {
  tenantId: string;
  entityId: string;
  occurredAt: string;
  changes?: Record<string, { old?: unknown; new?: unknown }>;
  changedFields?: string[];
  record?: Record<string, unknown>;
}

export interface ScoringTarget {
  tenantId: string;
  leadId: string;
  engagement?: EngagementEvent;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The leads an activity (or any event carrying `record.links` / `leadId`) is about. */
function linkedLeads(detail: Record<string, unknown>): string[] {
  const record = isObject(detail.record) ? detail.record : {};
  const links = Array.isArray(record.links) ? record.links : Array.isArray(detail.links) ? detail.links : [];
  const ids = links
    .filter((l): l is { type: string; id: string } => isObject(l) && l.type === 'lead' && typeof l.id === 'string')
    .map((l) => l.id);
  if (typeof detail.leadId === 'string') ids.push(detail.leadId);
  return [...new Set(ids)];
}

/**
 * Which leads an event rescores, and the engagement it may earn. Its own echo (a lead.updated that changed only the
 * score fields) and deletions rescore nothing: that is the loop guard.
 */
export function scoringTargets(detailType: string, raw: unknown): ScoringTarget[] {
  if (!isObject(raw) || typeof raw.tenantId !== 'string') return [];
  const detail = raw as unknown as ChangeDetail;
  const tenantId = detail.tenantId;
  switch (detailType) {
    case 'lead.created':
    case 'lead.restored':
      return [{ tenantId, leadId: detail.entityId }];
    case 'lead.updated': {
      const changed = detail.changedFields ?? Object.keys(detail.changes ?? {});
      if (changed.every((field) => SCORE_FIELDS.has(field))) return [];
      return [{ tenantId, leadId: detail.entityId }];
    }
    case 'lead.deleted':
      return [];
    case 'form.submitted': {
      const leadId = detail.changes?.leadId?.new ?? detail.record?.leadId;
      if (typeof leadId !== 'string') return [];
      return [
        {
          tenantId,
          leadId,
          engagement: { detailType, detail: detail.record ?? {}, key: detail.entityId, at: detail.occurredAt },
        },
      ];
    }
    default: {
      // Activities (and later marketing's email events) name their leads in their links.
      const at = typeof detail.occurredAt === 'string' ? detail.occurredAt : new Date().toISOString();
      const key = typeof detail.entityId === 'string' ? detail.entityId : `${detailType}:${at}`;
      return linkedLeads(raw).map((leadId) => ({
        tenantId,
        leadId,
        engagement: { detailType, detail: raw, key, at },
      }));
    }
  }
}

let scheduler: SchedulerClient | undefined;

/** One schedule per lead, named by a hash of tenant and lead (names allow 64 characters of [0-9a-zA-Z-_.]). */
export const decayScheduleName = (tenantId: string, leadId: string) =>
  `lead-score-${createHash('sha256').update(`${tenantId}\n${leadId}`).digest('hex').slice(0, 40)}`;

/**
 * The decay clock without a Scan: one one-time EventBridge Scheduler schedule per lead, at the moment decay alone
 * will next move its score by a point, sending the lead back to this consumer. Each recompute moves it (create, or
 * update when it exists); it deletes itself after firing.
 */
export async function scheduleRescore(
  target: { tenantId: string; leadId: string },
  at: number,
  config: { group: string; roleArn: string; functionArn: string },
): Promise<void> {
  scheduler ??= new SchedulerClient({});
  const name = decayScheduleName(target.tenantId, target.leadId);
  const input: RescoreRequest = { kind: 'lead.rescore', tenantId: target.tenantId, leadId: target.leadId };
  const params = {
    Name: name,
    GroupName: config.group,
    ScheduleExpression: `at(${new Date(at).toISOString().slice(0, 19)})`,
    ScheduleExpressionTimezone: 'UTC',
    FlexibleTimeWindow: { Mode: 'OFF' as const },
    ActionAfterCompletion: 'DELETE' as const,
    Target: {
      Arn: config.functionArn,
      RoleArn: config.roleArn,
      Input: JSON.stringify(input),
      RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
    },
  };
  try {
    await scheduler.send(new CreateScheduleCommand(params));
  } catch (error) {
    if (!(error instanceof ConflictException) && (error as { name?: string }).name !== 'ConflictException') throw error;
    await scheduler.send(new UpdateScheduleCommand(params));
  }
}
