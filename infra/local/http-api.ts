import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalIssuer } from './issuer.ts';
import { listenOn, type PortReservation } from './ports.ts';
import type { TemplateResolver } from './template.ts';
import type { Invoker, LocalService } from './types.ts';

/**
 * API Gateway HTTP API emulation: serves the `AWS::ApiGatewayV2::*` resources of the template on 127.0.0.1 with
 * route selection, payload format 2.0 Lambda proxy integrations, JWT authorizers, CORS and stage throttling.
 */

export interface LocalHttpApiOptions {
  resolver: TemplateResolver;
  invoker: Invoker;
  issuer: LocalIssuer;
  port?: number;
  /** A port held since before the functions learned this API's URL: the API serves on its socket (wins over port). */
  reservation?: PortReservation;
  host?: '127.0.0.1';
  /** Which `AWS::ApiGatewayV2::Api` to serve when the template has several HTTP APIs. */
  apiLogicalId?: string;
  log?: (message: string) => void;
}

/** A route of the API, ready for matching. */
export interface RouteDef {
  routeKey: string;
  /** Upper-case method or 'ANY'; undefined for `$default`. */
  method?: string;
  /** Path segments; `{name}` a variable, `{name+}` greedy. Undefined for `$default`. */
  segments?: string[];
  integrationId?: string;
  authorizationType: string;
  authorizerId?: string;
  authorizationScopes: string[];
}

interface IntegrationDef {
  functionArn?: string;
  payloadFormatVersion: string;
  timeoutMs: number;
}

interface AuthorizerDef {
  type: string;
  audience: string[];
  identitySource: string[];
}

interface StageDef {
  name: string;
  variables?: Record<string, string>;
  throttle: { burst?: number; rate?: number };
  routeThrottle: Record<string, { burst?: number; rate?: number }>;
}

interface CorsConfig {
  allowOrigins: string[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  maxAge?: number;
  allowCredentials: boolean;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** The parts of an OpenAPI Body API Gateway reads (its extensions). */
interface OpenApiBody {
  paths?: Record<
    string,
    Record<
      string,
      {
        security?: Array<Record<string, unknown>>;
        'x-amazon-apigateway-integration'?: {
          uri?: unknown;
          payloadFormatVersion?: unknown;
          timeoutInMillis?: unknown;
        };
      }
    >
  >;
  security?: Array<Record<string, unknown>>;
  components?: {
    securitySchemes?: Record<
      string,
      {
        'x-amazon-apigateway-authorizer'?: {
          type?: string;
          identitySource?: string | string[];
          jwtConfiguration?: { audience?: unknown[] };
        };
      }
    >;
  };
  'x-amazon-apigateway-cors'?: Record<string, unknown>;
}

/** CORS settings from the Api resource's CorsConfiguration or the Body's x-amazon-apigateway-cors (camelCase). */
function corsConfig(cors: Record<string, unknown>): CorsConfig {
  const field = (name: string) => cors[name] ?? cors[name[0]!.toLowerCase() + name.slice(1)];
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
  const maxAge = field('MaxAge');
  const credentials = field('AllowCredentials');
  return {
    allowOrigins: list(field('AllowOrigins')),
    allowMethods: list(field('AllowMethods')).map((m) => m.toUpperCase()),
    allowHeaders: list(field('AllowHeaders')).map((h) => h.toLowerCase()),
    exposeHeaders: list(field('ExposeHeaders')).map((h) => h.toLowerCase()),
    maxAge: maxAge === undefined ? undefined : Number(maxAge),
    allowCredentials: credentials === true || credentials === 'true',
  };
}

// API Gateway's HTTP API payload limit.
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const DEFAULT_INTEGRATION_TIMEOUT_MS = 30_000;
// Access-log route key of preflights API Gateway answers itself.
const PREFLIGHT = 'OPTIONS (CORS preflight)';

/**
 * Picks the route API Gateway would: the most specific path wins (literal segments before variables before a greedy
 * variable, compared left to right), an exact method before ANY, and `$default` when nothing else matches.
 */
export function matchRoute(
  routes: RouteDef[],
  method: string,
  path: string,
): { route: RouteDef; pathParameters?: Record<string, string> } | undefined {
  const parts = path.split('/').slice(1);
  let best: { route: RouteDef; pathParameters?: Record<string, string>; rank: number[] } | undefined;
  for (const route of routes) {
    if (!route.segments || !route.method) continue;
    if (route.method !== 'ANY' && route.method !== method) continue;
    const matched = matchSegments(route.segments, parts);
    if (!matched) continue;
    const rank = [...matched.rank, route.method === 'ANY' ? 0 : 1];
    if (!best || compareRanks(rank, best.rank) > 0) best = { route, pathParameters: matched.params, rank };
  }
  if (best) return { route: best.route, pathParameters: best.pathParameters };
  const fallback = routes.find((r) => r.routeKey === '$default');
  return fallback ? { route: fallback } : undefined;
}

function matchSegments(
  segments: string[],
  parts: string[],
): { params?: Record<string, string>; rank: number[] } | undefined {
  const params: Record<string, string> = {};
  // Per segment: 3 literal, 2 variable; a greedy tail ranks 1 and sorts after every non-greedy route.
  const rank: number[] = [];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    const variable = /^\{([^}]+)\}$/.exec(segment)?.[1];
    if (variable?.endsWith('+')) {
      const rest = parts.slice(i);
      if (rest.length === 0 || rest.join('') === '') return undefined;
      params[variable.slice(0, -1)] = rest.map(decode).join('/');
      return { params, rank: [0, ...rank, 1] };
    }
    const part = parts[i];
    if (part === undefined) return undefined;
    if (variable) {
      if (part === '') return undefined;
      params[variable] = decode(part);
      rank.push(2);
    } else {
      if (part !== segment) return undefined;
      rank.push(3);
    }
  }
  if (parts.length !== segments.length) return undefined;
  return { params: Object.keys(params).length ? params : undefined, rank: [1, ...rank] };
}

