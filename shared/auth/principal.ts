import { UnauthorizedError } from '../errors.ts';
import { isRole, type Role } from './permissions.ts';

/** Who is calling: taken only from the verified JWT claims API Gateway hands the function. */
export interface Principal {
  tenantId: string;
  userId: string;
  email?: string;
  roles: Role[];
}

/**
 * Tenant ids become part of every key and of the tenant's IAM session tag, which the tenant-access policies match
 * with `dynamodb:LeadingKeys` patterns (`$crm#tenantId_<t>#*`, `<t>#*`). So they are restricted to an alphabet that
 * contains neither a key separator (`#`) nor anything IAM reads specially (`*`, `?`, `$`, `{`, `}`), and that is a
 * valid session tag value and role session name.
 */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function isTenantId(value: unknown): value is string {
  return typeof value === 'string' && TENANT_ID_PATTERN.test(value);
}

/**
 * API Gateway HTTP APIs pass JWT claims as strings; an array claim such as `cognito:groups` arrives as
 * "[admin sales]". Accept that, a JSON array string, a comma list, or a real array.
 */
export function parseListClaim(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== 'string') return [];
  const text = value.trim();
  if (text.startsWith('[') && text.endsWith(']')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) return parsed.map(String);
    } catch {
      // not JSON: API Gateway's "[a b]" form
    }
    return text
      .slice(1, -1)
      .split(/[\s,]+/)
      .filter(Boolean);
  }
  return text.split(/[\s,]+/).filter(Boolean);
}

export function principalFromClaims(claims: Record<string, unknown> | undefined): Principal {
  if (!claims) throw new UnauthorizedError();
  const tenantId = claims['custom:tenantId'];
  const userId = claims.sub;
  if (!isTenantId(tenantId)) {
    throw new UnauthorizedError(
      "The token carries no valid tenant: custom:tenantId must be 1 to 64 letters, digits, '_' or '-'.",
    );
  }
  if (typeof userId !== 'string' || userId.length === 0) throw new UnauthorizedError('The token carries no subject.');
  const roles = parseListClaim(claims['cognito:groups']).filter(isRole);
  const email = typeof claims.email === 'string' ? claims.email : undefined;
  return { tenantId, userId, roles, ...(email ? { email } : {}) };
}
