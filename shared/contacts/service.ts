import { contactSubject, createWithAssignedOwner } from '../assignment/service.ts';
import type { Principal } from '../auth/principal.ts';
import { contactIndex, contactKeys, sortableName } from '../db/keys.ts';
import { ValidationError } from '../errors.ts';
import { nearSearch, queryNear } from '../geo/service.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import * as lifecycle from '../records/lifecycle.ts';
import { type Page, queryIndex, queryLookup, singleFilter } from '../records/lists.ts';
import { checkCategoryIds } from '../subscriptions/service.ts';
import { normalizePhoneQuery, normalizePhones } from './phones.ts';
import type {
  ContactCreateInput,
  ContactFilters,
  ContactPatchInput,
  ContactSummaryView,
  ContactView,
} from './schema.ts';
import { contactsOfCompany, contactView, toContactPage } from './view.ts';

type Consent = Partial<Record<'email' | 'sms' | 'phone' | 'updatedAt' | 'source' | 'campaignId', string>>;
const CHANNELS = ['email', 'sms', 'phone'] as const;

/**
 * Consent carries when it last changed and where from: stamped only when a channel's status actually changes (an
 * API change has source `api`; the public unsubscribe pages write their own stamps, shared/subscriptions).
 */
function consentStamped(next: Consent | undefined, before: Consent | undefined): { consent?: Consent } {
  if (!next) return {};
  const channels = Object.fromEntries(CHANNELS.filter((c) => next[c] !== undefined).map((c) => [c, next[c]]));
  if (Object.keys(channels).length === 0) return {};
  const previousChannels = Object.fromEntries(
    CHANNELS.filter((c) => before?.[c] !== undefined).map((c) => [c, before![c]]),
  );
  const changed = JSON.stringify(channels) !== JSON.stringify(previousChannels);
  if (changed || !before?.updatedAt) {
    return { consent: { ...channels, updatedAt: new Date().toISOString(), source: 'api' } };
  }
  const { updatedAt, source, campaignId } = before;
  return { consent: { ...channels, updatedAt, ...(source ? { source } : {}), ...(campaignId ? { campaignId } : {}) } };
}

type Subscriptions = Record<string, { status: string; updatedAt?: string; source?: string; campaignId?: string }>;

/** A category's choice is stamped (when, source `api`) only when its status changes. */
function subscriptionsStamped(next: Subscriptions | undefined, before: Subscriptions | undefined) {
  if (!next) return {};
  const now = new Date().toISOString();
  const stamped = Object.fromEntries(
    Object.entries(next).map(([id, { status }]) => {
      const previous = before?.[id];
      return [id, previous?.status === status ? previous : { status, updatedAt: now, source: 'api' }];
    }),
  );
  return { subscriptions: stamped };
}

/** Contacts known only by email sort by it, rather than all landing under "~". */
function nameOrEmail(firstName?: string, lastName?: string, email?: string): string {
  const name = sortableName(firstName, lastName);
  return name === '~' && email ? sortableName(email) : name;
}

export const contactKind: lifecycle.RecordKind = {
  ...contactView,
  derive(fields, previous) {
    const address = fields.address as { country?: string } | undefined;
    const phones = normalizePhones(fields.phones as string[] | undefined, address?.country);
    const emails = fields.emails as string[] | undefined;
    return {
      ...fields,
      ...(phones ? { phones } : {}),
      ...consentStamped(fields.consent as Consent | undefined, previous?.consent as Consent | undefined),
      ...subscriptionsStamped(
        fields.subscriptions as Subscriptions | undefined,
        previous?.subscriptions as Subscriptions | undefined,
      ),
      sortName: nameOrEmail(fields.firstName as string, fields.lastName as string, emails?.[0]),
    };
  },
  keys: (stored) => contactKeys(stored as unknown as Parameters<typeof contactKeys>[0]),
  lookups(stored) {
    const list = (k: string) => (stored[k] as string[] | undefined) ?? [];
    return [
      ...list('emails').map((value) => ({ kind: 'contact.email' as const, value })),
      ...list('phones').map((value) => ({ kind: 'contact.phone' as const, value })),
      ...list('tags').map((value) => ({ kind: 'contact.tag' as const, value })),
    ];
  },
  summary(stored) {
    const emails = stored.emails as string[] | undefined;
    return lifecycle.definedOnly({
      id: stored.contactId,
      firstName: stored.firstName,
      lastName: stored.lastName,
      email: emails?.[0],
      companyId: stored.companyId,
      ownerId: stored.ownerId,
      lifecycleStage: stored.lifecycleStage,
    });
  },
  references(stored, previous) {
    const companyId = stored.companyId as string | undefined;
    if (!companyId || companyId === previous?.companyId || stored.deletedAt) return [];
    return [
      {
        entity: 'company',
        key: { tenantId: stored.tenantId, companyId },
        error: new ValidationError('The company does not exist.', [
          { field: 'body.companyId', message: `No company ${companyId} (or it is in the trash).` },
        ]),
      },
    ];
  },
};

