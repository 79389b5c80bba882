import { createHash } from 'node:crypto';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { z } from 'zod';
import type { FunctionGroup, RouteDefinition } from '../api/route.ts';
import { routeKey } from '../api/route.ts';
import { can } from '../auth/permissions.ts';
import { type Principal, principalFromClaims } from '../auth/principal.ts';
import type { StoredResponse } from '../db/idempotency.ts';
import { runAsTenant } from '../db/tenant-context.ts';
import {
  DomainError,
  ForbiddenError,
  IdempotencyKeyReusedError,
  IdempotentReplay,
  MovedPermanentlyError,
  PayloadTooLargeError,
  PreconditionRequiredError,
  TooManyRequestsError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../errors.ts';
import { logger, metrics } from '../observability.ts';
import { etagOf, parseIfMatch, parseIfNoneMatch, type VersionPrecondition } from './conditional.ts';
import { parseMultipartForm } from './multipart.ts';
import { fieldErrorsFrom, problemResponse, toProblem } from './problem.ts';
import type { ApiRequest, ApiResponse } from './request.ts';

export type HttpEvent = APIGatewayProxyEventV2WithJWTAuthorizer;
export type HttpResult = APIGatewayProxyStructuredResultV2;

/** JSON bodies above this are refused before parsing; record-level limits are in the schemas. */
export const MAX_BODY_BYTES = 64 * 1024;

type Infer<T> = T extends z.ZodType ? z.output<T> : undefined;
type RouteRequest<R extends RouteDefinition> = ApiRequest<
  R['params'] extends z.ZodType ? z.output<R['params']> : Record<string, never>,
  R['query'] extends z.ZodType ? z.output<R['query']> : Record<string, never>,
  Infer<R['body']>
>;

/** The operations a function group must implement, keyed by operationId and typed by their route definitions. */
export type Operations<Routes extends readonly RouteDefinition[], G extends FunctionGroup> = {
  [R in Extract<Routes[number], { group: G }> as R['operationId']]: (req: RouteRequest<R>) => Promise<ApiResponse>;
};

/** Per-tenant checks that need the table; given by every group with authenticated routes (see tenant-guards.ts). */
export interface TenantGuards {
  /** Spends one request of the tenant's quota, or says when to retry. */
  admit(tenantId: string): Promise<{ admitted: true } | { admitted: false; retryAfterSeconds: number }>;
  /** Whether the tenant's settings require If-Match on conditional routes. */
  requiresIfMatch(tenantId: string): Promise<boolean>;
}

export interface HttpApiOptions {
  /** Reads the stored first response of an Idempotency-Key (needed by groups with idempotent routes). */
  findIdempotentResponse?: (principal: Principal, key: string) => Promise<StoredResponse | undefined>;
  /** Required when the group has any authenticated route: the quota and settings checks. */
  guards?: TenantGuards;
}

/**
 * Builds the Lambda handler for one function group: routes by API Gateway's routeKey, authorises (deny by
 * default), validates path, query and body with the route's zod schemas, runs the operation and shapes the
 * response. Every failure leaves as problem+json; a 5xx never shows internals.
 */
export function httpApi<Routes extends readonly RouteDefinition[], G extends FunctionGroup>(
  routes: Routes,
  group: G,
  operations: NoInfer<Operations<Routes, G>>,
  options: HttpApiOptions = {},
) {
  const byKey = new Map<string, RouteDefinition>();
  for (const route of routes) if (route.group === group) byKey.set(routeKey(route), route);
  const implementations = operations as unknown as Record<string, (req: ApiRequest) => Promise<ApiResponse>>;
  for (const route of byKey.values()) {
    if (!implementations[route.operationId]) throw new Error(`operation ${route.operationId} is not implemented`);
  }
  const guards = options.guards;
  if (!guards && [...byKey.values()].some((route) => route.permission !== 'public')) {
    throw new Error(`function group ${group} serves authenticated routes: pass the tenant guards (quota, settings)`);
  }

  const dispatch = async (event: HttpEvent): Promise<HttpResult> => {
    const requestId = event.requestContext?.requestId ?? 'unknown';
    const route = byKey.get(event.routeKey);
    try {
      if (!route) throw new DomainError(404, 'route.not_found', `No operation for ${event.routeKey}.`);
      const principal =
        route.permission === 'public'
          ? { tenantId: '', userId: '', roles: [] }
          : principalFromClaims(event.requestContext?.authorizer?.jwt?.claims);
      const handle = async (): Promise<HttpResult> => {
        const { request, ifNoneMatch } = await parseRequest(route, event, requestId, principal, guards);
        try {
          const response = await implementations[route.operationId]!(request);
          if (ifNoneMatch && isCurrent(response, ifNoneMatch)) return notModified(response);
          return toHttp(response);
        } catch (error) {
          if (!(error instanceof IdempotentReplay && request.idempotency)) throw error;
          const replayed = await replay(request, options);
          if (replayed) return replayed;
          // The key expired between the refused write and this read: it is a new key now, so the write goes ahead.
          return toHttp(await implementations[route.operationId]!(request));
        }
      };
      // Every table call of an authenticated request (quota, settings, the operation, a replay) goes out with the
      // tenant's scoped credentials: the second wall of tenant isolation.
      return principal.tenantId ? await runAsTenant(principal.tenantId, handle) : await handle();
    } catch (error) {
      const problem = toProblem(error, requestId);
      const headers: Record<string, string> = { ...(error instanceof DomainError ? error.headers : {}) };
      if (problem.status >= 500) {
        logger.error('request failed', { error: error as Error, operation: route?.operationId });
        if (route) metrics.addDimension('operation', route.operationId);
        metrics.addMetric('ServerError', MetricUnit.Count, 1);
      } else {
        logger.info('request refused', { status: problem.status, code: problem.code });
      }
      if (error instanceof MovedPermanentlyError) headers.location = error.location;
      if (error instanceof TooManyRequestsError) {
        headers['retry-after'] = String(error.retryAfterSeconds);
        // No tenant dimension (one metric per tenant would cost per tenant); the log line above names it.
        metrics.addMetric('TenantQuotaExceeded', MetricUnit.Count, 1);
      }
      return problemResponse(problem, headers);
    }
  };

  // Logs carry the Lambda context and are reset between invocations; metrics are flushed after each invocation
  // (only what was recorded: server errors and quota refusals, so most requests publish nothing). No Tracer: see
  // infra/constructs/crm-function.ts on why tracing is off.
  return middy<HttpEvent, HttpResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(dispatch);
}

/** A read answered from the client's copy: If-None-Match names the current version (weak comparison). */
function isCurrent(response: ApiResponse, ifNoneMatch: VersionPrecondition): boolean {
  return response.status === 200 && response.version !== undefined && ifNoneMatch.matches(response.version);
}

/** 304 carries what the 200 would have in its headers (ETag, Cache-Control) and no body (RFC 9110 §15.4.5). */
function notModified(response: ApiResponse): HttpResult {
  const { 'content-type': _type, ...headers } = toHttp({ ...response, body: undefined, raw: undefined }).headers ?? {};
  return { statusCode: 304, headers };
}

/** The first response of the request's Idempotency-Key; undefined once the key has expired. */
async function replay(request: ApiRequest, options: HttpApiOptions): Promise<HttpResult | undefined> {
  const key = request.idempotency!.key;
  if (!options.findIdempotentResponse)
    throw new Error(`Idempotency-Key ${key} replayed by a group that cannot read it`);
  const stored = await options.findIdempotentResponse(request.principal, key);
  if (!stored) return undefined;
  if (stored.requestHash !== request.idempotency!.requestHash) throw new IdempotencyKeyReusedError();
  const body = stored.response as { version?: number };
  return toHttp({
    status: stored.statusCode,
    body,
    ...(typeof body?.version === 'number' ? { version: body.version } : {}),
    headers: { 'idempotent-replayed': 'true' },
  });
}

function toHttp(response: ApiResponse): HttpResult {
  const headers: Record<string, string> = { 'cache-control': 'no-store', ...response.headers };
  if (response.version !== undefined) headers.etag = etagOf(response.version);
  if (response.raw) {
    return {
      statusCode: response.status,
      headers: { ...headers, 'content-type': response.raw.contentType },
      body: response.raw.body,
    };
  }
  if (response.body === undefined) return { statusCode: response.status, headers };
  return {
    statusCode: response.status,
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(response.body),
  };
}

function header(event: HttpEvent, name: string): string | undefined {
  return event.headers?.[name] ?? event.headers?.[name.toLowerCase()];
}

/**
 * Authenticates, spends quota, authorises, validates and reads the conditional headers, in that order: every
 * authenticated request counts against its tenant's quota, whatever becomes of it.
 */
async function parseRequest(
  route: RouteDefinition,
  event: HttpEvent,
  requestId: string,
  principal: Principal,
  guards: TenantGuards | undefined,
): Promise<{ request: ApiRequest; ifNoneMatch?: VersionPrecondition }> {
  logger.appendKeys({ operation: route.operationId, tenantId: principal.tenantId });
  if (route.permission !== 'public') {
    const admission = await guards!.admit(principal.tenantId);
    if (!admission.admitted) throw new TooManyRequestsError(admission.retryAfterSeconds);
    if (!can(principal.roles, route.permission)) throw new ForbiddenError();
  }

  const params = validate(route.params, event.pathParameters ?? {}, 'path');
  const query = validate(route.query, event.queryStringParameters ?? {}, 'query');
  const { value: rawBody, form } = readBody(route, event);
  const body = route.body ? validate(route.body, rawBody, 'body') : undefined;

  const origin = header(event, 'origin');
  const sourceIp = event.requestContext?.http?.sourceIp;
  const domain = event.requestContext?.domainName;
  // API Gateway serves HTTPS only; plain HTTP is the local cloud on loopback. (Not from a header a client can set.)
  const scheme = domain && /^(127\.0\.0\.1|localhost)(:\d+)?$/.test(domain) ? 'http' : 'https';
  const client = {
    form,
    ...(origin ? { origin } : {}),
    ...(sourceIp ? { sourceIp } : {}),
    ...(domain ? { baseUrl: `${scheme}://${domain}` } : {}),
  };
  const request: ApiRequest = { principal, params, query, body, requestId, client };
  let ifNoneMatch: VersionPrecondition | undefined;
  if (route.method === 'GET' && route.permission !== 'public') {
    ifNoneMatch = parseIfNoneMatch(header(event, 'if-none-match'));
  }
  if (route.conditional) {
    const ifMatch = parseIfMatch(header(event, 'if-match'));
    if (ifMatch !== undefined) request.ifMatch = ifMatch;
    else if (await guards!.requiresIfMatch(principal.tenantId)) throw new PreconditionRequiredError();
  }
  if (route.idempotent) {
    const key = header(event, 'idempotency-key');
    if (key !== undefined) {
      if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
        throw new ValidationError('Invalid Idempotency-Key.', [
          { field: 'header.Idempotency-Key', message: 'Use 1 to 255 visible ASCII characters, e.g. a UUID.' },
        ]);
      }
      const requestHash = createHash('sha256')
        .update(`${event.routeKey}\n${JSON.stringify(event.pathParameters ?? {})}\n${JSON.stringify(rawBody ?? null)}`)
        .digest('base64url');
      request.idempotency = { key, requestHash };
    }
  }
  return ifNoneMatch ? { request, ifNoneMatch } : { request };
}

