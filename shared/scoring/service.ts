import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { Principal } from '../auth/principal.ts';
import { replaceDocument } from '../db/documents.ts';
import { model } from '../db/store.ts';
import { PreconditionFailedError } from '../errors.ts';
import type { VersionPrecondition } from '../http/request.ts';
import { leadKind } from '../leads/service.ts';
import * as lifecycle from '../records/lifecycle.ts';
import type { ScoringRuleDefinition, ScoringRulesView } from './schema.ts';
import { addEngagements, computeScore, type Engagement, nextDecayPoint } from './score.ts';

export async function getScoringRules(tenantId: string): Promise<ScoringRulesView> {
  const { data } = await model.entities.scoringRules.get({ tenantId }).go();
  if (!data) {
    const epoch = new Date(0).toISOString();
    return { rules: [], version: 0, createdAt: epoch, updatedAt: epoch };
  }
  const { tenantId: _t, ...view } = data;
  return view as ScoringRulesView;
}

/** Replaces the rule set (If-Match on its version). Leads are rescored as their next event arrives. */
export async function putScoringRules(
  p: Principal,
  rules: ScoringRuleDefinition[],
  ifMatch: VersionPrecondition | undefined,
): Promise<ScoringRulesView> {
  const current = await getScoringRules(p.tenantId);
  if (ifMatch && !ifMatch.matches(current.version)) throw new PreconditionFailedError('scoringRules', 'rules');
  return replaceDocument({
    entity: 'scoringRules',
    tenantId: p.tenantId,
    current,
    values: { rules },
    actorId: p.userId,
    conflict: () => new PreconditionFailedError('scoringRules', 'rules'),
  });
}

/** Lead fields the scoring consumer writes: a change of only these (and version) is its own echo. */
export const SCORE_FIELDS = new Set(['score', 'scoreReasons', 'scoredAt', 'engagements', 'version']);

export interface EngagementEvent {
  detailType: string;
  detail: unknown;
  /** Identifies the event's subject (a submission, an activity): each rule counts it once. */
  key: string;
  at: string;
}

/**
 * Recomputes a lead's score from the tenant's rules (fit now, engagements decayed to now), adding what the event
 * earns, and stores score, reasons and engagements conditioned on the version read (retried on a race). Writes
 * nothing when neither the score, the reasons' rules nor the engagements changed, so an echo cannot loop. Returns
 * when decay alone will next move the score by a point, for the caller to schedule a recompute.
 */
export async function rescoreLead(
  tenantId: string,
  leadId: string,
  event?: EngagementEvent,
  now = Date.now(),
): Promise<{ written: boolean; score?: number; nextDecayAt?: number }> {
  const { rules } = await getScoringRules(tenantId);
  for (let attempt = 0; attempt < 5; attempt++) {
    const lead = await lifecycle.readStored(leadKind, tenantId, leadId);
    if (!lead || lead.deletedAt) return { written: false };
    const before = (lead.engagements as Engagement[] | undefined) ?? [];
    const engagements = event ? addEngagements(before, rules, event) : before;
    const { score, reasons } = computeScore(lead, rules, engagements, now);
    const nextDecayAt = nextDecayPoint(lead, rules, engagements, now);
    const sameRules = (list: unknown) => ((list as Array<{ ruleId: string }>) ?? []).map((r) => r.ruleId).join(',');
    if (
      engagements === before &&
      lead.score === score &&
      sameRules(lead.scoreReasons) === sameRules(reasons) &&
      (lead.scoreReasons !== undefined || reasons.length === 0)
    ) {
      return { written: false, score, ...(nextDecayAt ? { nextDecayAt } : {}) };
    }
    try {
      await model.entities.lead
        .patch({ tenantId, leadId })
        .set({
          score,
          scoreReasons: reasons,
          scoredAt: new Date(now).toISOString(),
          engagements,
          version: lead.version + 1,
        })
        .where((attr, op) => op.eq(attr.version, lead.version))
        .go({ response: 'none' });
      return { written: true, score, ...(nextDecayAt ? { nextDecayAt } : {}) };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException) && !isConditionFailure(error)) throw error;
    }
  }
  throw new Error(`lead ${leadId} kept changing while being scored`);
}

/** ElectroDB wraps the SDK's error; its cause says what DynamoDB answered. */
function isConditionFailure(error: unknown): boolean {
  const cause = (error as { cause?: unknown })?.cause;
  return cause instanceof ConditionalCheckFailedException || /ConditionalCheckFailed/.test(String(error));
}