const asContact = (view: lifecycle.RecordView) => view as unknown as ContactView;

/** A contact created without an owner gets one from the assignment rules (shared/assignment), in its own write. */
export async function createContact(p: Principal, input: ContactCreateInput, idem?: ApiRequest['idempotency']) {
  await checkCategoryIds(p.tenantId, Object.keys(input.subscriptions ?? {}), (id) => `body.subscriptions.${id}`);
  return asContact(
    await createWithAssignedOwner(
      p.tenantId,
      contactSubject(input),
      input,
      (fields) => lifecycle.createRecord(contactKind, p, fields, idem),
      idem?.key,
    ),
  );
}

export const getContact = async (p: Principal, id: string) => asContact(await lifecycle.getRecord(contactKind, p, id));

export async function patchContact(p: Principal, id: string, patch: ContactPatchInput, ifMatch?: VersionPrecondition) {
  // A choice may only name a category the tenant has (null forgets one, whatever it was).
  const named = Object.entries(patch.subscriptions ?? {}).filter(([, choice]) => choice !== null);
  await checkCategoryIds(
    p.tenantId,
    named.map(([categoryId]) => categoryId),
    (categoryId) => `body.subscriptions.${categoryId}`,
  );
  return asContact(await lifecycle.patchRecord(contactKind, p, id, patch, ifMatch));
}

export const deleteContact = (p: Principal, id: string, ifMatch?: VersionPrecondition) =>
  lifecycle.deleteRecord(contactKind, p, id, ifMatch);

export const restoreContact = async (p: Principal, id: string, ifMatch?: VersionPrecondition) =>
  asContact(await lifecycle.restoreRecord(contactKind, p, id, ifMatch));

const FILTERS = [
  'ownerId',
  'lifecycleStage',
  'companyId',
  'tag',
  'email',
  'phone',
  'q',
  'updatedSince',
  'inTrash',
  'near',
] as const;

/**
 * Every filter is one Query on its own index (or on lookup items, whose lists hold contact summaries); no filter
 * means all contacts by name.
 */
export async function listContacts(
  p: Principal,
  filters: ContactFilters,
): Promise<Page<ContactView> | Page<ContactSummaryView>> {
  const t = p.tenantId;
  const page = { limit: filters.limit, cursor: filters.cursor };
  const near = nearSearch(filters);
  switch (singleFilter({ ...filters, near }, FILTERS)) {
    case 'near':
      return toContactPage(await queryNear('contact', t, near!.center, near!.radiusKm, page));
    case 'ownerId':
      return toContactPage(await queryIndex('contact', 'gsi1', contactIndex.owner(t, filters.ownerId!), page));
    case 'lifecycleStage':
      return toContactPage(await queryIndex('contact', 'gsi2', contactIndex.stage(t, filters.lifecycleStage!), page));
    case 'companyId':
      return contactsOfCompany(p, filters.companyId!, page);
    case 'tag':
      return queryLookup<ContactSummaryView>(t, 'contact.tag', filters.tag!.toLowerCase(), page);
    case 'email':
      return queryLookup<ContactSummaryView>(t, 'contact.email', filters.email!.toLowerCase(), page);
    case 'phone':
      return queryLookup<ContactSummaryView>(t, 'contact.phone', normalizePhoneQuery(filters.phone!), page);
    case 'q':
      return toContactPage(
        await queryIndex('contact', 'gsi4', contactIndex.name(t), page, { begins: sortableName(filters.q) }),
      );
    case 'updatedSince':
      return toContactPage(
        await queryIndex('contact', 'gsi5', contactIndex.sync(t), page, {
          gte: new Date(filters.updatedSince!).toISOString(),
        }),
      );
    case 'inTrash':
      return toContactPage(await queryIndex('contact', 'gsi4', contactIndex.trash(t), page, { order: 'desc' }));
    default:
      return toContactPage(await queryIndex('contact', 'gsi4', contactIndex.name(t), page));
  }
}
