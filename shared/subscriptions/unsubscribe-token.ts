import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { TENANT_ID_PATTERN } from '../auth/principal.ts';
import { model } from '../db/store.ts';

/**
 * Signed links that act without a login: a marketing mail's one-click unsubscribe (RFC 8058) and its preference
 * page. The token names the tenant, the contact and what the mail was sent under, and is signed with the tenant's
 * own key (SigningKeyEntity): `<base64url(JSON payload)>.<base64url(HMAC-SHA256)>`. It holds no address (links get
 * logged) and does not expire: an unsubscribe link must keep working for as long as the mail exists.
 */
export interface UnsubscribeClaims {
  tenantId: string;
  contactId: string;
  /** The subscription category the mail was sent under, if any. */
  categoryId?: string;
  /** The campaign (or sequence step) that sent it, for the record of the consent change. */
  campaignId?: string;
}

interface Payload {
  v: 1;
  t: string;
  c: string;
  k?: string;
  m?: string;
}

const keyCache = new Map<string, Buffer>();
const KEY_CACHE_MAX = 1_000;

/**
 * The tenant's signing key; kept per container (a key never changes once created). Signing creates it on first use;
 * verifying passes `{ create: false }` and gets undefined for a tenant without one, so a public request naming any
 * tenant (a forged link) can never make the table grow.
 */
export async function tenantSigningKey(tenantId: string, options?: { create?: true }): Promise<Buffer>;
export async function tenantSigningKey(tenantId: string, options: { create: false }): Promise<Buffer | undefined>;
export async function tenantSigningKey(
  tenantId: string,
  { create = true }: { create?: boolean } = {},
): Promise<Buffer | undefined> {
  const cached = keyCache.get(tenantId);
  if (cached) return cached;
  const signingKey = model.entities.signingKey;
  let secret = (await signingKey.get({ tenantId }).go({ consistent: true })).data?.secret;
  if (!secret && !create) return undefined;
  if (!secret) {
    const fresh = randomBytes(32).toString('base64url');
    try {
      await signingKey.create({ tenantId, secret: fresh, createdAt: new Date().toISOString() }).go();
      secret = fresh;
    } catch (error) {
      // Another container created it first: use theirs.
      secret = (await signingKey.get({ tenantId }).go({ consistent: true })).data?.secret;
      if (!secret) throw error;
    }
  }
  const key = Buffer.from(secret, 'base64url');
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value!);
  keyCache.set(tenantId, key);
  return key;
}

const mac = (key: Buffer, payload: string) => createHmac('sha256', key).update(payload).digest();

export async function signUnsubscribeToken(claims: UnsubscribeClaims): Promise<string> {
  const payload: Payload = {
    v: 1,
    t: claims.tenantId,
    c: claims.contactId,
    ...(claims.categoryId ? { k: claims.categoryId } : {}),
    ...(claims.campaignId ? { m: claims.campaignId } : {}),
  };
  const encoded = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${encoded}.${mac(await tenantSigningKey(claims.tenantId), encoded).toString('base64url')}`;
}

const TOKEN_SHAPE = /^([A-Za-z0-9_-]{1,1024})\.([A-Za-z0-9_-]{43})$/;
const ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The claims of a genuine token, or undefined for anything else (malformed, unknown tenant shape, bad signature):
 * callers answer every failure the same way, so a probe learns nothing. Reads the tenant's key only once the token's
 * shape and tenant id are valid, and never creates one. A public caller must run it as the token's tenant
 * (`unverifiedTenant`), since the key is that tenant's item.
 */
/**
 * The tenant a token claims, unverified: only to pick whose scoped credentials verify it (the key is that tenant's
 * item). Undefined for anything not shaped like a token.
 */
export function unverifiedTenant(token: string): string | undefined {
  const match = TOKEN_SHAPE.exec(token);
  if (!match) return undefined;
  try {
    const t = (JSON.parse(Buffer.from(match[1]!, 'base64url').toString('utf8')) as Partial<Payload>)?.t;
    return typeof t === 'string' && TENANT_ID_PATTERN.test(t) ? t : undefined;
  } catch {
    return undefined;
  }
}

export async function verifyUnsubscribeToken(token: string): Promise<UnsubscribeClaims | undefined> {
  const match = TOKEN_SHAPE.exec(token);
  if (!match) return undefined;
  const [, encoded, signature] = match as unknown as [string, string, string];
  let payload: Payload;
  try {
    payload = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as Payload;
  } catch {
    return undefined;
  }
  if (payload?.v !== 1 || typeof payload.t !== 'string' || !TENANT_ID_PATTERN.test(payload.t)) return undefined;
  if (typeof payload.c !== 'string' || !ID.test(payload.c)) return undefined;
  if (payload.k !== undefined && (typeof payload.k !== 'string' || !ID.test(payload.k))) return undefined;
  if (payload.m !== undefined && (typeof payload.m !== 'string' || !ID.test(payload.m))) return undefined;
  const key = await tenantSigningKey(payload.t, { create: false });
  if (!key) return undefined;
  const expected = mac(key, encoded);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  return {
    tenantId: payload.t,
    contactId: payload.c,
    ...(payload.k ? { categoryId: payload.k } : {}),
    ...(payload.m ? { campaignId: payload.m } : {}),
  };
}
