import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient, type TranslateConfig } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { lazyConfig, readConfig, tableConfigSchema } from '../config.ts';
import { assumeTenantRoleWith, TenantClientCache } from './tenant-clients.ts';
import { currentTenant } from './tenant-context.ts';

/**
 * One client per container, created at module load (cold start) and reused; configuration is read on first use. The
 * endpoint comes from the SDK's standard AWS_ENDPOINT_URL_DYNAMODB variable, which the local cloud sets: no "if local".
 */
const tableConfig = lazyConfig(tableConfigSchema);

/** The table's name (TABLE_NAME), read on first use. */
export const tableName = (): string => tableConfig().TABLE_NAME;

const translateConfig: TranslateConfig = {
  marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
};

/** The function's own credentials: what stream and event consumers (no tenant) use. */
/** The function's own credentials: what stream and event consumers (no tenant) use. */
export const dynamoClient = new DynamoDBClient({ maxAttempts: 3 });

/**
 * TENANT_ROLE_ARN: the tenant-access role of this function (API functions that serve tenant data). Its policy allows
 * only keys that start with the session's `tenantId` tag. Without it (consumers, tests, tools) every call uses the
 * function's own credentials.
 */
export const tenantAccessConfigSchema = z.object({
  TENANT_ROLE_ARN: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'must be an IAM role ARN')
    .optional(),
});

let tenantClients: TenantClientCache<DynamoDBDocumentClient> | null | undefined;

/** Read on first use (not at load): the tenants' clients, or null when no tenant role is configured. */
function tenantClientCache(): TenantClientCache<DynamoDBDocumentClient> | null {
  if (tenantClients !== undefined) return tenantClients;
  const roleArn = readConfig(tenantAccessConfigSchema).TENANT_ROLE_ARN;
  tenantClients = roleArn
    ? new TenantClientCache({
        // STS (AWS_ENDPOINT_URL_STS locally) is called with the function's own credentials.
        assume: assumeTenantRoleWith(new STSClient({ maxAttempts: 3 }), roleArn),
        createClient: (credentials) =>
          DynamoDBDocumentClient.from(
            // Same retries, and the same connection pool as the function's client: only the signature differs.
            new DynamoDBClient({ maxAttempts: 3, credentials, requestHandler: dynamoClient.config.requestHandler }),
            translateConfig,
          ),
      })
    : null;
  return tenantClients;
}

/** Forgets the tenants' clients and re-reads TENANT_ROLE_ARN on next use (tests). */
export function resetTenantClients(): void {
  tenantClients = undefined;
}

/**
 * The document client ElectroDB and the store use. Every call goes through `send`, which picks the client of the
 * current request's tenant (see runAsTenant in ./tenant-context.ts) when a tenant role is configured, else the
 * function's own: store and model code never choose credentials.
 */
class TenantScopedDocumentClient extends DynamoDBDocumentClient {
  static create(): TenantScopedDocumentClient {
    return new TenantScopedDocumentClient(dynamoClient, translateConfig);
  }

  // biome-ignore lint/suspicious/noExplicitAny: forwards the SDK's overloaded send() unchanged.
  override send(command: any, optionsOrCb?: any, cb?: any): any {
    const tenant = currentTenant();
    const cache = tenant === undefined ? null : tenantClientCache();
    if (tenant !== undefined && cache) return cache.clientFor(tenant).send(command, optionsOrCb, cb);
    return super.send(command, optionsOrCb, cb);
  }
}

export const documentClient: DynamoDBDocumentClient = TenantScopedDocumentClient.create();

/** The client a call made now would use (tests and diagnostics). */
export function clientInUse(): DynamoDBDocumentClient {
  const tenant = currentTenant();
  const cache = tenant === undefined ? null : tenantClientCache();
  return tenant !== undefined && cache ? cache.clientFor(tenant) : documentClient;
}
