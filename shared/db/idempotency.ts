import type { Principal } from '../auth/principal.ts';
import { model } from './store.ts';

export interface StoredResponse {
  requestHash: string;
  statusCode: number;
  response: unknown;
}

/**
 * An idempotency record has expired once its `expiresAt` second has begun. The same rule conditions the write
 * (store.ts: an expired record may be overwritten), so a key the write treats as new is never replayed, and one it
 * treats as taken is always found here.
 */
export const isExpired = (expiresAtSeconds: number, nowMs = Date.now()): boolean => expiresAtSeconds * 1000 <= nowMs;

/** The first response stored for an Idempotency-Key, unless it has expired (checked here: TTL deletes late). */
export async function findIdempotentResponse(principal: Principal, key: string): Promise<StoredResponse | undefined> {
  const { data } = await model.entities.idempotency.get({ tenantId: principal.tenantId, key }).go();
  if (!data || isExpired(data.expiresAt)) return undefined;
  return { requestHash: data.requestHash, statusCode: data.statusCode, response: data.response };
}
