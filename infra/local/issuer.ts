import { createHash, randomUUID, type webcrypto } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';

/**
 * A local OIDC-style issuer standing in for the Cognito user pool: it signs Cognito-ID-token-shaped JWTs with a key
 * pair kept under `<dataDir>/issuer/`, so tokens minted by `npm run token` survive a restart of the local cloud.
 * RS256, as Cognito signs (and as API Gateway JWT authorizers expect).
 */

const ALG = 'RS256';

/** What the running local cloud publishes at `<dataDir>/local-cloud.json` for tools such as `npm run token`. */
export interface LocalCloudInfo {
  apiUrl: string;
  /** The public web-to-lead API (form submissions). */
  formsApiUrl?: string;
  docsUrl: string;
  issuerUrl: string;
  /** The app client id the API's JWT authorizer accepts (the `aud` of minted tokens). */
  audience: string;
}

export function localCloudInfoPath(dataDir: string): string {
  return join(dataDir, 'local-cloud.json');
}

export async function writeLocalCloudInfo(dataDir: string, info: LocalCloudInfo): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const file = localCloudInfoPath(dataDir);
  // Write then rename, so a reader never sees half a file.
  await writeFile(`${file}.tmp`, `${JSON.stringify(info, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

/** The info the running local cloud wrote, or undefined when it has not been started. */
export async function readLocalCloudInfo(dataDir: string): Promise<LocalCloudInfo | undefined> {
  try {
    return JSON.parse(await readFile(localCloudInfoPath(dataDir), 'utf8')) as LocalCloudInfo;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export interface MintOptions {
  tenantId: string;
  /** The Cognito `sub`; defaults to a stable UUID derived from tenant and email. */
  userId?: string;
  email?: string;
  roles: string[];
  /** The app client id (`aud`). */
  audience: string;
  /** Seconds, or a jose time span such as '8h' or '30m'. Default one hour, as Cognito ID tokens. */
  expiresIn?: number | string;
  /** Extra claims, e.g. `scope` for an access-token-like token. */
  claims?: Record<string, unknown>;
}

/** Claims of a verified token, as the issuer signed them (arrays stay arrays). */
export type VerifiedClaims = JWTPayload & Record<string, unknown>;

export class LocalIssuer {
  private readonly jwkSet: ReturnType<typeof createLocalJWKSet>;

  private constructor(
    readonly issuerUrl: string,
    private readonly privateKey: webcrypto.CryptoKey,
    private readonly publicJwk: JWK,
  ) {
    this.jwkSet = createLocalJWKSet(this.jwks());
  }

  /** Loads the key pair from `<dataDir>/issuer/`, creating it on first use. */
  static async create(opts: { dataDir: string; issuerUrl: string }): Promise<LocalIssuer> {
    const dir = join(opts.dataDir, 'issuer');
    const file = join(dir, 'signing-key.jwk.json');
    let privateJwk: JWK;
    try {
      privateJwk = JSON.parse(await readFile(file, 'utf8')) as JWK;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      const pair = await generateKeyPair(ALG, { extractable: true, modulusLength: 2048 });
      privateJwk = await exportJWK(pair.privateKey);
      privateJwk.kid = await calculateJwkThumbprint(privateJwk);
      privateJwk.alg = ALG;
      await mkdir(dir, { recursive: true });
      // Exclusive create: when two processes race on first start, the loser reads the winner's key.
      try {
        await writeFile(file, JSON.stringify(privateJwk), { flag: 'wx', mode: 0o600 });
      } catch (writeError) {
        if ((writeError as NodeJS.ErrnoException).code !== 'EEXIST') throw writeError;
        privateJwk = JSON.parse(await readFile(file, 'utf8')) as JWK;
      }
    }
    const privateKey = (await importJWK(privateJwk, ALG)) as webcrypto.CryptoKey;
    const { kty, n, e, kid } = privateJwk;
    const publicJwk: JWK = { kty, n, e, kid, alg: ALG, use: 'sig' };
    return new LocalIssuer(opts.issuerUrl.replace(/\/+$/, ''), privateKey, publicJwk);
  }

  get keyId(): string {
    return this.publicJwk.kid ?? '';
  }

  /** The public key set, as served at `/.well-known/jwks.json`. */
  jwks(): JSONWebKeySet {
    return { keys: [{ ...this.publicJwk }] };
  }

  /** An OpenID discovery document for this issuer; `jwksUri` is where the key set is served. */
  openidConfiguration(jwksUri = `${this.issuerUrl}/.well-known/jwks.json`): Record<string, unknown> {
    return {
      issuer: this.issuerUrl,
      jwks_uri: jwksUri,
      response_types_supported: ['code', 'token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [ALG],
      scopes_supported: ['openid', 'email', 'profile'],
      claims_supported: ['sub', 'email', 'custom:tenantId', 'cognito:groups', 'token_use'],
    };
  }

  /** Mints a token shaped like a Cognito ID token. */
  async mint(opts: MintOptions): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const sub = opts.userId ?? stableUuid(`${opts.tenantId}:${opts.email ?? 'local-user'}`);
    const email = opts.email ?? `${sub}@local.test`;
    const ttl = opts.expiresIn ?? '1h';
    const jwt = new SignJWT({
      ...opts.claims,
      'custom:tenantId': opts.tenantId,
      'cognito:groups': opts.roles,
      'cognito:username': sub,
      email,
      email_verified: true,
      token_use: 'id',
      auth_time: now,
      origin_jti: randomUUID(),
    })
      .setProtectedHeader({ alg: ALG, kid: this.keyId })
      .setIssuer(this.issuerUrl)
      .setAudience(opts.audience)
      .setSubject(sub)
      .setIssuedAt(now)
      .setJti(randomUUID());
    // A number is a lifetime in seconds here (jose would read it as an absolute time).
    jwt.setExpirationTime(typeof ttl === 'number' ? now + ttl : ttl);
    return jwt.sign(this.privateKey);
  }

  /**
   * Verifies signature, issuer, expiry and not-before, and that `aud` (or `client_id`, as API Gateway also accepts)
   * is one of `audience`. Throws a jose error when the token is not acceptable.
   */
  async verify(token: string, audience: string | string[]): Promise<VerifiedClaims> {
    const audiences = Array.isArray(audience) ? audience : [audience];
    const { payload } = await jwtVerify(token, this.jwkSet, {
      issuer: this.issuerUrl,
      algorithms: [ALG],
      requiredClaims: ['exp'],
    });
    const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    const clientId = typeof payload.client_id === 'string' ? [payload.client_id] : [];
    if (audiences.length > 0 && ![...aud, ...clientId].some((a) => audiences.includes(a))) {
      throw new AudienceMismatchError(`token audience ${JSON.stringify(payload.aud)} is not accepted`);
    }
    return payload as VerifiedClaims;
  }
}

export class AudienceMismatchError extends Error {
  override name = 'AudienceMismatchError';
  readonly code = 'ERR_JWT_CLAIM_VALIDATION_FAILED';
}

/** A UUID-formatted id derived from a seed (Cognito subs are UUIDs; a stable one keeps local data consistent). */
function stableUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  const variant = ((Number.parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
