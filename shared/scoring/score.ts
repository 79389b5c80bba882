import type { EngagementRuleDefinition, FitRuleDefinition, ScoringRuleDefinition } from './schema.ts';

/** One counted engagement, stored on the lead: which rule, which event (dedup key), when, its points undecayed. */
export interface Engagement {
  ruleId: string;
  key: string;
  at: string;
  points: number;
  halfLifeDays?: number;
}

export interface ScoreReason {
  ruleId: string;
  kind: 'fit' | 'engagement';
  points: number;
  basePoints: number;
  at?: string;
  detail?: string;
}

/** Engagements kept per lead (newest): bounds the lead item whatever the event volume. */
export const MAX_ENGAGEMENTS = 100;

const DAY_MS = 86_400_000;

/** Dot-path read into an object (arrays are returned as they are). */
export function valueAt(source: unknown, path: string): unknown {
  let node = source;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

const norm = (v: unknown) => String(v).trim().toLowerCase();

export function fitMatches(rule: FitRuleDefinition, lead: Record<string, unknown>): boolean {
  const value = valueAt(lead, rule.field);
  const values = (
    Array.isArray(value) ? value : value === undefined || value === null || value === '' ? [] : [value]
  ).map(norm);
  const c = rule.condition;
  switch (c.op) {
    case 'exists':
      return values.length > 0;
    case 'equals':
      return values.includes(norm(c.value));
    case 'in':
      return c.values.some((v) => values.includes(norm(v)));
    case 'contains':
      return values.some((v) => v.includes(norm(c.value)));
  }
}

/** Points left of `points` after `ageMs` with a half-life (exponential decay; none: no decay). */
export function decayed(points: number, ageMs: number, halfLifeDays?: number): number {
  if (!halfLifeDays) return points;
  return points * 0.5 ** (Math.max(0, ageMs) / (halfLifeDays * DAY_MS));
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** Whether an event detail matches an engagement rule's type and conditions. */
export function engagementMatches(rule: EngagementRuleDefinition, detailType: string, detail: unknown): boolean {
  if (rule.event !== detailType) return false;
  return Object.entries(rule.where ?? {}).every(([path, expected]) => norm(valueAt(detail, path)) === norm(expected));
}

/**
 * Adds the engagements an event earns (once per rule and event key), newest kept, at most MAX_ENGAGEMENTS.
 * Returns the same array when nothing was added.
 */
export function addEngagements(
  current: Engagement[],
  rules: ScoringRuleDefinition[],
  event: { detailType: string; detail: unknown; key: string; at: string },
): Engagement[] {
  const added: Engagement[] = [];
  for (const rule of rules) {
    if (rule.kind !== 'engagement' || !engagementMatches(rule, event.detailType, event.detail)) continue;
    const key = `${rule.id}:${event.key}`;
    if (current.some((e) => e.key === key)) continue;
    added.push({
      ruleId: rule.id,
      key,
      at: event.at,
      points: rule.points,
      ...(rule.halfLifeDays ? { halfLifeDays: rule.halfLifeDays } : {}),
    });
  }
  if (added.length === 0) return current;
  return [...current, ...added].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)).slice(0, MAX_ENGAGEMENTS);
}

/**
 * The lead's score now and why: every fit rule that matches, and per engagement rule the sum of its engagements'
 * decayed points (the latest one's time as `at`). Engagements of rules since removed count no more. The score is
 * the rounded sum.
 */
export function computeScore(
  lead: Record<string, unknown>,
  rules: ScoringRuleDefinition[],
  engagements: Engagement[],
  now = Date.now(),
): { score: number; reasons: ScoreReason[] } {
  const reasons: ScoreReason[] = [];
  for (const rule of rules) {
    if (rule.kind === 'fit') {
      if (fitMatches(rule, lead)) {
        reasons.push({
          ruleId: rule.id,
          kind: 'fit',
          points: rule.points,
          basePoints: rule.points,
          detail: rule.field,
        });
      }
      continue;
    }
    const mine = engagements.filter((e) => e.ruleId === rule.id);
    if (mine.length === 0) continue;
    // The rule's current half-life applies, so changing it re-weighs past engagements too.
    const points = mine.reduce((sum, e) => sum + decayed(rule.points, now - Date.parse(e.at), rule.halfLifeDays), 0);
    const latest = mine.reduce((a, b) => (a.at > b.at ? a : b));
    reasons.push({
      ruleId: rule.id,
      kind: 'engagement',
      points: round2(points),
      basePoints: rule.points * mine.length,
      at: latest.at,
      detail: `${mine.length} × ${rule.event}`,
    });
  }
  const score = Math.round(reasons.reduce((sum, r) => sum + r.points, 0));
  return { score, reasons };
}

/**
 * When the score next changes by decay alone by at least one point (rounded), or undefined when it will not
 * (no decaying engagement left worth a point): the time to recompute it. Searched in doubling steps, then bisected,
 * capped at a year.
 */
export function nextDecayPoint(
  lead: Record<string, unknown>,
  rules: ScoringRuleDefinition[],
  engagements: Engagement[],
  now = Date.now(),
): number | undefined {
  const decaying = rules.some(
    (r) => r.kind === 'engagement' && r.halfLifeDays && engagements.some((e) => e.ruleId === r.id),
  );
  if (!decaying) return undefined;
  const at = (t: number) => computeScore(lead, rules, engagements, t).score;
  const base = at(now);
  let step = 60 * 60_000;
  const limit = now + 365 * DAY_MS;
  let hi = now + step;
  while (at(hi) === base) {
    if (hi >= limit) return undefined;
    step *= 2;
    hi = Math.min(now + step, limit);
  }
  let lo = now;
  while (hi - lo > 60_000) {
    const mid = Math.floor((lo + hi) / 2);
    if (at(mid) === base) lo = mid;
    else hi = mid;
  }
  return hi;
}
