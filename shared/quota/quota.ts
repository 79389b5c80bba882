import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { lazyConfig } from '../config.ts';
import { documentClient } from '../db/client.ts';
import { model } from '../db/store.ts';
import { logger } from '../observability.ts';
import { quotaConfigSchema } from './config.ts';

/**
 * Per-tenant request quota: a fixed window of `windowSeconds` holds `ratePerSecond × windowSeconds` requests per
 * tenant, shared by every Lambda container. The count lives in one item per tenant and window; a warm container
 * leases a block of `leaseSize` requests from it with one conditional UpdateItem (ADD) and admits requests from
 * its block without calling DynamoDB, so the extra cost is one small write per block. The condition never lets the
 * leased total pass the quota, so all containers together never admit more than the quota in a window; a block
 * left unused when the window ends is lost, so a tenant may be refused up to (leaseSize − 1) requests early per
 * other warm container. Once a window is spent the container answers 429 without calling DynamoDB until it ends.
 * As with any fixed window, a burst straddling two windows can see up to twice the quota within one window length.
 */
export interface QuotaSettings {
  ratePerSecond: number;
  windowSeconds: number;
  /** Requests leased per UpdateItem; default: 1/50 of the window's quota, between 1 and 20. */
  leaseSize?: number;
}

export type Admission = { admitted: true } | { admitted: false; retryAfterSeconds: number };

/** Where blocks are leased from: the table in production, the same table in tests (two "containers"). */
export interface LeaseStore {
  /** Leases up to `want` requests of the window, never taking the leased total past `limit`; returns how many. */
  lease(tenantId: string, windowStart: number, want: number, limit: number, expiresAt: number): Promise<number>;
}

type Refill = 'leased' | 'spent' | 'contended' | 'failed';

interface Holding {
  windowStart: number;
  remaining: number;
  /** The window's quota is spent: refuse until it ends. */
  spent: boolean;
  /** A lease in flight for this tenant; concurrent requests wait for it rather than lease again. */
  leasing?: Promise<void>;
}

/** Lease attempts per refill when other containers keep winning the race; then this one request is refused. */
const MAX_LEASE_ATTEMPTS = 5;
/** The TTL outlives the window a little, so clocks a few seconds apart never meet a deleted count. */
const TTL_MARGIN_SECONDS = 60;
const MAX_TENANTS_HELD = 10_000;

export class TenantQuota {
  readonly limit: number;
  readonly leaseSize: number;
  readonly windowMs: number;
  private readonly holdings = new Map<string, Holding>();

  constructor(
    settings: QuotaSettings,
    private readonly store: LeaseStore = dynamoLeaseStore,
    private readonly now: () => number = Date.now,
  ) {
    this.limit = Math.max(1, Math.floor(settings.ratePerSecond * settings.windowSeconds));
    this.leaseSize = Math.min(this.limit, settings.leaseSize ?? Math.max(1, Math.min(20, Math.floor(this.limit / 50))));
    this.windowMs = settings.windowSeconds * 1000;
  }

  /** Spends one request of the tenant's quota, or says how long until the next window. */
  async admit(tenantId: string): Promise<Admission> {
    for (;;) {
      const now = this.now();
      const windowStart = Math.floor(now / this.windowMs) * this.windowMs;
      let holding = this.holdings.get(tenantId);
      if (!holding || holding.windowStart !== windowStart) {
        holding = { windowStart, remaining: 0, spent: false };
        this.hold(tenantId, holding);
      }
      if (holding.remaining > 0) {
        holding.remaining -= 1;
        return { admitted: true };
      }
      if (holding.spent) {
        return {
          admitted: false,
          retryAfterSeconds: Math.max(1, Math.ceil((windowStart + this.windowMs - now) / 1000)),
        };
      }
      if (holding.leasing) {
        await holding.leasing;
        continue;
      }
      const attempt = this.refill(tenantId, holding);
      holding.leasing = attempt.then(() => undefined);
      let outcome: Refill;
      try {
        outcome = await attempt;
      } finally {
        holding.leasing = undefined;
      }
      if (outcome === 'failed') return { admitted: true };
      if (outcome === 'contended') return { admitted: false, retryAfterSeconds: 1 };
    }
  }

  /**
   * Leases a block into `holding`, or marks the window spent. 'failed' when the store failed: the request is let
   * through (fail open); 'contended' when other containers kept changing the count: this one request is refused.
   */
  private async refill(tenantId: string, holding: Holding): Promise<Refill> {
    const windowStartSeconds = holding.windowStart / 1000;
    const expiresAt = Math.ceil((holding.windowStart + this.windowMs) / 1000) + TTL_MARGIN_SECONDS;
    try {
      for (let attempt = 0; attempt < MAX_LEASE_ATTEMPTS; attempt++) {
        const granted = await this.store.lease(tenantId, windowStartSeconds, this.leaseSize, this.limit, expiresAt);
        if (granted > 0) {
          holding.remaining += granted;
          return 'leased';
        }
        if (granted === 0) {
          holding.spent = true;
          return 'spent';
        }
      }
      return 'contended';
    } catch (error) {
      // The quota protects shared capacity; it must not take the API down with it when DynamoDB stumbles.
      logger.warn('tenant quota lease failed; request admitted', { error: error as Error, tenantId });
      return 'failed';
    }
  }

  private hold(tenantId: string, holding: Holding): void {
    this.holdings.delete(tenantId);
    if (this.holdings.size >= MAX_TENANTS_HELD) this.holdings.delete(this.holdings.keys().next().value!);
    this.holdings.set(tenantId, holding);
  }
}

/**
 * Leases from the window's item: ADD `want` if that keeps the total within `limit`. When it would not, the failed
 * condition returns the item (ReturnValuesOnConditionCheckFailure), and what is left, if anything, is leased next.
 * Returns the number granted, 0 when the window is spent, or -1 when another container changed the count between
 * the two requests (the caller tries again).
 */
export const dynamoLeaseStore: LeaseStore = {
  async lease(tenantId, windowStart, want, limit, expiresAt) {
    let ask = want;
    for (let attempt = 0; attempt < 2; attempt++) {
      const params = model.entities.quotaWindow
        .update({ tenantId, windowStart })
        .add({ leased: ask })
        .set({ expiresAt })
        .where((attr, op) => `${op.notExists(attr.leased)} OR ${op.lte(attr.leased, limit - ask)}`)
        .params() as UpdateCommandInput;
      try {
        await documentClient.send(
          new UpdateCommand({ ...params, ReturnValues: 'NONE', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
        );
        return ask;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const leased = Number(error.Item?.leased?.N ?? limit);
        const left = limit - leased;
        if (left <= 0) return 0;
        ask = Math.min(want, left);
      }
    }
    return -1;
  },
};

const quotaConfig = lazyConfig(quotaConfigSchema);
let shared: TenantQuota | undefined;

/** This container's quota, configured from the environment on first use. */
export function tenantQuota(): TenantQuota {
  if (!shared) {
    const config = quotaConfig();
    shared = new TenantQuota({
      ratePerSecond: config.TENANT_RATE_LIMIT,
      windowSeconds: config.TENANT_QUOTA_WINDOW_SECONDS,
    });
  }
  return shared;
}

/** Forgets this container's leases, as a new container would start (tests that play several functions in one process). */
export function resetTenantQuota(): void {
  shared = undefined;
}
