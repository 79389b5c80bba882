import type { RoutingRuleView, RoutingSubject } from './schema.ts';

/** Lower-case, accents off, everything but letters and digits a single space: what keywords compare against. */
export const foldWords = (text: string): string =>
  text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();

const foldLabel = (text: string) => foldWords(text);

/** The domain of an address, lower-cased ("Ann@EU.Example.com" → "eu.example.com"). */
export const domainOf = (email: string): string | undefined => {
  const at = email.lastIndexOf('@');
  return at > 0 && at < email.length - 1 ? email.slice(at + 1).toLowerCase() : undefined;
};

/** "example.com" matches itself and its subdomains, never "badexample.com". */
const inDomain = (domain: string, rule: string) => domain === rule || domain.endsWith(`.${rule}`);

/** Whether `text` holds `keyword` as whole words (a phrase: consecutive words). */
export function hasKeyword(text: string, keyword: string): boolean {
  const phrase = foldWords(keyword);
  return phrase !== '' && ` ${text} `.includes(` ${phrase} `);
}

/**
 * Whether a rule's conditions hold for a ticket: every given condition (any of its values). A condition on what the
 * ticket lacks (no mailbox, no company, no category) does not hold.
 */
export function routingRuleMatches(rule: RoutingRuleView, ticket: RoutingSubject): boolean {
  const c = rule.conditions;
  if (c.channels && !c.channels.includes(ticket.channel as never)) return false;
  if (c.priorities && !c.priorities.includes(ticket.priority as never)) return false;
  if (c.mailboxIds && !(ticket.mailboxId && c.mailboxIds.includes(ticket.mailboxId))) return false;
  if (c.companyIds && !(ticket.companyId && c.companyIds.includes(ticket.companyId))) return false;
  if (c.categories) {
    const category = ticket.category ? foldLabel(ticket.category) : '';
    if (!category || !c.categories.some((x) => foldLabel(x) === category)) return false;
  }
  if (c.companyTiers) {
    const tier = ticket.companyTier ? foldLabel(ticket.companyTier) : '';
    if (!tier || !c.companyTiers.some((x) => foldLabel(x) === tier)) return false;
  }
  if (c.senderDomains) {
    const domains = (ticket.senderEmails ?? []).map(domainOf).filter((d): d is string => d !== undefined);
    if (!domains.some((d) => c.senderDomains!.some((rule) => inDomain(d, rule)))) return false;
  }
  if (c.keywords) {
    const text = foldWords(`${ticket.subject}\n${ticket.description ?? ''}`);
    if (!c.keywords.some((k) => hasKeyword(text, k))) return false;
  }
  return true;
}

/** The first active rule that matches, in the tenant's order. */
export const firstRoutingRule = (
  rules: readonly RoutingRuleView[],
  ticket: RoutingSubject,
): RoutingRuleView | undefined => rules.find((rule) => rule.active && routingRuleMatches(rule, ticket));

/** Whether any active rule looks at the ticket's company (so routing reads the company only when one does). */
export const needsCompany = (rules: readonly RoutingRuleView[]) =>
  rules.some((r) => r.active && (r.conditions.companyIds || r.conditions.companyTiers));

/** Whether any active rule looks at the requester's addresses (so routing reads the contact only when one does). */
export const needsRequester = (rules: readonly RoutingRuleView[]) =>
  rules.some((r) => r.active && (r.conditions.senderDomains || r.conditions.companyIds || r.conditions.companyTiers));
