/**
 * Who may get a marketing mail, decided at send time from the contact as it is then (campaigns and sequences alike).
 * Consent must have been given (`consent.email === 'granted'`): marketing mail is opt-in. An unsubscribe from the
 * mail's category (or from everything: consent withdrawn) wins. Suppression (bounces, complaints) is per address and
 * checked apart (shared/suppression/store.ts).
 */
export type Ineligibility = 'deleted' | 'no_email' | 'unconsented' | 'unsubscribed';

export interface MarketingContact {
  contactId?: string;
  emails?: string[];
  deletedAt?: string;
  mergedInto?: string;
  consent?: { email?: string };
  /** Per category: { status: 'subscribed' | 'unsubscribed', updatedAt, source } (shared/subscriptions). */
  subscriptions?: Record<string, { status?: string } | undefined>;
}

export function marketingIneligibility(contact: MarketingContact, categoryId?: string): Ineligibility | undefined {
  if (contact.deletedAt || contact.mergedInto) return 'deleted';
  if (!contact.emails?.[0]) return 'no_email';
  if (contact.consent?.email === 'withdrawn') return 'unsubscribed';
  if (contact.consent?.email !== 'granted') return 'unconsented';
  if (categoryId && contact.subscriptions?.[categoryId]?.status === 'unsubscribed') return 'unsubscribed';
  return undefined;
}
