import type { AssignmentRuleView, AssignmentSubject } from './schema.ts';

/** Region names compare case- and accent-insensitively ("Île-de-France" = "ile-de-france"). */
export const foldRegion = (region: string): string =>
  region
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[\s_-]+/g, ' ')
    .trim();

/** Postal codes compare without case, spaces or dashes ("SW1A 1AA" starts with "sw1a"). */
export const foldPostalCode = (code: string): string => code.toUpperCase().replace(/[\s-]+/g, '');

/**
 * Whether a rule applies to a record: its entity is one of the rule's, and every condition the rule gives holds
 * (any of the listed values). A condition on a field the record lacks does not hold.
 */
export function ruleMatches(rule: AssignmentRuleView, subject: AssignmentSubject): boolean {
  if (!rule.entities.includes(subject.entity)) return false;
  const { countries, regions, postalCodePrefixes, sources } = rule.conditions;
  if (countries && !(subject.country && countries.includes(subject.country.toUpperCase()))) return false;
  if (regions) {
    const region = subject.region ? foldRegion(subject.region) : undefined;
    if (!region || !regions.some((r) => foldRegion(r) === region)) return false;
  }
  if (postalCodePrefixes) {
    const code = subject.postalCode ? foldPostalCode(subject.postalCode) : '';
    if (!code || !postalCodePrefixes.some((p) => code.startsWith(foldPostalCode(p)))) return false;
  }
  if (sources) {
    const source = subject.source?.toLowerCase();
    if (!source || !sources.some((s) => s.toLowerCase() === source)) return false;
  }
  return true;
}

/** The first active rule that matches, in the tenant's order. */
export const firstMatchingRule = (
  rules: readonly AssignmentRuleView[],
  subject: AssignmentSubject,
): AssignmentRuleView | undefined => rules.find((rule) => rule.active && ruleMatches(rule, subject));
