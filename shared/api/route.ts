import type { z } from 'zod';
import type { Permission } from '../auth/permissions.ts';

/** The Lambda functions HTTP routes are grouped into: one function (and one IAM role) per group. */
export const FUNCTION_GROUPS = [
  'contacts',
  'companies',
  'notes',
  'customFields',
  'settings',
  'docs',
  'users',
  'teams',
  'catalog',
  'deals',
  'leads',
  'forms',
  'formSubmissions',
  'activities',
  'calendarFeed',
  'assignment',
  'duplicates',
  'merge',
  'sla',
  'tickets',
  'knowledge',
  'mailboxes',
  'segments',
  'campaigns',
  'subscriptions',
  'suppressions',
  'preferences',
  'emailTemplates',
] as const;
export type FunctionGroup = (typeof FUNCTION_GROUPS)[number];

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

/**
 * Groups served by the public web-to-lead API: a second HTTP API without API-level CORS, so each form answers its own
 * preflight (an HTTP API with CORS configured answers every OPTIONS itself and drops the functions' CORS headers).
 */
export const FORMS_API_GROUPS: readonly FunctionGroup[] = ['formSubmissions', 'preferences'];

/**
 * One HTTP operation. The route table (routes.ts) is the single source of truth: CDK creates API Gateway routes
 * from it, handlers dispatch by it, the OpenAPI document is generated from it, and the local cloud serves what CDK
 * synthesized from it.
 */
export interface RouteDefinition {
  operationId: string;
  method: HttpMethod;
  /** API Gateway path, e.g. /v1/contacts/{contactId}. */
  path: string;
  group: FunctionGroup;
  /** What the caller must be allowed; 'public' routes skip the JWT authorizer (docs only). */
  permission: Permission | 'public';
  summary: string;
  description?: string;
  tag: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Success status and body schema; every route also documents the problem+json errors it can return. */
  response: { status: number; schema?: z.ZodType; description: string; contentType?: string };
  /** POST that honours Idempotency-Key. */
  idempotent?: boolean;
  /**
   * Accepts If-Match (PATCH/DELETE/restore) and returns ETag; 412 when it does not match, 428 without it when the
   * tenant's settings require it.
   */
  conditional?: boolean;
  /**
   * Also accepts `application/x-www-form-urlencoded` bodies (what an HTML form posts), parsed into an object of
   * strings (a repeated name becomes a list) and validated with the same schema. Public web-to-lead only.
   */
  acceptsForm?: boolean;
  /**
   * Also accepts `multipart/form-data` (text fields only; file parts are refused), parsed like a url-encoded form.
   * Mail providers post RFC 8058 one-click unsubscribes either way.
   */
  acceptsMultipart?: boolean;
  /** A body limit other than the API's 64 KiB: smaller for public endpoints, larger for email templates. */
  maxBodyBytes?: number;
  /** A GET of a record that may have been merged: 301 with Location to the record it was merged into. */
  redirectsMerged?: boolean;
}

export function defineRoutes<const R extends readonly RouteDefinition[]>(routes: R): R {
  return routes;
}

export const routeKey = (route: Pick<RouteDefinition, 'method' | 'path'>): string => `${route.method} ${route.path}`;
