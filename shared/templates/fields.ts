/**
 * The merge fields a marketing template may use, and the data they are filled from. A field is a dotted path:
 * `contact.firstName`, `company.address.city`, `owner.email`, `contact.custom.<key>` (a custom field declared in the
 * tenant's schema), or the links `unsubscribeUrl` / `preferencesUrl`. Anything else is an error when the template is
 * saved, never a blank in a sent mail.
 */

const ADDRESS = ['street', 'city', 'region', 'postalCode', 'country'] as const;
const address = (prefix: string) => ADDRESS.map((part) => `${prefix}.address.${part}`);

export const CONTACT_FIELDS = [
  'contact.firstName',
  'contact.lastName',
  'contact.fullName',
  'contact.email',
  'contact.phone',
  'contact.jobTitle',
  'contact.lifecycleStage',
  ...address('contact'),
] as const;

export const COMPANY_FIELDS = [
  'company.name',
  'company.domain',
  'company.industry',
  'company.size',
  'company.employeeCount',
  ...address('company'),
] as const;

export const OWNER_FIELDS = ['owner.name', 'owner.email'] as const;

export const LINK_FIELDS = ['unsubscribeUrl', 'preferencesUrl'] as const;

/** Every standard field (custom fields come on top, per tenant). */
export const STANDARD_FIELDS: readonly string[] = [
  ...CONTACT_FIELDS,
  ...COMPANY_FIELDS,
  ...OWNER_FIELDS,
  ...LINK_FIELDS,
];
const STANDARD = new Set(STANDARD_FIELDS);

/** The record kinds whose custom fields a template can use, as `<kind>.custom.<key>`. */
export const CUSTOM_FIELD_ROOTS = ['contact', 'company'] as const;
export type CustomFieldRoot = (typeof CUSTOM_FIELD_ROOTS)[number];

/** A custom field key as the custom-field schema allows it. */
const CUSTOM_KEY = /^[a-zA-Z][a-zA-Z0-9_]{0,63}$/;

/**
 * The tenant's declared custom field keys per record kind. Given, `contact.custom.x` must be declared; left out,
 * only the key's form is checked (callers that have validated the template on save, like the campaign sender).
 */
export interface DeclaredCustomFields {
  contact?: readonly string[];
  company?: readonly string[];
}

export interface AddressFields {
  street?: string;
  city?: string;
  region?: string;
  postalCode?: string;
  country?: string;
}

/** What a template is rendered with for one recipient. Absent values render empty (or their `default`). */
export interface MergeContext {
  contact: {
    firstName?: string;
    lastName?: string;
    fullName?: string;
    /** The primary (first) address. */
    email?: string;
    phone?: string;
    jobTitle?: string;
    lifecycleStage?: string;
    address?: AddressFields;
    custom?: Record<string, unknown>;
  };
  company?: {
    name?: string;
    domain?: string;
    industry?: string;
    size?: string;
    employeeCount?: number;
    address?: AddressFields;
    custom?: Record<string, unknown>;
  };
  owner?: { name?: string; email?: string };
  unsubscribeUrl?: string;
  preferencesUrl?: string;
}

/** Why a field (as segments) may not be used; undefined when it may. */
export function fieldProblem(segments: readonly unknown[], declared?: DeclaredCustomFields): string | undefined {
  if (segments.some((s) => typeof s !== 'string')) {
    return 'Merge fields are fixed paths like contact.firstName; computed names (contact[x]) or indexes are not allowed.';
  }
  const path = segments.join('.');
  if (STANDARD.has(path)) return undefined;
  const [root, custom, key, ...rest] = segments as string[];
  if ((root === 'contact' || root === 'company') && custom === 'custom' && key !== undefined && rest.length === 0) {
    if (!CUSTOM_KEY.test(key)) return `"${path}" is not a custom field key.`;
    const keys = declared?.[root];
    if (keys && !keys.includes(key))
      return `"${path}": no custom field "${key}" is declared for ${root === 'contact' ? 'contacts' : 'companies'}.`;
    return undefined;
  }
  if (root === 'contact' || root === 'company' || root === 'owner') {
    const known = STANDARD_FIELDS.filter((f) => f.startsWith(`${root}.`));
    return `Unknown merge field "${path}". ${root} fields: ${known.join(', ')}${root === 'owner' ? '' : `, ${root}.custom.<key>`}.`;
  }
  return `Unknown merge field "${path}". Fields start with contact., company. or owner., or are unsubscribeUrl or preferencesUrl.`;
}

/**
 * The liquid scope for a context: every standard field present (null when the recipient has no value, so strict
 * variables never fail on a missing value and `default` applies), and the custom fields the template uses.
 */
export function mergeScope(context: MergeContext, usedFields: readonly string[]): Record<string, unknown> {
  const scope: Record<string, unknown> = {
    contact: withAddress(context.contact, CONTACT_FIELDS),
    company: withAddress(context.company ?? {}, COMPANY_FIELDS),
    owner: pick(context.owner ?? {}, OWNER_FIELDS),
    unsubscribeUrl: context.unsubscribeUrl ?? null,
    preferencesUrl: context.preferencesUrl ?? null,
  };
  for (const root of CUSTOM_FIELD_ROOTS) {
    const values = (root === 'contact' ? context.contact.custom : context.company?.custom) ?? {};
    const custom: Record<string, unknown> = {};
    for (const field of usedFields) {
      const [r, c, key] = field.split('.');
      if (r === root && c === 'custom' && key) custom[key] = values[key] ?? null;
    }
    (scope[root] as Record<string, unknown>).custom = custom;
  }
  return scope;
}

function withAddress(values: object, fields: readonly string[]): Record<string, unknown> {
  const v = values as Record<string, unknown>;
  const out = pick(
    v,
    fields.filter((f) => !f.includes('.address.')),
  );
  const addr = (v.address ?? {}) as Record<string, unknown>;
  out.address = Object.fromEntries(ADDRESS.map((part) => [part, addr[part] ?? null]));
  return out;
}

function pick(values: object, fields: readonly string[]): Record<string, unknown> {
  const v = values as Record<string, unknown>;
  return Object.fromEntries(
    fields.map((f) => {
      const name = f.slice(f.indexOf('.') + 1);
      return [name, v[name] ?? null];
    }),
  );
}
