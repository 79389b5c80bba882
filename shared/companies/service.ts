import type { Principal } from '../auth/principal.ts';
import { companyIndex, companyKeys, sortableName } from '../db/keys.ts';
import { nearSearch, queryNear } from '../geo/service.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import * as lifecycle from '../records/lifecycle.ts';
import { type Page, queryIndex, queryLookup, singleFilter } from '../records/lists.ts';
import type {
  CompanyCreateInput,
  CompanyListFilters,
  CompanyPatchInput,
  CompanySummaryView,
  CompanyView,
} from './schema.ts';

export const companyKind: lifecycle.RecordKind = {
  entity: 'company',
  idField: 'companyId',
  defaults: { domains: [], tags: [], customFields: {} },
  derive: (fields) => ({ ...fields, sortName: sortableName(fields.name as string) }),
  keys: (stored) => companyKeys(stored as unknown as Parameters<typeof companyKeys>[0]),
  lookups(stored) {
    const list = (k: string) => (stored[k] as string[] | undefined) ?? [];
    return [
      ...list('domains').map((value) => ({ kind: 'company.domain' as const, value })),
      ...list('tags').map((value) => ({ kind: 'company.tag' as const, value })),
    ];
  },
  summary(stored) {
    const domains = stored.domains as string[] | undefined;
    return lifecycle.definedOnly({
      id: stored.companyId,
      name: stored.name,
      domain: domains?.[0],
      ownerId: stored.ownerId,
    });
  },
  references: () => [],
};

const asCompany = (view: lifecycle.RecordView) => view as unknown as CompanyView;

export const createCompany = async (p: Principal, input: CompanyCreateInput, idem?: ApiRequest['idempotency']) =>
  asCompany(await lifecycle.createRecord(companyKind, p, input, idem));

export const getCompany = async (p: Principal, id: string) => asCompany(await lifecycle.getRecord(companyKind, p, id));

export const patchCompany = async (p: Principal, id: string, patch: CompanyPatchInput, ifMatch?: VersionPrecondition) =>
  asCompany(await lifecycle.patchRecord(companyKind, p, id, patch, ifMatch));

export const deleteCompany = (p: Principal, id: string, ifMatch?: VersionPrecondition) =>
  lifecycle.deleteRecord(companyKind, p, id, ifMatch);

export const restoreCompany = async (p: Principal, id: string, ifMatch?: VersionPrecondition) =>
  asCompany(await lifecycle.restoreRecord(companyKind, p, id, ifMatch));

const FILTERS = ['ownerId', 'tag', 'domain', 'q', 'updatedSince', 'inTrash', 'near'] as const;

/** One Query per filter; lists by tag or domain (served by lookup items) hold company summaries. */
export async function listCompanies(
  p: Principal,
  filters: CompanyListFilters,
): Promise<Page<CompanyView> | Page<CompanySummaryView>> {
  const t = p.tenantId;
  const page = { limit: filters.limit, cursor: filters.cursor };
  const asView = (r: Page<Record<string, unknown>>) => lifecycle.toViewPage<CompanyView>(companyKind, r);
  const near = nearSearch(filters);
  switch (singleFilter({ ...filters, near }, FILTERS)) {
    case 'near':
      return asView(await queryNear('company', t, near!.center, near!.radiusKm, page));
    case 'ownerId':
      return asView(await queryIndex('company', 'gsi1', companyIndex.owner(t, filters.ownerId!), page));
    case 'tag':
      return queryLookup<CompanySummaryView>(t, 'company.tag', filters.tag!.toLowerCase(), page);
    case 'domain':
      return queryLookup<CompanySummaryView>(t, 'company.domain', filters.domain!, page);
    case 'q':
      return asView(
        await queryIndex('company', 'gsi4', companyIndex.name(t), page, { begins: sortableName(filters.q) }),
      );
    case 'updatedSince':
      return asView(
        await queryIndex('company', 'gsi5', companyIndex.sync(t), page, {
          gte: new Date(filters.updatedSince!).toISOString(),
        }),
      );
    case 'inTrash':
      return asView(await queryIndex('company', 'gsi4', companyIndex.trash(t), page, { order: 'desc' }));
    default:
      return asView(await queryIndex('company', 'gsi4', companyIndex.name(t), page));
  }
}
