import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import { TENANT_TAG } from './tenant-keys.ts';

/** Temporary credentials of one tenant's session (the SDK's AwsCredentialIdentity, with an expiry). */
export interface TenantCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** What an SDK client's `credentials` option accepts as a provider. */
export type CredentialsProvider = () => Promise<TenantCredentials>;

/** Gets fresh credentials scoped to a tenant (STS AssumeRole with the tenant as session tag, in production). */
export type AssumeTenantRole = (tenantId: string) => Promise<TenantCredentials>;

export interface TenantClientCacheOptions<C> {
  assume: AssumeTenantRole;
  /** Builds one tenant's client around its credential provider. */
  createClient: (credentials: CredentialsProvider, tenantId: string) => C;
  /** How many tenants' clients a warm container keeps (least recently used goes first). */
  maxTenants?: number;
  /** Credentials are renewed this long before they expire. */
  refreshMarginMs?: number;
  now?: () => number;
}

export const DEFAULT_MAX_TENANTS = 100;
export const DEFAULT_REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * One client per tenant, kept while the container is warm: each with its own credentials, assumed once and renewed
 * shortly before they expire (concurrent requests share one renewal), in a least-recently-used cache of bounded size.
 */
export class TenantClientCache<C> {
  private readonly clients = new Map<string, C>();
  private readonly maxTenants: number;
  private readonly refreshMarginMs: number;
  private readonly now: () => number;

  constructor(private readonly options: TenantClientCacheOptions<C>) {
    this.maxTenants = options.maxTenants ?? DEFAULT_MAX_TENANTS;
    this.refreshMarginMs = options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
    this.now = options.now ?? Date.now;
  }

  /** The tenant's client (created on first use); marks it most recently used. */
  clientFor(tenantId: string): C {
    let client = this.clients.get(tenantId);
    if (client !== undefined) {
      this.clients.delete(tenantId);
    } else {
      client = this.options.createClient(this.credentialsOf(tenantId), tenantId);
      if (this.clients.size >= this.maxTenants) this.clients.delete(this.clients.keys().next().value!);
    }
    this.clients.set(tenantId, client);
    return client;
  }

  /** Tenants with a cached client, least recently used first. */
  tenants(): string[] {
    return [...this.clients.keys()];
  }

  private credentialsOf(tenantId: string): CredentialsProvider {
    let current: { promise: Promise<TenantCredentials>; renewAt: number } | undefined;
    return () => {
      if (!current || this.now() >= current.renewAt) {
        const promise = this.options.assume(tenantId);
        const entry = { promise, renewAt: Number.POSITIVE_INFINITY };
        current = entry;
        promise.then(
          (credentials) => {
            entry.renewAt = credentials.expiration.getTime() - this.refreshMarginMs;
          },
          () => {
            // A failed assume is not cached: the next call tries again.
            if (current === entry) current = undefined;
          },
        );
      }
      return current.promise;
    };
  }
}

/** How long a tenant session lasts (the tenant roles' maximum session duration is the default, one hour). */
export const TENANT_SESSION_SECONDS = 3600;

/** Role session names allow `[\w+=,.@-]`, 2 to 64 characters; tenant ids are a subset of that alphabet. */
export function tenantSessionName(tenantId: string): string {
  return `tenant-${tenantId}`.slice(0, 64);
}

/** AssumeRole into the tenant-access role, tagging the session with the tenant (what its policy keys on). */
export function assumeTenantRoleWith(sts: STSClient, roleArn: string): AssumeTenantRole {
  return async (tenantId) => {
    const { Credentials: c } = await sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: tenantSessionName(tenantId),
        DurationSeconds: TENANT_SESSION_SECONDS,
        Tags: [{ Key: TENANT_TAG, Value: tenantId }],
      }),
    );
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new Error('STS AssumeRole returned no credentials');
    }
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiration: c.Expiration,
    };
  };
}
