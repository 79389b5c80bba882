import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { RouteDefinition } from '../../shared/api/route.ts';
import { routes } from '../../shared/api/routes.ts';

export interface Caller {
  tenantId: string;
  roles: string[];
  userId?: string;
}

type Handler = (event: APIGatewayProxyEventV2WithJWTAuthorizer, context: Context) => Promise<unknown>;

export interface TestResponse {
  status: number;
  headers: Record<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back and assert on it
  body: any;
  /** The raw body (what `body` parsed, for JSON; the only form of text/calendar, HTML...). */
  text: string;
}

const context = {
  awsRequestId: 'test',
  functionName: 'test',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:test',
  memoryLimitInMB: '1024',
  logGroupName: '/aws/lambda/test',
  logStreamName: 'test',
  callbackWaitsForEmptyEventLoop: true,
  // Generous: many concurrent in-process requests on a slow, shared machine must not run into a Lambda deadline
  // (the deployed timeout is the function's own; the handler's early answer before it is tested where it matters).
  getRemainingTimeInMillis: () => 120_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
} as Context;

/** The route (API Gateway's routeKey template) a concrete path matches, with its decoded path parameters. */
export function matchRoute(method: string, path: string, table: readonly RouteDefinition[] = routes) {
  for (const route of table) {
    if (route.method !== method) continue;
    const names: string[] = [];
    const pattern = new RegExp(
      `^${route.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      })}$`,
    );
    const match = pattern.exec(path);
    if (match)
      return { route, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(match[i + 1]!)])) };
  }
  return undefined;
}

function routeFor(method: string, path: string) {
  const found = matchRoute(method, path);
  if (!found) throw new Error(`no route for ${method} ${path}`);
  return found;
}

/**
 * Calls a handler the way API Gateway would for `method url`, with the caller's claims as the JWT authorizer passes
 * them (groups as "[a b]"). For handler-level integration tests; whole-stack tests go through real HTTP instead.
 */
export function apiClient(handler: Handler, caller: Caller) {
  return async (
    method: string,
    url: string,
    options: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
  ): Promise<TestResponse> => {
    const [path, query = ''] = url.split('?') as [string, string?];
    const { route, params } = routeFor(method, path);
    const queryStringParameters = query ? Object.fromEntries(new URLSearchParams(query).entries()) : undefined;
    const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const event = {
      version: '2.0',
      routeKey: `${route.method} ${route.path}`,
      rawPath: path,
      rawQueryString: query,
      headers: { 'content-type': 'application/json', ...lower(options.headers ?? {}) },
      ...(queryStringParameters ? { queryStringParameters } : {}),
      pathParameters: params,
      requestContext: {
        accountId: '000000000000',
        apiId: 'test',
        domainName: 'localhost',
        domainPrefix: 'localhost',
        http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
        requestId: randomUUID(),
        routeKey: `${route.method} ${route.path}`,
        stage: '$default',
        time: new Date().toISOString(),
        timeEpoch: Date.now(),
        authorizer: {
          principalId: '',
          integrationLatency: 0,
          jwt: {
            claims: {
              sub: caller.userId ?? 'user-1',
              'custom:tenantId': caller.tenantId,
              'cognito:groups': `[${caller.roles.join(' ')}]`,
            },
            scopes: [],
          },
        },
      },
      ...(body !== undefined ? { body, isBase64Encoded: false } : { isBase64Encoded: false }),
    } as unknown as APIGatewayProxyEventV2WithJWTAuthorizer;
    const result = (await handler(event, context)) as APIGatewayProxyStructuredResultV2;
    const headers = Object.fromEntries(
      Object.entries(result.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
    );
    const isJson = /json/.test(headers['content-type'] ?? 'application/json');
    return {
      status: result.statusCode ?? 200,
      headers,
      body: result.body && isJson ? JSON.parse(result.body) : undefined,
      text: result.body ?? '',
    };
  };
}

function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}
