import * as z from 'zod';

/** The quota's environment (no database code here: the bench reads it from the template too). */
export const quotaConfigSchema = z.object({
  /** Requests per second per tenant (CDK context `tenantRateLimit`). */
  TENANT_RATE_LIMIT: z.coerce.number().positive().max(1_000_000).default(50),
  /** The fixed window, in seconds: the burst a tenant may spend at once is rate × window. */
  TENANT_QUOTA_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3600).default(10),
});
