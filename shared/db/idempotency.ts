import type { Principal } from '../auth/principal.ts';
import { model } from './store.ts';

export interface StoredResponse {
  requestHash: string;
  statusCode: number;
  response: unknown;
}

/** The first response stored for an Idempotency-Key, unless it has expired (checked here: TTL deletes late). */
export async function findIdempotentResponse(principal: Principal, key: string): Promise<StoredResponse | undefined> {
  const { data } = await model.entities.idempotency.get({ tenantId: principal.tenantId, key }).go();
  if (!data || data.expiresAt * 1000 < Date.now()) return undefined;
  return { requestHash: data.requestHash, statusCode: data.statusCode, response: data.response };
}
