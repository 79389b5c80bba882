import { entities } from './model.ts';

/** The session tag that carries the tenant into IAM (`aws:PrincipalTag/tenantId`). */
export const TENANT_TAG = 'tenantId';

/**
 * The leading-key prefixes that belong to one tenant, as `dynamodb:LeadingKeys` patterns: every table partition key
 * (ElectroDB builds `$crm#tenantId_<t>#...` for every entity) and every GSI partition key (`<t>#...`, built in
 * ./keys.ts). The trailing `#` matters: tenant `acme`'s patterns do not match tenant `acme2`'s keys.
 */
export interface TenantKeyPatterns {
  table: string;
  index: string;
}

const MARKER = 'TENANTMARKER';

/**
 * Entities whose table key does not start with a tenant, each for a stated reason: an address claim
 * (shared/db/entities/mailbox.ts), because a mail address must be unique across tenants and the inbound handler finds
 * the tenant from it; a sender's share of the SES rate (shared/db/entities/send-rate.ts), because the rate is the AWS
 * account's quota, shared by every tenant's campaigns. No tenant-access role reaches these keys unless its group is
 * granted them by name (`globalKeys` in infra/constructs/tenant-access.ts).
 */
export const GLOBAL_KEY_ENTITIES = ['mailboxClaim', 'sendRateShare'] as const;
export type GlobalKeyEntity = (typeof GLOBAL_KEY_ENTITIES)[number];

/** The part of every entity's table partition key before the tenant id, derived from the entities themselves. */
function tablePrefixBeforeTenant(): string {
  const prefixes = new Set<string>();
  for (const [name, entity] of Object.entries(entities)) {
    if ((GLOBAL_KEY_ENTITIES as readonly string[]).includes(name)) continue;
    const indexes = entity.schema.indexes as unknown as Record<
      string,
      { index?: string; pk: { composite: string[] }; sk: { composite: string[] } }
    >;
    const primary = Object.values(indexes).find((index) => !index.index);
    if (!primary) throw new Error(`${entity.schema.model.entity} has no primary index`);
    if (primary.pk.composite[0] !== 'tenantId') {
      throw new Error(`${entity.schema.model.entity}: the table partition key must start with tenantId`);
    }
    const facets: Record<string, string> = {};
    for (const attribute of [...primary.pk.composite, ...primary.sk.composite]) facets[attribute] = 'x';
    facets.tenantId = MARKER;
    const get = entity.get as unknown as (f: Record<string, string>) => {
      params: (o: { table: string }) => { Key: { pk: string } };
    };
    const pk = get.call(entity, facets).params({ table: 'probe' }).Key.pk;
    const at = pk.indexOf(`${MARKER}#`);
    if (at < 0) throw new Error(`${entity.schema.model.entity}: no '#' after the tenant in its partition key ${pk}`);
    prefixes.add(pk.slice(0, at));
  }
  if (prefixes.size !== 1) throw new Error(`entities disagree on the table key prefix: ${[...prefixes].join(', ')}`);
  return [...prefixes][0]!;
}

let tablePrefix: string | undefined;

/** The patterns for a tenant id, or for an IAM policy variable such as `${aws:PrincipalTag/tenantId}`. */
export function tenantKeyPatterns(tenant: string): TenantKeyPatterns {
  tablePrefix ??= tablePrefixBeforeTenant();
  return { table: `${tablePrefix}${tenant}#*`, index: `${tenant}#*` };
}

/**
 * The same patterns as IAM policy text: the tenant is the session's tag, and a literal `$` is written `${$}`, so
 * `$crm#...` can never be read as the start of a policy variable.
 */
export function tenantKeyPolicyPatterns(): TenantKeyPatterns {
  const variable = `\${aws:PrincipalTag/${TENANT_TAG}}`;
  const { table, index } = tenantKeyPatterns(variable);
  const literalDollars = (text: string) => text.replace(/\$(?!\{aws:)/g, `\${$}`);
  return { table: literalDollars(table), index: literalDollars(index) };
}

/**
 * The `dynamodb:LeadingKeys` pattern of one entity's table keys across tenants (every composite a wildcard), e.g.
 * `$crm#tenantId_*#mailboxId_*`: for functions without a tenant that read one kind of item of any tenant.
 */
export function entityKeyPattern(name: keyof typeof entities, forPolicy = false): string {
  const pattern = markedPartitionKey(name).pk.replaceAll(MARKER, '*');
  return forPolicy ? pattern.replace(/\$/g, `\${$}`) : pattern;
}

/** An entity's table partition key with every composite attribute set to MARKER, and how many composites it has. */
function markedPartitionKey(name: keyof typeof entities): { pk: string; composites: number } {
  const entity = entities[name];
  const primary = Object.values(
    entity.schema.indexes as unknown as Record<
      string,
      { index?: string; pk: { composite: string[] }; sk?: { composite: string[] } }
    >,
  ).find((index) => !index.index)!;
  // The sort key's composites are set too (a get needs the whole key); the pattern is the partition key's.
  const composites = [...primary.pk.composite, ...(primary.sk?.composite ?? [])];
  const facets = Object.fromEntries(composites.map((attribute) => [attribute, MARKER]));
  const get = entity.get as unknown as (f: Record<string, string>) => {
    params: (o: { table: string }) => { Key: { pk: string } };
  };
  return { pk: get.call(entity, facets).params({ table: 'probe' }).Key.pk, composites: primary.pk.composite.length };
}

/**
 * The `dynamodb:LeadingKeys` pattern of every key of a global-key entity (e.g. `$crm#mailboxAddress_*`), derived from
 * the entity like the tenant patterns; with `${$}` for a literal `$` when `forPolicy`.
 */
export function globalKeyPattern(name: GlobalKeyEntity, forPolicy = false): string {
  const { pk, composites } = markedPartitionKey(name);
  if (composites !== 1 || !pk.endsWith(MARKER)) {
    throw new Error(`${name}: a global key must end with its one composite, got ${pk}`);
  }
  const pattern = `${pk.slice(0, -MARKER.length)}*`;
  return forPolicy ? pattern.replace(/\$/g, `\${$}`) : pattern;
}
