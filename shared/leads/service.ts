import { createWithAssignedOwner, leadSubject } from '../assignment/service.ts';
import type { Principal } from '../auth/principal.ts';
import { companyKind } from '../companies/service.ts';
import { normalizePhones } from '../contacts/phones.ts';
import { contactKind } from '../contacts/service.ts';
import { findIdempotentResponse } from '../db/idempotency.ts';
import { leadIndex, leadKeys, sortableName } from '../db/keys.ts';
import { type ItemWrite, type RecordWrite, writeRecords } from '../db/store.ts';
import { type PlannedDealWrite, planDealCreate } from '../deals/service.ts';
import { ConflictError, DomainError, IdempotentReplay, NotFoundError, ValidationError } from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import * as lifecycle from '../records/lifecycle.ts';
import { type Page, type PageRequest, queryIndex, queryLookup, singleFilter } from '../records/lists.ts';
import { timeline } from '../timeline/service.ts';
import type {
  LeadConvertDeal,
  LeadConvertInput,
  LeadCreateInput,
  LeadFilters,
  LeadPatchInput,
  LeadSummaryView,
  LeadView,
} from './schema.ts';

type LeadCompany = {
  name?: string;
  domain?: string;
  website?: string;
  size?: string;
  industry?: string;
  address?: Record<string, string>;
};

/** Leads known only by email or company sort by that, rather than all landing under "~". */
function leadSortName(fields: Record<string, unknown>): string {
  const name = sortableName(fields.firstName as string, fields.lastName as string);
  if (name !== '~') return name;
  const email = (fields.emails as string[] | undefined)?.[0];
  if (email) return sortableName(email);
  return sortableName((fields.company as LeadCompany | undefined)?.name);
}

export const leadView = {
  entity: 'lead' as const,
  idField: 'leadId' as const,
  defaults: { emails: [], phones: [], tags: [], customFields: {} },
};

/** Scoring bookkeeping: stored on the lead, kept through patches, never shown. */
const HIDDEN = ['engagements'] as const;

export const leadKind: lifecycle.RecordKind = {
  ...leadView,
  derive(fields, previous) {
    if (previous?.status === 'converted' && fields.status !== 'converted') {
      throw new DomainError(409, 'lead.converted', 'A converted lead keeps its status.');
    }
    if (fields.status === 'disqualified' && !fields.disqualifiedReason) {
      throw new ValidationError('A disqualified lead needs a reason.', [
        { field: 'body.disqualifiedReason', message: 'Say why the lead is disqualified.' },
      ]);
    }
    const company = fields.company as LeadCompany | undefined;
    const phones = normalizePhones(fields.phones as string[] | undefined, company?.address?.country);
    return {
      ...fields,
      ...(phones ? { phones } : {}),
      ...(previous?.engagements !== undefined && fields.engagements === undefined
        ? { engagements: previous.engagements }
        : {}),
      sortName: leadSortName(fields),
    };
  },
  keys: (stored) => leadKeys(stored as unknown as Parameters<typeof leadKeys>[0]),
  lookups(stored) {
    const list = (k: string) => (stored[k] as string[] | undefined) ?? [];
    return [
      ...list('emails').map((value) => ({ kind: 'lead.email' as const, value })),
      ...list('tags').map((value) => ({ kind: 'lead.tag' as const, value })),
    ];
  },
  summary(stored) {
    return lifecycle.definedOnly({
      id: stored.leadId,
      firstName: stored.firstName,
      lastName: stored.lastName,
      email: (stored.emails as string[] | undefined)?.[0],
      companyName: (stored.company as LeadCompany | undefined)?.name,
      status: stored.status,
      ownerId: stored.ownerId,
    });
  },
  references: () => [],
  defaults: leadView.defaults,
};

/** The API view: scoring bookkeeping left out. */
export function asLead(view: lifecycle.RecordView): LeadView {
  const shown = { ...view };
  for (const field of HIDDEN) delete shown[field];
  return shown as unknown as LeadView;
}

/** A lead created without an owner gets one from the assignment rules (by its company's address and its source). */
export async function createLead(p: Principal, input: LeadCreateInput, idem?: ApiRequest['idempotency']) {
  const fields = { source: 'api' as const, status: 'new' as const, ...input };
  return asLead(
    await createWithAssignedOwner(
      p.tenantId,
      leadSubject(fields),
      fields,
      (assigned) => lifecycle.createRecord(leadKind, p, assigned, idem),
      idem?.key,
    ),
  );
}

export const getLead = async (p: Principal, id: string) => asLead(await lifecycle.getRecord(leadKind, p, id));

export const patchLead = async (p: Principal, id: string, patch: LeadPatchInput, ifMatch?: VersionPrecondition) =>
  asLead(await lifecycle.patchRecord(leadKind, p, id, patch, ifMatch));

