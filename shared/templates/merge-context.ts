import { model } from '../db/store.ts';
import type { AddressFields, MergeContext } from './fields.ts';

/** The stored contact attributes a merge context is made from. */
export interface MergeContact {
  contactId: string;
  firstName?: string;
  lastName?: string;
  emails?: string[];
  phones?: string[];
  jobTitle?: string;
  lifecycleStage?: string;
  address?: AddressFields;
  customFields?: Record<string, unknown>;
  companyId?: string;
  ownerId?: string;
  deletedAt?: string;
  mergedInto?: string;
}

interface MergeCompany {
  companyId: string;
  name?: string;
  domains?: string[];
  industry?: string;
  size?: string;
  employeeCount?: number;
  address?: AddressFields;
  customFields?: Record<string, unknown>;
  deletedAt?: string;
  mergedInto?: string;
}

interface MergeOwner {
  userId: string;
  name?: string;
  email?: string;
  deletedAt?: string;
}

/** DynamoDB's BatchGetItem takes at most 100 keys. */
const BATCH_SIZE = 100;
const UNPROCESSED_RETRIES = 5;

type BatchEntity = {
  get(keys: Array<Record<string, string>>): {
    go(): Promise<{ data: unknown[]; unprocessed: Array<Record<string, string>> }>;
  };
};

/**
 * BatchGetItem in chunks of 100; keys DynamoDB leaves unprocessed (throttling) are asked again with backoff, and a
 * key still unprocessed after that is an error rather than a silently missing recipient.
 */
async function batchGet<T>(entity: BatchEntity, keys: Array<Record<string, string>>): Promise<T[]> {
  const found: T[] = [];
  for (let i = 0; i < keys.length; i += BATCH_SIZE) {
    let pending = keys.slice(i, i + BATCH_SIZE);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > UNPROCESSED_RETRIES) throw new Error(`BatchGetItem: ${pending.length} keys stayed unprocessed`);
      if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      const { data, unprocessed } = await entity.get(pending).go();
      found.push(...(data as T[]));
      pending = unprocessed;
    }
  }
  return found;
}

const live = (r: { deletedAt?: string; mergedInto?: string }) => !r.deletedAt && !r.mergedInto;

/**
 * Merge contexts of the given contacts: BatchGetItem for the contacts, then their companies and owners (each id
 * once), 100 keys a call, so a page of 100 recipients costs 3 requests, never one GetItem per recipient. Trashed or
 * merged contacts are left out of the map; a trashed company or owner is left out of the context.
 */
export async function loadMergeContexts(
  tenantId: string,
  contactIds: readonly string[],
): Promise<Map<string, MergeContext>> {
  const unique = [...new Set(contactIds)];
  const contacts = await batchGet<MergeContact>(
    model.entities.contact as unknown as BatchEntity,
    unique.map((contactId) => ({ tenantId, contactId })),
  );
  return mergeContextsFor(tenantId, contacts);
}

/**
 * One contact's merge context with GetItems (contact, then its company and owner side by side): what a preview
 * needs, within the API's tenant roles, which allow no batch actions. Undefined for a missing, trashed or merged one.
 */
export async function loadMergeContext(tenantId: string, contactId: string): Promise<MergeContext | undefined> {
  const { data } = await model.entities.contact.get({ tenantId, contactId }).go();
  const contact = data as MergeContact | null;
  if (!contact || !live(contact)) return undefined;
  const [company, owner] = await Promise.all([
    contact.companyId
      ? model.entities.company.get({ tenantId, companyId: contact.companyId }).go()
      : Promise.resolve({ data: null }),
    contact.ownerId
      ? model.entities.user.get({ tenantId, userId: contact.ownerId }).go()
      : Promise.resolve({ data: null }),
  ]);
  return contextOf(
    contact,
    (company.data as MergeCompany | null) ?? undefined,
    (owner.data as MergeOwner | null) ?? undefined,
  );
}

function contextOf(contact: MergeContact, company?: MergeCompany, owner?: MergeOwner): MergeContext {
  return {
    contact: contactFields(contact),
    ...(company && live(company) ? { company: companyFields(company) } : {}),
    ...(owner && live(owner) ? { owner: definedOnly({ name: owner.name, email: owner.email }) } : {}),
  };
}

/** Merge contexts for contacts already read (the campaign sender reads them for eligibility anyway). */
export async function mergeContextsFor(
  tenantId: string,
  contacts: readonly MergeContact[],
): Promise<Map<string, MergeContext>> {
  const kept = contacts.filter(live);
  const companyIds = [...new Set(kept.flatMap((c) => (c.companyId ? [c.companyId] : [])))];
  const ownerIds = [...new Set(kept.flatMap((c) => (c.ownerId ? [c.ownerId] : [])))];
  const [companies, owners] = await Promise.all([
    batchGet<MergeCompany>(
      model.entities.company as unknown as BatchEntity,
      companyIds.map((companyId) => ({ tenantId, companyId })),
    ),
    batchGet<MergeOwner>(
      model.entities.user as unknown as BatchEntity,
      ownerIds.map((userId) => ({ tenantId, userId })),
    ),
  ]);
  const companyById = new Map(companies.map((c) => [c.companyId, c]));
  const ownerById = new Map(owners.map((u) => [u.userId, u]));
  const contexts = new Map<string, MergeContext>();
  for (const contact of kept) {
    const company = contact.companyId ? companyById.get(contact.companyId) : undefined;
    const owner = contact.ownerId ? ownerById.get(contact.ownerId) : undefined;
    contexts.set(contact.contactId, contextOf(contact, company, owner));
  }
  return contexts;
}

export function contactFields(c: MergeContact): MergeContext['contact'] {
  const fullName = [c.firstName, c.lastName].filter(Boolean).join(' ');
  return definedOnly({
    firstName: c.firstName,
    lastName: c.lastName,
    fullName: fullName || undefined,
    email: c.emails?.[0],
    phone: c.phones?.[0],
    jobTitle: c.jobTitle,
    lifecycleStage: c.lifecycleStage,
    address: c.address,
    custom: c.customFields,
  });
}

function companyFields(c: MergeCompany): NonNullable<MergeContext['company']> {
  return definedOnly({
    name: c.name,
    domain: c.domains?.[0],
    industry: c.industry,
    size: c.size,
    employeeCount: c.employeeCount,
    address: c.address,
    custom: c.customFields,
  });
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
