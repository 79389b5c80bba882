import { AsyncLocalStorage } from 'node:async_hooks';
import { isTenantId } from '../auth/principal.ts';

/**
 * The tenant a request acts for, carried through its async calls. The HTTP handler sets it around each operation;
 * the table client (./client.ts) reads it to send that request's DynamoDB calls with credentials scoped to the tenant.
 * Code outside a request (stream and event consumers) has no tenant and uses the function's own credentials.
 */
const storage = new AsyncLocalStorage<string>();

/**
 * Runs `fn` as `tenantId`: every DynamoDB call made inside it (however deep, across awaits) uses that tenant's
 * credentials. An empty tenant (public routes) runs `fn` without a tenant. An id outside the tenant alphabet is a
 * programming error (the principal was validated before), so it throws rather than run with wrong credentials.
 */
export function runAsTenant<T>(tenantId: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (tenantId === undefined || tenantId === '') return fn();
  if (!isTenantId(tenantId)) throw new Error('runAsTenant: not a valid tenant id');
  return storage.run(tenantId, fn);
}

/** The tenant of the current request, if any. */
export function currentTenant(): string | undefined {
  return storage.getStore();
}