export const deleteLead = (p: Principal, id: string, ifMatch?: VersionPrecondition) =>
  lifecycle.deleteRecord(leadKind, p, id, ifMatch);

export const restoreLead = async (p: Principal, id: string, ifMatch?: VersionPrecondition) =>
  asLead(await lifecycle.restoreRecord(leadKind, p, id, ifMatch));

const toLeadPage = (page: Page<Record<string, unknown>>): Page<LeadView> => {
  const views = lifecycle.toViewPage<lifecycle.RecordView>(leadView, page);
  return { items: views.items.map(asLead), nextCursor: views.nextCursor };
};

const FILTERS = ['ownerId', 'status', 'source', 'tag', 'email', 'q', 'updatedSince', 'inTrash'] as const;

/** Every filter is one Query on its own index (or on lookup items, whose lists hold summaries). */
export async function listLeads(p: Principal, filters: LeadFilters): Promise<Page<LeadView> | Page<LeadSummaryView>> {
  const t = p.tenantId;
  const page = { limit: filters.limit, cursor: filters.cursor };
  switch (singleFilter(filters, FILTERS)) {
    case 'ownerId':
      return toLeadPage(await queryIndex('lead', 'gsi1', leadIndex.owner(t, filters.ownerId!), page));
    case 'status':
      return toLeadPage(await queryIndex('lead', 'gsi2', leadIndex.status(t, filters.status!), page));
    case 'source':
      return toLeadPage(await queryIndex('lead', 'gsi3', leadIndex.source(t, filters.source!), page));
    case 'tag':
      return queryLookup<LeadSummaryView>(t, 'lead.tag', filters.tag!.toLowerCase(), page);
    case 'email':
      return queryLookup<LeadSummaryView>(t, 'lead.email', filters.email!.toLowerCase(), page);
    case 'q':
      return toLeadPage(await queryIndex('lead', 'gsi4', leadIndex.name(t), page, { begins: sortableName(filters.q) }));
    case 'updatedSince':
      return toLeadPage(
        await queryIndex('lead', 'gsi5', leadIndex.sync(t), page, {
          gte: new Date(filters.updatedSince!).toISOString(),
        }),
      );
    case 'inTrash':
      return toLeadPage(await queryIndex('lead', 'gsi4', leadIndex.trash(t), page, { order: 'desc' }));
    default:
      return toLeadPage(await queryIndex('lead', 'gsi4', leadIndex.name(t), page));
  }
}

/** The lead's timeline (form submissions, later activities), newest first: one Query of gsi6. */
export async function leadTimeline(p: Principal, id: string, page: PageRequest) {
  const lead = await lifecycle.readStored(leadKind, p.tenantId, id);
  if (!lead || lead.deletedAt) throw new NotFoundError('lead', id);
  return timeline(p, 'lead', id, page);
}

// --- Conversion ---------------------------------------------------------------------------------------------

/**
 * The deal a conversion creates, linked to the contact and company converted. Its reference checks are dropped:
 * both are created or checked in the same transaction, and DynamoDB allows one operation per item.
 */
async function planConvertedDeal(
  principal: Principal,
  deal: LeadConvertDeal,
  links: { contactId: string; companyId?: string | undefined; ownerId?: string | undefined },
): Promise<PlannedDealWrite> {
  try {
    const planned = await planDealCreate(principal, {
      ...deal,
      ownerId: deal.ownerId ?? links.ownerId,
      contactIds: [links.contactId],
      ...(links.companyId ? { companyId: links.companyId } : {}),
    });
    planned.write.references = [];
    return planned;
  } catch (error) {
    // The deal's field errors name its fields in the conversion's body.
    if (error instanceof DomainError && error.extra.fieldErrors) {
      error.extra.fieldErrors = error.extra.fieldErrors.map((f) => ({
        ...f,
        field: f.field.replace(/^body\./, 'body.deal.'),
      }));
    }
    throw error;
  }
}

const alreadyConverted = (id: string) =>
  new DomainError(409, 'lead.already_converted', `Lead ${id} has already been converted.`);

/** The contact a lead becomes: its person fields, its consent, its owner. */
function contactFieldsOf(lead: lifecycle.Stored): Record<string, unknown> {
  const consent = lead.consent as { email?: string } | undefined;
  return lifecycle.definedOnly({
    firstName: lead.firstName,
    lastName: lead.lastName,
    emails: lead.emails,
    phones: lead.phones,
    jobTitle: lead.title,
    ownerId: lead.ownerId,
    tags: lead.tags,
    lifecycleStage: 'sales_qualified',
    ...(consent?.email === 'granted' ? { consent: { email: 'granted' } } : {}),
  });
}

function hostOf(website: string | undefined): string | undefined {
  if (!website) return undefined;
  try {
    return new URL(website).hostname.replace(/^www\./, '') || undefined;
  } catch {
    return undefined;
  }
}

