import type { Principal } from '../auth/principal.ts';
import type { VersionPrecondition } from './conditional.ts';

export { etagOf, type VersionPrecondition } from './conditional.ts';

/** What an operation receives: already authenticated, authorised and validated. */
export interface ApiRequest<P = Record<string, string>, Q = Record<string, unknown>, B = unknown> {
  principal: Principal;
  params: P;
  query: Q;
  body: B;
  /** The parsed If-Match header, when the client sent one: services ask it whether the version they read matches. */
  ifMatch?: VersionPrecondition;
  /** Present on idempotent POSTs that carried an Idempotency-Key. */
  idempotency?: { key: string; requestHash: string };
  requestId: string;
  /** What the client said about itself: for public endpoints (origin checks, rate limits per source address). */
  client?: { origin?: string; sourceIp?: string; form: boolean; baseUrl?: string };
}

export interface ApiResponse {
  status: number;
  body?: unknown;
  /** Sets the ETag header (the record's version). */
  version?: number;
  headers?: Record<string, string>;
  /** Raw (non-JSON) body, e.g. the docs page. */
  raw?: { contentType: string; body: string };
}
