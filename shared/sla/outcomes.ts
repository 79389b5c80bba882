import type { Principal } from '../auth/principal.ts';
import { slaOutcomeIndex, slaOutcomeKeys } from '../db/keys.ts';
import { writeRecord } from '../db/store.ts';
import { DomainError } from '../errors.ts';
import { type Page, queryIndex } from '../records/lists.ts';
import type { SlaTargetName } from './escalation.ts';
import type { SlaOutcomeView, SlaPriority } from './schema.ts';

export interface SlaOutcomeInput {
  ticketId: string;
  target: SlaTargetName;
  outcome: 'achieved' | 'breached';
  dueAt: string;
  metAt?: string | undefined;
  policyId: string;
  priority: SlaPriority;
  teamId?: string | undefined;
  assigneeId?: string | undefined;
}

interface StoredSlaOutcome extends SlaOutcomeInput {
  tenantId: string;
  decidedAt: string;
  version: number;
  recordedAt: string;
}

class AlreadyRecorded extends DomainError {
  constructor() {
    super(409, 'slaOutcome.recorded', 'This target already has an outcome.');
  }
}

/**
 * Records how a ticket's target ended, once: the ticket workflow calls this when a target is met (achieved, or
 * breached if met late) or when its breach timer fires unmet. The first outcome stands; later calls (a redelivered
 * timer, a reopened ticket) return false and change nothing. Runs as the tenant (shared/db/tenant-context.ts).
 */
export async function recordSlaOutcome(tenantId: string, input: SlaOutcomeInput): Promise<boolean> {
  const decidedAt = input.outcome === 'achieved' && input.metAt ? input.metAt : input.dueAt;
  const item: StoredSlaOutcome = {
    ...input,
    tenantId,
    decidedAt,
    version: 1,
    recordedAt: new Date().toISOString(),
  };
  try {
    await writeRecord({
      entity: 'slaOutcome',
      item: { ...item, ...slaOutcomeKeys(item) },
      onVersionConflict: () => new AlreadyRecorded(),
    });
    return true;
  } catch (error) {
    if (error instanceof AlreadyRecorded) return false;
    throw error;
  }
}

const view = (stored: StoredSlaOutcome): SlaOutcomeView => ({
  ticketId: stored.ticketId,
  target: stored.target,
  outcome: stored.outcome,
  decidedAt: stored.decidedAt,
  dueAt: stored.dueAt,
  ...(stored.metAt ? { metAt: stored.metAt } : {}),
  policyId: stored.policyId,
  priority: stored.priority,
  ...(stored.teamId ? { teamId: stored.teamId } : {}),
  ...(stored.assigneeId ? { assigneeId: stored.assigneeId } : {}),
});

/** A month's outcomes in the order they were decided: one Query on the month's partition. */
export async function listSlaOutcomes(
  principal: Principal,
  query: { month: string; limit: number; cursor?: string | undefined },
): Promise<Page<SlaOutcomeView>> {
  const page = await queryIndex<StoredSlaOutcome>(
    'slaOutcome',
    'gsi3',
    slaOutcomeIndex.month(principal.tenantId, query.month),
    query,
  );
  return { items: page.items.map(view), nextCursor: page.nextCursor };
}