/** The company a lead's company fields describe (name required). */
function companyFieldsOf(lead: lifecycle.Stored): Record<string, unknown> | undefined {
  const company = lead.company as LeadCompany | undefined;
  if (!company?.name) return undefined;
  const domain = company.domain ?? hostOf(company.website);
  return lifecycle.definedOnly({
    name: company.name,
    domains: domain ? [domain] : undefined,
    industry: company.industry,
    size: company.size,
    address: company.address,
    ownerId: lead.ownerId,
  });
}

const mustExist = (entity: 'contact' | 'company', tenantId: string, id: string): ItemWrite => ({
  check: entity,
  key: { tenantId, [`${entity}Id`]: id },
  error: new ValidationError(`The ${entity} does not exist.`, [
    { field: `body.${entity}.id`, message: `No ${entity} ${id} (or it is in the trash).` },
  ]),
});

/**
 * Converts a lead in ONE transaction: the contact (linked or created), the company (linked, created or none), the
 * deal when asked, and the lead itself (status converted, pointing at what it became), conditioned on the version
 * read, so two conversions racing cannot both win.
 */
export async function convertLead(
  p: Principal,
  leadId: string,
  input: LeadConvertInput,
  idempotency?: ApiRequest['idempotency'],
) {
  const t = p.tenantId;
  const lead = await lifecycle.readStored(leadKind, t, leadId);
  if (!lead || lead.deletedAt) throw new NotFoundError('lead', leadId);
  if (lead.status === 'converted') {
    // A retry of the conversion that did it replays its answer; any other is refused.
    if (idempotency && (await findIdempotentResponse(p, idempotency.key))) throw new IdempotentReplay(idempotency.key);
    throw alreadyConverted(leadId);
  }

  const writes: RecordWrite[] = [];
  const checks: ItemWrite[] = [];

  let companyId: string | undefined;
  const companyChoice = input.company ?? (companyFieldsOf(lead) ? { create: true as const } : 'none');
  if (companyChoice !== 'none' && 'id' in companyChoice) {
    companyId = companyChoice.id;
    checks.push(mustExist('company', t, companyId));
  } else if (companyChoice !== 'none') {
    const fields = companyFieldsOf(lead);
    if (!fields) {
      throw new ValidationError('The lead has no company name to create a company from.', [
        { field: 'body.company', message: 'Give a company id, "none", or set the lead\'s company.name first.' },
      ]);
    }
    const planned = await lifecycle.planCreate(companyKind, p, fields);
    companyId = planned.view.id;
    writes.push(planned.write);
  }

  let contactId: string;
  if ('id' in input.contact) {
    contactId = input.contact.id;
    checks.push(mustExist('contact', t, contactId));
  } else {
    const planned = await lifecycle.planCreate(contactKind, p, {
      ...contactFieldsOf(lead),
      ...(companyId ? { companyId } : {}),
    });
    contactId = planned.view.id;
    // The company is either created in this transaction or checked by mustExist above; checking it again from the
    // contact would be a second operation on one item, which DynamoDB refuses for the whole transaction.
    if (companyId) planned.write.references = [];
    writes.push(planned.write);
  }

  let dealId: string | undefined;
  if (input.deal) {
    const deal = await planConvertedDeal(p, input.deal, {
      contactId,
      companyId,
      ownerId: lead.ownerId as string | undefined,
    });
    dealId = deal.view.id;
    writes.push(deal.write);
    checks.push(...deal.items);
  }

  const now = new Date().toISOString();
  const next: lifecycle.Stored = {
    ...lead,
    status: 'converted',
    convertedContactId: contactId,
    ...(companyId ? { convertedCompanyId: companyId } : {}),
    ...(dealId ? { convertedDealId: dealId } : {}),
    convertedAt: now,
    convertedBy: p.userId,
    version: lead.version + 1,
    updatedAt: now,
    updatedBy: p.userId,
  };
  const { write: leadWrite, view } = lifecycle.planWrite(leadKind, p, next, lead);
  const result = {
    lead: asLead(view),
    contactId,
    ...(companyId ? { companyId } : {}),
    ...(dealId ? { dealId } : {}),
  };
  const raced = new ConflictError('lead.version_conflict', 'The lead changed while converting.');
  leadWrite.onVersionConflict = () => raced;
  if (idempotency) leadWrite.idempotency = { tenantId: t, ...idempotency, statusCode: 200, response: result };
  writes.push(leadWrite);

  try {
    await writeRecords(writes, checks);
  } catch (error) {
    if (error !== raced) throw error;
    const now = await lifecycle.readStored(leadKind, t, leadId);
    if (now?.status === 'converted') throw alreadyConverted(leadId);
    throw new ConflictError('request.conflict', 'The lead changed while converting; retry.');
  }
  return result;
}