function compareRanks(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? -1) - (b[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * API Gateway hands JWT claims to the integration as strings, formatted the way its Go implementation prints them:
 * numbers and booleans as text, arrays as `[a b]` (so `cognito:groups` arrives as "[admin sales]"), maps as
 * `map[k:v]`.
 */
export function stringifyClaim(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return `[${value.map(stringifyClaim).join(' ')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([k, v]) => `${k}:${stringifyClaim(v)}`).join(' ')}]`;
  }
  return String(value);
}

/** A token bucket: `burst` tokens, refilled at `rate` per second. */
class TokenBucket {
  private tokens: number;
  private last = Date.now();

  constructor(
    private readonly burst: number,
    private readonly rate: number,
  ) {
    this.tokens = burst;
  }

  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

// Content types whose bodies API Gateway passes as text; everything else arrives base64-encoded.
function isTextContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type.endsWith('+json') ||
    type === 'application/xml' ||
    type.endsWith('+xml') ||
    type === 'application/javascript' ||
    type === 'application/graphql'
  );
}

export class LocalHttpApi implements LocalService {
  readonly name = 'apigateway';
  /** Base URL of the `$default` stage, e.g. http://127.0.0.1:3000 */
  url = '';
  readonly apiId: string;
  private readonly routes: RouteDef[] = [];
  private readonly integrations = new Map<string, IntegrationDef>();
  private readonly authorizers = new Map<string, AuthorizerDef>();
  private readonly stages = new Map<string, StageDef>();
  private readonly buckets = new Map<string, TokenBucket>();
  private cors?: CorsConfig;
  private readonly server: Server;
  private readonly log: (message: string) => void;

