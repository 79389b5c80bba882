import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { LOCAL_CREDENTIALS } from '../infra/local/dynamodb-local.ts';
import { percentile, round } from './load.ts';
import type { CountingProxy } from './proxy.ts';
import type { Latency } from './results.ts';

export type Doc = DynamoDBDocumentClient;
export type Items = typeof import('./items.ts');

/** Sizes and counts of one run; `--quick` swaps in small ones for developing the bench. */
export interface Profile {
  concurrency: number;
  /** Each measured throughput run stops at whichever comes first... */
  run: { maxOps: number; maxMs: number };
  /** ...split into this many slices per side, interleaved with the other side's. */
  slices: number;
  warmup: { maxOps: number; maxMs: number };
  /** Sequential calls per operation when counting DynamoDB requests. */
  countCalls: number;
  tenantSizes: { small: number; large: number };
  /** List rounds (each: first, next and middle page, API and raw, per tenant). */
  listRounds: { warmup: number; measured: number; maxMs: number };
  /** Handler calls without a database: warm-up, then rounds of batches per operation. */
  withoutDatabase: { warmupCalls: number; rounds: number; batch: number };
  initRuns: number;
  /**
   * Sales (bench/sales.ts): convert-lead and move-stage runs per side (count or time, in slices like `run`) after a
   * warm-up of that many per side; the board's deal count and its sequential rounds.
   */
  sales: {
    run: { maxOps: number; maxMs: number };
    warmupOps: number;
    boardDeals: number;
    boardRounds: { warmup: number; measured: number; maxMs: number };
  };
  /** Inbound mail (bench/service-mail.ts): mails sent over SMTP, connections in flight, raw warm-up mails. */
  serviceMail: { mails: number; concurrency: number; warmupOps: number };
}

export const FULL: Profile = {
  concurrency: 8,
  run: { maxOps: 4_000, maxMs: 7_000 },
  slices: 4,
  warmup: { maxOps: 400, maxMs: 5_000 },
  countCalls: 20,
  tenantSizes: { small: 1_000, large: 50_000 },
  listRounds: { warmup: 10, measured: 100, maxMs: 60_000 },
  withoutDatabase: { warmupCalls: 2_000, rounds: 10, batch: 500 },
  initRuns: 5,
  sales: {
    run: { maxOps: 1_000, maxMs: 6_000 },
    warmupOps: 60,
    boardDeals: 10_000,
    boardRounds: { warmup: 5, measured: 100, maxMs: 60_000 },
  },
  serviceMail: { mails: 400, concurrency: 8, warmupOps: 40 },
};

export const QUICK: Profile = {
  concurrency: 4,
  run: { maxOps: 200, maxMs: 1_000 },
  slices: 2,
  warmup: { maxOps: 50, maxMs: 1_000 },
  countCalls: 3,
  tenantSizes: { small: 100, large: 1_000 },
  listRounds: { warmup: 2, measured: 10, maxMs: 10_000 },
  withoutDatabase: { warmupCalls: 500, rounds: 2, batch: 200 },
  initRuns: 1,
  sales: {
    run: { maxOps: 60, maxMs: 1_000 },
    warmupOps: 10,
    boardDeals: 600,
    boardRounds: { warmup: 2, measured: 10, maxMs: 10_000 },
  },
  serviceMail: { mails: 40, concurrency: 4, warmupOps: 5 },
};

/** What every section of one run shares. */
export interface RunContext {
  cloud: LocalCloud;
  profile: Profile;
  items: Items;
  /** Straight to DynamoDB Local, as the functions are while timing. */
  direct: Doc;
  /** Through the counting proxy, as the functions are while counting. */
  viaProxy: Doc;
  proxy: CountingProxy;
  /** Function durations from the Lambda runtime's REPORT lines, collected by the cloud's log callback. */
  lambdaDurations: number[];
  problems: string[];
  notes: string[];
}

export function docClient(endpoint: string, region: string): Doc {
  // The functions' client settings (shared/db/client.ts): same retries, same marshalling.
  const client = new DynamoDBClient({ endpoint, region, credentials: LOCAL_CREDENTIALS, maxAttempts: 3 });
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
}

/** The fields of API responses the benchmark reads (a created contact's id, a page). */
export interface ApiBody {
  id: string;
  version: number;
  emails?: string[];
  items: Array<{ id: string }>;
  nextCursor: string | null;
}

export type ApiCall = (
  method: string,
  path: string,
  expect: number,
  body?: unknown,
  parse?: boolean,
  headers?: Record<string, string>,
) => Promise<ApiBody>;

/** A JSON HTTP client for the local API with one tenant's dev token; an unexpected status throws. */
export function apiClient(apiUrl: string, token: string): ApiCall {
  return async (method, path, expect, body, parse = false, headers = {}) => {
    const url = new URL(path, apiUrl);
    if (url.hostname !== '127.0.0.1') throw new Error(`refusing to send traffic to ${url.host}`);
    const response = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    if (response.status !== expect) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
    // Parsed only when read: the client's own work should not weigh on the server it measures.
    return (parse ? JSON.parse(text) : undefined) as ApiBody;
  };
}

/** A request body reduced to its structure (keys, types, array lengths): ids and timestamps differ, shape must not. */
export function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, shape((value as Record<string, unknown>)[k])]),
    );
  }
  return typeof value;
}

/** A value with its object keys sorted, for comparing two requests in full. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export function latency(values: number[]): Latency {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50Ms: round(percentile(sorted, 50), 2),
    p95Ms: round(percentile(sorted, 95), 2),
  };
}