function validate(schema: z.ZodType | undefined, input: unknown, location: 'body' | 'query' | 'path'): never {
  if (!schema) return {} as never;
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ValidationError(`The request ${location} is invalid.`, fieldErrorsFrom(result.error, location));
  }
  return result.data as never;
}

const FORM_CONTENT_TYPE = /^application\/x-www-form-urlencoded\b/i;
const MULTIPART_CONTENT_TYPE = /^multipart\/form-data\b/i;

/** An HTML form's fields: strings, a repeated name a list of them (at most 200 pairs read). */
function parseFormBody(text: string): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = Object.create(null);
  let pairs = 0;
  for (const [name, value] of new URLSearchParams(text)) {
    if (++pairs > 200) {
      throw new ValidationError('The form has too many fields.', [{ field: 'body', message: 'At most 200 fields.' }]);
    }
    const before = fields[name];
    fields[name] = before === undefined ? value : Array.isArray(before) ? [...before, value] : [before, value];
  }
  return { ...fields };
}

function readBody(route: RouteDefinition, event: HttpEvent): { value: unknown; form: boolean } {
  if (!route.body) return { value: undefined, form: false };
  const text = event.body
    ? event.isBase64Encoded
      ? Buffer.from(event.body, 'base64').toString('utf8')
      : event.body
    : '';
  const limit = route.maxBodyBytes ?? MAX_BODY_BYTES;
  if (Buffer.byteLength(text, 'utf8') > limit) throw new PayloadTooLargeError(limit);
  const contentType = header(event, 'content-type') ?? '';
  const multipart = route.acceptsMultipart === true && MULTIPART_CONTENT_TYPE.test(contentType);
  const form = (route.acceptsForm === true && FORM_CONTENT_TYPE.test(contentType)) || multipart;
  if (text.length > 0 && !form && !/^application\/([\w.+-]+\+)?json\b/i.test(contentType)) {
    throw new UnsupportedMediaTypeError();
  }
  if (text.trim().length === 0) {
    throw new ValidationError('The request body is required.', [{ field: 'body', message: 'Send a JSON object.' }]);
  }
  if (multipart) return { value: parseMultipartForm(contentType, text), form };
  if (form) return { value: parseFormBody(text), form };
  try {
    return { value: JSON.parse(text), form };
  } catch (error) {
    throw new ValidationError('The request body is not valid JSON.', [
      { field: 'body', message: (error as Error).message },
    ]);
  }
}