  private constructor(private readonly opts: LocalHttpApiOptions) {
    this.log = opts.log ?? ((m) => process.stdout.write(`${m}\n`));
    const { resolver } = opts;
    const apis = resolver
      .resourcesOfType('AWS::ApiGatewayV2::Api')
      .filter(([, r]) => (r.Properties?.ProtocolType ?? 'HTTP') === 'HTTP');
    const api = opts.apiLogicalId ? apis.find(([id]) => id === opts.apiLogicalId) : apis[0];
    if (!api) throw new Error(`template has no HTTP API${opts.apiLogicalId ? ` ${opts.apiLogicalId}` : ''}`);
    if (!opts.apiLogicalId && apis.length > 1) {
      this.log(`[apigateway] template has ${apis.length} HTTP APIs; serving ${api[0]} (pass apiLogicalId to choose)`);
    }
    const [apiLogicalId] = api;
    const apiRef = resolver.ref(apiLogicalId);
    // A stable 10-character id, shaped like the ids API Gateway assigns.
    this.apiId = createHash('sha256').update(apiLogicalId).digest('hex').slice(0, 10);
    const apiProps = resolver.properties(apiLogicalId);
    const belongs = (props: Record<string, unknown>) => props.ApiId === apiRef;

    const cors = apiProps.CorsConfiguration as Record<string, unknown> | undefined;
    if (cors) this.cors = corsConfig(cors);

    // An API declared by its OpenAPI Body (infra/constructs/gateway-definition.ts) has its routes inside.
    if (apiProps.Body) this.loadDefinition(apiProps.Body as OpenApiBody);

    for (const [id] of resolver.resourcesOfType('AWS::ApiGatewayV2::Integration')) {
      const props = resolver.properties(id);
      if (!belongs(props)) continue;
      const uri = String(props.IntegrationUri ?? '');
      // Either the function ARN or the apigateway:lambda:path/.../functions/<arn>/invocations form.
      const functionArn = /functions\/(arn:[^/]+)\/invocations/.exec(uri)?.[1] ?? (uri.includes(':lambda:') ? uri : '');
      const version = String(props.PayloadFormatVersion ?? '2.0');
      if (version !== '2.0') this.log(`[apigateway] integration ${id}: payload format ${version} is not emulated`);
      this.integrations.set(resolver.ref(id), {
        functionArn: functionArn || undefined,
        payloadFormatVersion: version,
        timeoutMs: Number(props.TimeoutInMillis ?? DEFAULT_INTEGRATION_TIMEOUT_MS),
      });
    }

    for (const [id] of resolver.resourcesOfType('AWS::ApiGatewayV2::Authorizer')) {
      const props = resolver.properties(id);
      if (!belongs(props)) continue;
      const jwt = (props.JwtConfiguration ?? {}) as { Audience?: unknown[] };
      this.authorizers.set(resolver.ref(id), {
        type: String(props.AuthorizerType ?? ''),
        audience: (jwt.Audience ?? []).map(String),
        identitySource: ((props.IdentitySource as unknown[] | undefined) ?? ['$request.header.Authorization']).map(
          String,
        ),
      });
    }

    for (const [id] of resolver.resourcesOfType('AWS::ApiGatewayV2::Route')) {
      const props = resolver.properties(id);
      if (!belongs(props)) continue;
      const routeKey = String(props.RouteKey);
      const target = typeof props.Target === 'string' ? props.Target : '';
      const route: RouteDef = {
        routeKey,
        integrationId: target.startsWith('integrations/') ? target.slice('integrations/'.length) : undefined,
        authorizationType: String(props.AuthorizationType ?? 'NONE'),
        authorizerId: props.AuthorizerId === undefined ? undefined : String(props.AuthorizerId),
        authorizationScopes: ((props.AuthorizationScopes as unknown[] | undefined) ?? []).map(String),
      };
      if (routeKey !== '$default') {
        const [method = '', path = '/'] = routeKey.split(' ');
        route.method = method.toUpperCase();
        route.segments = path.split('/').slice(1);
      }
      this.routes.push(route);
    }

    for (const [id] of resolver.resourcesOfType('AWS::ApiGatewayV2::Stage')) {
      const props = resolver.properties(id);
      if (!belongs(props)) continue;
      const throttle = (s: unknown) => {
        const settings = (s ?? {}) as { ThrottlingBurstLimit?: unknown; ThrottlingRateLimit?: unknown };
        return {
          burst: settings.ThrottlingBurstLimit === undefined ? undefined : Number(settings.ThrottlingBurstLimit),
          rate: settings.ThrottlingRateLimit === undefined ? undefined : Number(settings.ThrottlingRateLimit),
        };
      };
      const routeSettings = (props.RouteSettings ?? {}) as Record<string, unknown>;
      const variables = props.StageVariables as Record<string, unknown> | undefined;
      const name = String(props.StageName ?? '$default');
      this.stages.set(name, {
        name,
        variables:
          variables && Object.keys(variables).length
            ? Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, String(v)]))
            : undefined,
        throttle: throttle(props.DefaultRouteSettings),
        routeThrottle: Object.fromEntries(Object.entries(routeSettings).map(([k, v]) => [k, throttle(v)])),
      });
    }

    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        this.log(`[apigateway] internal error: ${error instanceof Error ? error.stack : String(error)}`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"message":"Internal Server Error"}');
      });
    });
  }

  /**
   * Routes, integrations, the JWT authorizer and CORS from an OpenAPI Body, as API Gateway imports them: each
   * operation's `x-amazon-apigateway-integration`, its `security` naming a scheme with `x-amazon-apigateway-authorizer`
   * (none: no authorization), and the root's `x-amazon-apigateway-cors`.
   */
  private loadDefinition(body: OpenApiBody): void {
    const schemes = body.components?.securitySchemes ?? {};
    for (const [name, scheme] of Object.entries(schemes)) {
      const authorizer = scheme['x-amazon-apigateway-authorizer'];
      if (!authorizer) continue;
      this.authorizers.set(`body:${name}`, {
        type: String(authorizer.type ?? '').toUpperCase(),
        audience: (authorizer.jwtConfiguration?.audience ?? []).map(String),
        identitySource: [authorizer.identitySource ?? '$request.header.Authorization'].flat().map(String),
      });
    }
    for (const [path, operations] of Object.entries(body.paths ?? {})) {
      for (const [method, operation] of Object.entries(operations)) {
        const integration = operation['x-amazon-apigateway-integration'];
        const routeKey = `${method.toUpperCase()} ${path}`;
        const integrationId = `body:${routeKey}`;
        if (integration) {
          const uri = String(integration.uri ?? '');
          const functionArn =
            /functions\/(arn:[^/]+)\/invocations/.exec(uri)?.[1] ?? (uri.includes(':lambda:') ? uri : '');
          this.integrations.set(integrationId, {
            functionArn: functionArn || undefined,
            payloadFormatVersion: String(integration.payloadFormatVersion ?? '2.0'),
            timeoutMs: Number(integration.timeoutInMillis ?? DEFAULT_INTEGRATION_TIMEOUT_MS),
          });
        }
        const scheme = (operation.security ?? body.security ?? [])
          .flatMap((requirement) => Object.keys(requirement))
          .find((name) => this.authorizers.has(`body:${name}`));
        const authorizer = scheme ? this.authorizers.get(`body:${scheme}`) : undefined;
        this.routes.push({
          routeKey,
          method: method.toUpperCase(),
          segments: path.split('/').slice(1),
          integrationId: integration ? integrationId : undefined,
          authorizationType: authorizer ? authorizer.type : 'NONE',
          authorizerId: scheme ? `body:${scheme}` : undefined,
          authorizationScopes: [],
        });
      }
    }
    const cors = body['x-amazon-apigateway-cors'];
    if (cors) this.cors = corsConfig(cors);
  }

  /** The audience of the API's JWT authorizer (what its ID tokens must carry in `aud`). */
  jwtAudience(): string | undefined {
    for (const authorizer of this.authorizers.values()) {
      if (authorizer.type === 'JWT' && authorizer.audience[0]) return authorizer.audience[0];
    }
    return undefined;
  }

  static async start(opts: LocalHttpApiOptions): Promise<LocalHttpApi> {
    const api = new LocalHttpApi(opts);
    const host = opts.host ?? '127.0.0.1';
    if (opts.reservation) await opts.reservation.adopt(api.server);
    else await listenOn(api.server, opts.port ?? 0, host);
    api.url = `http://${host}:${(api.server.address() as AddressInfo).port}`;
    return api;
  }

  get endpoint(): string {
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const requestId = randomBytes(10).toString('base64');
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const rawPath = queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt);
    const rawQueryString = queryAt < 0 ? '' : rawUrl.slice(queryAt + 1);
    const origin = typeof req.headers.origin === 'string' ? req.headers.origin : undefined;
    let routeKey = '-';

    const reply = await (async (): Promise<Reply> => {
      const body = await readBody(req);
      if (body === undefined) return message(413, 'Request Entity Too Large');

      const local = this.localRoute(method, rawPath);
      if (local) return local;

      // Requests go to the named stage in the first segment, else to `$default` (served at the root).
      const first = rawPath.split('/')[1] ?? '';
      const named = first && first !== '$default' ? this.stages.get(decode(first)) : undefined;
      const stage = named ?? this.stages.get('$default');
      if (!stage) return message(404, 'Not Found');
      const path = named ? rawPath.slice(first.length + 1) || '/' : rawPath;

      if (this.cors && method === 'OPTIONS' && origin && req.headers['access-control-request-method']) {
        routeKey = PREFLIGHT;
        return this.preflight(req, origin);
      }

      const match = matchRoute(this.routes, method, path);
      if (!match) return message(404, 'Not Found');
      const { route } = match;
      routeKey = route.routeKey;

      if (!this.allow(stage, route.routeKey)) return message(429, 'Too Many Requests');

      let authorizer: Record<string, unknown> | undefined;
      if (route.authorizationType === 'JWT') {
        const outcome = await this.authorize(req, route);
        if ('reply' in outcome) return outcome.reply;
        authorizer = outcome.authorizer;
      } else if (route.authorizationType !== 'NONE') {
        this.log(`[apigateway] ${route.routeKey}: authorization ${route.authorizationType} is not emulated`);
        return message(403, 'Forbidden');
      }

      const integration = route.integrationId ? this.integrations.get(route.integrationId) : undefined;
      if (!integration?.functionArn || integration.payloadFormatVersion !== '2.0') {
        this.log(`[apigateway] ${route.routeKey}: integration is not a Lambda proxy with payload format 2.0`);
        return message(500, 'Internal Server Error');
      }
      const event = this.event({
        req,
        requestId,
        method,
        rawPath,
        rawQueryString,
        body,
        routeKey: route.routeKey,
        stage,
        pathParameters: match.pathParameters,
        authorizer,
        started,
      });
      return this.integrate(integration, event, route.routeKey);
    })();

    // API Gateway owns CORS once it is configured: the integration's own CORS headers are dropped.
    if (this.cors && routeKey !== PREFLIGHT) {
      for (const key of Object.keys(reply.headers)) {
        if (key.startsWith('access-control-')) delete reply.headers[key];
      }
      Object.assign(reply.headers, this.corsHeaders(origin));
    }
    reply.headers['apigw-requestid'] = requestId;
    reply.headers['x-amzn-requestid'] = requestId;
    reply.headers['content-length'] = String(reply.body.length);
    res.writeHead(reply.status, reply.headers);
    res.end(method === 'HEAD' ? undefined : reply.body);
    const ip = sourceIp(req);
    this.log(
      `[apigateway] ${ip} ${requestId} "${method} ${rawUrl} HTTP/${req.httpVersion}" ${reply.status} ` +
        `${reply.body.length} ${routeKey} ${Date.now() - started}ms`,
    );
  }

  /** Local-only routes (not part of the template): the local issuer's discovery document and key set. */
  private localRoute(method: string, path: string): Reply | undefined {
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    if (path === '/.well-known/jwks.json') return json(200, this.opts.issuer.jwks());
    if (path === '/.well-known/openid-configuration') {
      return json(200, this.opts.issuer.openidConfiguration(`${this.url}/.well-known/jwks.json`));
    }
    return undefined;
  }

  private allow(stage: StageDef, routeKey: string): boolean {
    const override = stage.routeThrottle[routeKey] ?? {};
    const burst = override.burst ?? stage.throttle.burst;
    const rate = override.rate ?? stage.throttle.rate;
    if (burst === undefined && rate === undefined) return true;
    const key = `${stage.name} ${routeKey}`;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      // Limits apply per route; an unset half falls back to API Gateway's account defaults.
      bucket = new TokenBucket(burst ?? 5000, rate ?? 10000);
      this.buckets.set(key, bucket);
    }
    return bucket.take();
  }

  /**
   * The JWT authorizer. The template's issuer is the Cognito user pool; locally every JWT authorizer is served by the
   * local issuer instead (its key signs the tokens `npm run token` prints). Audience and scopes are checked as API
   * Gateway checks them.
   */
  private async authorize(
    req: IncomingMessage,
    route: RouteDef,
  ): Promise<{ authorizer: Record<string, unknown> } | { reply: Reply }> {
    const unauthorized = (challenge: string): { reply: Reply } => {
      const reply = message(401, 'Unauthorized');
      reply.headers['www-authenticate'] = challenge;
      return { reply };
    };
    const authorizer = route.authorizerId ? this.authorizers.get(route.authorizerId) : undefined;
    if (authorizer?.type !== 'JWT') {
      this.log(`[apigateway] ${route.routeKey}: JWT route without a JWT authorizer`);
      return { reply: message(500, 'Internal Server Error') };
    }
    const source = authorizer.identitySource[0] ?? '$request.header.Authorization';
    const headerName = /^\$request\.header\.(.+)$/.exec(source)?.[1]?.toLowerCase() ?? 'authorization';
    const raw = req.headers[headerName];
    const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
    if (!value) return unauthorized('Bearer');
    // The token may come bare or with the Bearer prefix.
    const token = value.replace(/^Bearer\s+/i, '');
    let claims: Record<string, unknown>;
    try {
      claims = await this.opts.issuer.verify(token, authorizer.audience);
    } catch (error) {
      const code = (error as { code?: string }).code;
      const description = code === 'ERR_JWT_EXPIRED' ? ' error_description="the token has expired"' : '';
      return unauthorized(`Bearer scope="" error="invalid_token"${description}`);
    }
    const scopeClaim =
      typeof claims.scope === 'string' ? claims.scope : typeof claims.scp === 'string' ? claims.scp : '';
    const tokenScopes = scopeClaim.split(' ').filter(Boolean);
    if (route.authorizationScopes.length && !route.authorizationScopes.some((s) => tokenScopes.includes(s))) {
      const reply = message(403, 'Forbidden');
      reply.headers['www-authenticate'] =
        `Bearer scope="${route.authorizationScopes.join(' ')}" error="insufficient_scope" ` +
        'error_description="the token does not have the required scopes"';
      return { reply };
    }
    const stringClaims = Object.fromEntries(Object.entries(claims).map(([k, v]) => [k, stringifyClaim(v)]));
    return { authorizer: { jwt: { claims: stringClaims, scopes: tokenScopes.length ? tokenScopes : null } } };
  }

  private preflight(req: IncomingMessage, origin: string): Reply {
    const cors = this.cors as CorsConfig;
    const reply: Reply = { status: 204, headers: {}, body: Buffer.alloc(0) };
    const allowOrigin = this.allowedOrigin(origin);
    if (!allowOrigin) return reply;
    const requested = String(req.headers['access-control-request-headers'] ?? '');
    reply.headers['access-control-allow-origin'] = allowOrigin;
    reply.headers['access-control-allow-methods'] = cors.allowMethods.includes('*') ? '*' : cors.allowMethods.join(',');
    const headers = cors.allowHeaders.includes('*') ? requested : cors.allowHeaders.join(',');
    if (headers) reply.headers['access-control-allow-headers'] = headers;
    if (cors.maxAge !== undefined) reply.headers['access-control-max-age'] = String(cors.maxAge);
    if (cors.allowCredentials) reply.headers['access-control-allow-credentials'] = 'true';
    reply.headers.vary = 'origin';
    return reply;
  }

  private corsHeaders(origin: string | undefined): Record<string, string> {
    const cors = this.cors;
    const allowOrigin = origin ? this.allowedOrigin(origin) : undefined;
    if (!cors || !allowOrigin) return {};
    const headers: Record<string, string> = { 'access-control-allow-origin': allowOrigin, vary: 'origin' };
    if (cors.exposeHeaders.length) headers['access-control-expose-headers'] = cors.exposeHeaders.join(',');
    if (cors.allowCredentials) headers['access-control-allow-credentials'] = 'true';
    return headers;
  }

  private allowedOrigin(origin: string): string | undefined {
    const origins = this.cors?.allowOrigins ?? [];
    if (origins.includes('*')) return '*';
    const wanted = origin.toLowerCase();
    const hit = origins.some((allowed) => {
      const pattern = allowed.toLowerCase();
      if (!pattern.includes('*')) return pattern === wanted;
      // Wildcard subdomains, e.g. https://*.example.com
      const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('[^/]*')}$`);
      return re.test(wanted);
    });
    return hit ? origin : undefined;
  }

  /** The payload format 2.0 event. */
  private event(input: {
    req: IncomingMessage;
    requestId: string;
    method: string;
    rawPath: string;
    rawQueryString: string;
    body: Buffer;
    routeKey: string;
    stage: StageDef;
    pathParameters?: Record<string, string>;
    authorizer?: Record<string, unknown>;
    started: number;
  }): Record<string, unknown> {
    const { req } = input;
    const headers: Record<string, string> = {};
    const cookies: string[] = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = (raw[i] as string).toLowerCase();
      const value = raw[i + 1] as string;
      // Cookies move to their own field, one entry per cookie.
      if (name === 'cookie') {
        cookies.push(
          ...value
            .split(';')
            .map((c) => c.trim())
            .filter(Boolean),
        );
        continue;
      }
      headers[name] = name in headers ? `${headers[name]},${value}` : value;
    }
    const ip = sourceIp(input.req);
    const host = headers.host ?? `${this.apiId}.execute-api.${this.opts.resolver.region}.amazonaws.com`;
    headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']},${ip}` : ip;
    headers['x-forwarded-port'] ??= String(req.socket.localPort ?? '');
    headers['x-forwarded-proto'] ??= 'http';
    headers['x-amzn-trace-id'] ??= traceId(input.started);
    if (input.body.length) headers['content-length'] = String(input.body.length);

    const query: Record<string, string> = {};
    if (input.rawQueryString) {
      for (const [k, v] of new URLSearchParams(input.rawQueryString)) {
        query[k] = k in query ? `${query[k]},${v}` : v;
      }
    }
    const text = isTextContentType(headers['content-type']);
    const event: Record<string, unknown> = {
      version: '2.0',
      routeKey: input.routeKey,
      rawPath: input.rawPath,
      rawQueryString: input.rawQueryString,
    };
    if (cookies.length) event.cookies = cookies;
    event.headers = headers;
    if (Object.keys(query).length) event.queryStringParameters = query;
    const requestContext: Record<string, unknown> = {
      accountId: this.opts.resolver.account,
      apiId: this.apiId,
    };
    if (input.authorizer) requestContext.authorizer = input.authorizer;
    Object.assign(requestContext, {
      domainName: host,
      domainPrefix: host.split('.')[0],
      http: {
        method: input.method,
        path: input.rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: ip,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: input.requestId,
      routeKey: input.routeKey,
      stage: input.stage.name,
      time: clfTime(new Date(input.started)),
      timeEpoch: input.started,
    });
    event.requestContext = requestContext;
    if (input.body.length) event.body = text ? input.body.toString('utf8') : input.body.toString('base64');
    if (input.pathParameters) event.pathParameters = input.pathParameters;
    event.isBase64Encoded = input.body.length > 0 && !text;
    if (input.stage.variables) event.stageVariables = input.stage.variables;
    return event;
  }

  /** Invokes the function and maps its result as API Gateway does for payload format 2.0. */
  private async integrate(integration: IntegrationDef, event: Record<string, unknown>, routeKey: string) {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), integration.timeoutMs);
    });
    try {
      const outcome = await Promise.race([
        this.opts.invoker.invoke(integration.functionArn as string, event).then((result) => ({ result })),
        timedOut,
      ]);
      if (outcome === 'timeout') {
        this.log(`[apigateway] ${routeKey}: integration timed out after ${integration.timeoutMs} ms`);
        return message(503, 'Service Unavailable');
      }
      return this.toReply(outcome.result, routeKey);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      this.log(`[apigateway] ${routeKey}: Lambda invocation failed: ${detail}`);
      return message(500, 'Internal Server Error');
    } finally {
      clearTimeout(timer);
    }
  }

  private toReply(result: unknown, routeKey: string): Reply {
    const isObject = result !== null && typeof result === 'object' && !Array.isArray(result);
    if (!isObject || !('statusCode' in (result as object))) {
      // No statusCode: API Gateway infers 200, JSON, and the whole result as the body.
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify(result)),
      };
    }
    const r = result as Record<string, unknown>;
    const invalid = (field: string): Reply => {
      this.log(
        `[apigateway] ${routeKey}: the response from the Lambda function doesn't match the format that API Gateway ` +
          `expects (wrong type for field "${field}")`,
      );
      return message(500, 'Internal Server Error');
    };
    const status = typeof r.statusCode === 'number' ? r.statusCode : Number.NaN;
    if (!Number.isInteger(status) || status < 100 || status > 599) return invalid('statusCode');
    const headers: Record<string, string | string[]> = {};
    if (r.headers !== undefined && r.headers !== null) {
      if (typeof r.headers !== 'object' || Array.isArray(r.headers)) return invalid('headers');
      for (const [k, v] of Object.entries(r.headers as Record<string, unknown>)) {
        if (v !== null && typeof v === 'object') return invalid('headers');
        headers[k.toLowerCase()] = String(v);
      }
    }
    // Format 2.0 has no multiValueHeaders: API Gateway ignores the field.
    if (r.cookies !== undefined && r.cookies !== null) {
      if (!Array.isArray(r.cookies)) return invalid('cookies');
      const cookies = r.cookies.map(String);
      const existing = headers['set-cookie'];
      headers['set-cookie'] = [...(existing === undefined ? [] : [existing].flat()), ...cookies];
    }
    if (r.body !== undefined && r.body !== null && typeof r.body !== 'string') return invalid('body');
    const text = (r.body as string | undefined) ?? '';
    const body = r.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
    for (const hop of ['content-length', 'transfer-encoding', 'connection']) delete headers[hop];
    return { status, headers, body };
  }
}

function message(status: number, text: string): Reply {
  return json(status, { message: text });
}

function json(status: number, value: unknown): Reply {
  return { status, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(value)) };
}

/** Reads the body; undefined once it passes the 10 MB limit. */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) tooLarge = true;
    if (!tooLarge) chunks.push(chunk as Buffer);
  }
  return tooLarge ? undefined : Buffer.concat(chunks);
}

function sourceIp(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `12/Mar/2020:19:03:58 +0000`, as requestContext.time. */
function clfTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`
  );
}

function traceId(epochMs: number): string {
  const hex = randomUUID().replaceAll('-', '').slice(0, 24);
  return `Root=1-${Math.floor(epochMs / 1000).toString(16)}-${hex}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
