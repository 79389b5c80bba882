import * as z from 'zod';
import {
  Address,
  AddressPatch,
  Audit,
  CustomFieldValues,
  Id,
  PageQuery,
  Tags,
  trashAndSyncFilters,
} from '../api/common-schemas.ts';
import { Location, nearFilters } from '../geo/schema.ts';

export const COMPANY_SIZES = ['1-10', '11-50', '51-200', '201-500', '501-1000', '1001-5000', '5001+'] as const;

/** A domain, also accepted as a URL (reduced to its host). */
export const Domain = z
  .string()
  .trim()
  .toLowerCase()
  .max(253)
  .transform((d) =>
    d
      .replace(/^https?:\/\//, '')
      .replace(/^www\./, '')
      .replace(/\/.*$/, ''),
  )
  .pipe(z.string().regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'Not a valid domain.'));

const companyFields = {
  name: z.string().trim().min(1).max(200),
  domains: z
    .array(Domain)
    .max(10, 'At most 10 domains.')
    .transform((list) => [...new Set(list)])
    .meta({ description: 'Web domains, e.g. "example.com" (a URL is reduced to its host).' }),
  industry: z.string().trim().max(100),
  size: z.enum(COMPANY_SIZES),
  employeeCount: z.number().int().min(0).max(10_000_000),
  ownerId: Id,
  tags: Tags,
  address: Address,
  location: Location,
  customFields: CustomFieldValues,
};

export const CompanyCreate = z
  .strictObject({ ...companyFields, name: companyFields.name })
  .partial()
  .required({ name: true })
  .meta({ id: 'CompanyCreate' });

export const CompanyPatch = z
  .strictObject({
    name: companyFields.name,
    domains: companyFields.domains.nullable(),
    industry: companyFields.industry.nullable(),
    size: companyFields.size.nullable(),
    employeeCount: companyFields.employeeCount.nullable(),
    ownerId: companyFields.ownerId.nullable(),
    tags: companyFields.tags.nullable(),
    address: AddressPatch,
    location: Location.nullable().meta({ description: 'Replaced as a whole (both lat and lon); null removes it.' }),
    customFields: CustomFieldValues.nullable(),
  })
  .partial()
  .meta({ id: 'CompanyPatch', description: 'JSON merge patch: null clears a field; objects merge.' });

export const Company = z
  .object({
    id: z.string(),
    name: z.string(),
    domains: z.array(z.string()),
    industry: z.string().optional(),
    size: z.enum(COMPANY_SIZES).optional(),
    employeeCount: z.number().optional(),
    ownerId: z.string().optional(),
    tags: z.array(z.string()),
    address: Address.optional(),
    location: Location.optional(),
    customFields: z.record(z.string(), z.unknown()),
    ...Audit,
  })
  .meta({ id: 'Company' });

/**
 * What lists by domain or tag return: the small, bounded summary each lookup item carries (see
 * shared/db/entities/lookup.ts), not the whole company. GET /v1/companies/{id} for the rest.
 */
export const CompanySummary = z
  .object({
    id: z.string(),
    name: z.string(),
    domain: z.string().optional().meta({ description: 'The primary (first) domain.' }),
    ownerId: z.string().optional(),
  })
  .meta({
    id: 'CompanySummary',
    description: 'A company in a list by domain or tag: its id and key fields. GET the company for the rest.',
  });

/** A list item: the whole company, or its summary in lists by domain or tag. */
export const CompanyListItem = z.union([Company, CompanySummary]);

export type CompanyView = z.infer<typeof Company>;
export type CompanySummaryView = z.infer<typeof CompanySummary>;
export type CompanyCreateInput = z.output<typeof CompanyCreate>;
export type CompanyPatchInput = z.output<typeof CompanyPatch>;

export const CompanyIdParams = z.object({ companyId: Id });

export const CompanyListQuery = z
  .strictObject({
    ...PageQuery,
    ownerId: Id.optional(),
    tag: z.string().trim().min(1).max(64).optional(),
    domain: Domain.optional().meta({ description: 'Exact domain, e.g. "example.com" (a URL is reduced to its host).' }),
    q: z.string().trim().min(1).max(100).optional().meta({ description: 'Name prefix.' }),
    ...trashAndSyncFilters('companies'),
    ...nearFilters('companies'),
  })
  .meta({ id: 'CompanyListQuery' });

export type CompanyListFilters = z.output<typeof CompanyListQuery>;
