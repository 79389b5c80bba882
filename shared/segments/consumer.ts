import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import { model } from '../db/store.ts';
import { applyOneTimeSchedule, hashedScheduleName } from '../scheduling/one-time.ts';
import { decide, dynamicSegments, forgetSegments, mapLimited, readContact, readEngagement } from './evaluation.ts';
import { applyMemberOps, SegmentChangedError } from './membership.ts';
import { timeDependence } from './schema.ts';
import { readSegment } from './service.ts';

const ATTEMPTS = 4;

export interface ReconcileResult {
  segments: number;
  added: number;
  removed: number;
}

/**
 * Brings one contact's memberships of every dynamic segment of its tenant in line with the contact as it is now.
 * Whatever the event said, the contact, its engagement and its memberships are read afresh, so redelivered and
 * reordered events converge on the same memberships; every write is conditioned on the contact's version and the
 * segment's evaluation read here, so a decision made on stale data is refused and taken again.
 */
export async function reconcileContact(
  tenantId: string,
  contactId: string,
  options: { engagementOnly?: boolean } = {},
): Promise<ReconcileResult> {
  for (let attempt = 1; ; attempt++) {
    let segments = await dynamicSegments(tenantId, attempt > 1);
    if (options.engagementOnly) segments = segments.filter((s) => s.readsEngagement);
    if (segments.length === 0) return { segments: 0, added: 0, removed: 0 };
    const contact = await readContact(tenantId, contactId);
    const engagement =
      contact && segments.some((s) => s.readsEngagement) ? await readEngagement(tenantId, contactId) : undefined;
    const members = await mapLimited(segments, 10, async (s) => {
      const { data } = await model.entities.segmentMember
        .get({ tenantId, segmentId: s.segmentId, contactId })
        .go({ consistent: true });
      return data !== null;
    });
    const ops = segments.flatMap((s, i) => decide(s, contactId, contact, engagement, members[i], 'filter').op ?? []);
    if (ops.length === 0) return { segments: segments.length, added: 0, removed: 0 };
    try {
      const outcomes = await applyMemberOps(tenantId, ops);
      if (outcomes.includes('contactChanged') && attempt < ATTEMPTS) continue;
      const changed = (action: string) => ops.filter((op, i) => op.action === action && outcomes[i] === 'changed');
      return { segments: segments.length, added: changed('add').length, removed: changed('remove').length };
    } catch (error) {
      if (!(error instanceof SegmentChangedError) || attempt >= ATTEMPTS) throw error;
      forgetSegments(tenantId);
    }
  }
}

export interface SweepScheduleTarget {
  scheduler: SchedulerClient;
  groupName: string;
  /** The backfill state machine, which a sweep runs in `sweep` mode; and the role Scheduler starts it with. */
  targetArn: string;
  roleArn: string;
}

export const sweepScheduleName = (tenantId: string, segmentId: string) =>
  hashedScheduleName('segment-sweep', tenantId, segmentId);

/**
 * A live dynamic segment whose filter has a time window ("opened within 30 days") changes as time passes without any
 * event, so it has one hourly Scheduler schedule that runs the backfill workflow in sweep mode; any other segment
 * has none. Kept in step by the consumer of the segment's own changes, reading the segment as it is now.
 */
export async function applySweepSchedule(target: SweepScheduleTarget, tenantId: string, segmentId: string) {
  forgetSegments(tenantId);
  const segment = await readSegment(tenantId, segmentId);
  const timed =
    segment && !segment.deletedAt && segment.kind === 'dynamic' && segment.filter
      ? timeDependence(segment.filter) !== 'none'
      : false;
  const name = sweepScheduleName(tenantId, segmentId);
  return applyOneTimeSchedule(
    target,
    name,
    timed
      ? {
          name,
          expression: 'rate(1 hour)',
          description: `Hourly re-evaluation of segment ${segmentId} (time windows)`,
          input: { tenantId, segmentId, mode: 'sweep' },
        }
      : undefined,
  );
}
