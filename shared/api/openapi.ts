import * as z from 'zod';
import type { RouteDefinition } from './route.ts';
import { routes } from './routes.ts';

/** Kept equal to package.json's version (a test checks it), so the Lambda bundle needn't carry package.json. */
export const API_VERSION = '0.1.0';

type Json = Record<string, unknown>;
type Io = 'input' | 'output';

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description: string;
  tags: string[];
  security: Array<Record<string, string[]>>;
  parameters: Json[];
  requestBody?: Json;
  responses: Record<string, Json>;
}

export interface OpenApiDocument {
  openapi: string;
  info: Json;
  servers: Array<{ url: string }>;
  tags: Array<{ name: string; description?: string }>;
  security: Array<Record<string, string[]>>;
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: {
    schemas: Record<string, Json>;
    parameters: Record<string, Json>;
    headers: Record<string, Json>;
    responses: Record<string, Json>;
    securitySchemes: Record<string, Json>;
  };
}

const TAG_DESCRIPTIONS: Record<string, string> = {
  Contacts: 'People: create, look up (one filter per index), update by merge patch, trash and restore.',
  Companies: 'Organisations and their contacts.',
  Notes: 'Notes on contacts and companies; they appear on the timelines.',
  'Custom fields': 'Per-tenant field definitions that contact and company `customFields` are checked against.',
  Settings: "Your organisation's settings, e.g. whether updates and deletes must carry If-Match.",
  Leads: 'Leads: people not yet qualified, their status, campaign attribution, score; converting one into a contact.',
  Forms: 'Web-to-lead forms: declared per organisation, posted publicly from your website (no token).',
  Scoring: 'Explainable lead-scoring rules: fit (field values) and engagement (events, with time decay).',
  Meta: 'This description of the API (public, no token needed).',
  Subscriptions:
    'Subscription categories, contacts’ signed unsubscribe and preference links, and the public pages behind them ' +
    '(RFC 8058 one-click unsubscribe, the preference page; no token, served on the public forms API).',
  Suppressions: 'Addresses no marketing mail goes to: hard bounces, complaints, and addresses added by hand.',
  Campaigns:
    'Email campaigns to segments and lists: scheduled at a local time in a time zone (or now), sent within the SES ' +
    'rate by a workflow that mails each consenting address once (a per-recipient ledger), pausable and resumable.',
};

const DESCRIPTION = `The CRM's HTTP API. JSON in camelCase under \`/v1\`.

- **Auth**: \`Authorization: Bearer <JWT>\` carrying the tenant and roles; every operation needs a permission that
  one of your roles grants (deny by default).
- **Pagination**: \`limit\` and \`cursor\` in, \`items\` and \`nextCursor\` out (null on the last page).
- **Idempotency**: send \`Idempotency-Key\` on creating POSTs; a retry with the same key and body replays the first
  response (\`Idempotent-Replayed: true\`).
- **Concurrency**: records carry their \`version\` as a strong \`ETag\`; send it back as \`If-Match\` on PATCH, DELETE
  and restore to get 412 instead of overwriting someone else's change (RFC 9110: \`*\` or a list of tags; a weak tag
  never matches; a tag naming no current version is 412, only a malformed header 400). An organisation can require
  If-Match (\`PATCH /v1/settings\` \`{"requireIfMatch": true}\`): without it those operations answer 428.
- **Caching**: send the ETag you hold as \`If-None-Match\` on a GET of a record: 304 Not Modified, no body, when it
  is still current.
- **Quota**: each organisation may make \`tenantRateLimit\` requests per second (a fixed 10-second window, so bursts
  up to 10× that are fine); beyond it, 429 problem+json with \`Retry-After\` (seconds) until the window ends.
- **Errors**: \`application/problem+json\` (RFC 9457) with a stable \`code\` and, for invalid input, \`fieldErrors\`.`;

/** RFC 9457 problem details as shared/http/problem.ts emits them (hand-written: no zod registry id to collide). */
const PROBLEM_SCHEMA: Json = {
  type: 'object',
  description: 'RFC 9457 problem details with a stable machine-readable `code`.',
  properties: {
    type: { type: 'string', description: 'A URI naming the kind of problem.' },
    title: { type: 'string', description: 'Short summary of the status, e.g. "Not Found".' },
    status: { type: 'integer', description: 'The HTTP status.' },
    detail: { type: 'string', description: 'Human-readable explanation of this occurrence.' },
    code: { type: 'string', description: 'Stable code to branch on, e.g. `contact.not_found`.' },
    instance: { type: 'string', description: 'The request id; quote it when reporting a problem.' },
    fieldErrors: { type: 'array', items: { $ref: '#/components/schemas/FieldError' } },
  },
  required: ['type', 'title', 'status', 'code'],
  additionalProperties: true,
};

const FIELD_ERROR_SCHEMA: Json = {
  type: 'object',
  properties: {
    field: {
      type: 'string',
      description: 'Where: `body.emails.1`, `query.limit`, `path.contactId`, `header.If-Match`.',
    },
    message: { type: 'string' },
    code: { type: 'string', description: 'The validation rule that failed, e.g. `too_big`.' },
  },
  required: ['field', 'message'],
};

/** What API Gateway itself answers with (authorizer refusals, throttling, a crashed function): not problem+json. */
const GATEWAY_MESSAGE_SCHEMA: Json = {
  type: 'object',
  description: 'Error body written by API Gateway itself, before or instead of the function.',
  properties: { message: { type: 'string', examples: ['Unauthorized'] } },
  required: ['message'],
};

const problemContent = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };
const gatewayContent = { 'application/json': { schema: { $ref: '#/components/schemas/GatewayMessage' } } };

/** Reusable error responses, keyed by status. */
const ERROR_RESPONSES: Record<number, { name: string; response: Json }> = {
  301: {
    name: 'MovedPermanently',
    response: {
      description:
        'The record was merged into another: `Location` is its path, and the problem body carries `mergedInto`.',
      headers: { Location: { description: 'The path of the record it was merged into.', schema: { type: 'string' } } },
      content: problemContent,
    },
  },
  400: {
    name: 'BadRequest',
    response: { description: 'Invalid path, query, header or body; see `fieldErrors`.', content: problemContent },
  },
  401: {
    name: 'Unauthorized',
    response: {
      description: 'No valid bearer token (API Gateway answers `{"message":"Unauthorized"}`).',
      content: { ...problemContent, ...gatewayContent },
    },
  },
  403: { name: 'Forbidden', response: { description: 'Your roles do not allow this.', content: problemContent } },
  404: { name: 'NotFound', response: { description: 'No such record in your tenant.', content: problemContent } },
  409: {
    name: 'Conflict',
    response: { description: 'Conflicts with the current state, or a concurrent change.', content: problemContent },
  },
  412: {
    name: 'PreconditionFailed',
    response: {
      description: 'If-Match names no current version (a stale, unknown or weak tag).',
      content: problemContent,
    },
  },
  413: {
    name: 'ContentTooLarge',
    response: {
      description:
        'The body exceeds 64 KiB (`request.too_large`), or the record would take more than 64 KiB as stored ' +
        '(`record.too_large`, with `fieldErrors` naming its largest fields).',
      content: problemContent,
    },
  },
  415: {
    name: 'UnsupportedMediaType',
    response: { description: 'The body is not `application/json`.', content: problemContent },
  },
  422: {
    name: 'UnprocessableContent',
    response: { description: 'Idempotency-Key reused with a different request.', content: problemContent },
  },
  428: {
    name: 'PreconditionRequired',
    response: {
      description: 'Your organisation requires If-Match on this operation (settings `requireIfMatch`).',
      content: problemContent,
    },
  },
  429: {
    name: 'TooManyRequests',
    response: {
      description:
        "Your organisation's request quota for the current window is spent (problem+json, `Retry-After` in " +
        'seconds), or the API stage is throttled (API Gateway answers `{"message":"Too Many Requests"}`).',
      headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } },
      content: { ...problemContent, ...gatewayContent },
    },
  },
  500: {
    name: 'InternalServerError',
    response: {
      description: 'Unexpected failure; the problem carries the request id (API Gateway answers `{message}`).',
      content: { ...problemContent, ...gatewayContent },
    },
  },
};

const HEADER_PARAMETERS = {
  IdempotencyKey: {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    description:
      'Makes the POST safe to retry: a repeat with the same key and body replays the first response; the same key ' +
      'with a different body is refused with 422. Use a fresh UUID per logical request.',
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
  },
  IfMatch: {
    name: 'If-Match',
    in: 'header',
    required: false,
    description:
      'The ETag of the version you read, e.g. `"3"` (or a list, `"3", "4"`): the change is refused with 412 unless ' +
      'one of them is the current version, compared strongly (a weak `W/"3"` never matches). `*`: any current ' +
      'version. Required (428 without it) when your organisation set `requireIfMatch`.',
    schema: { type: 'string', examples: ['"3"', '*'] },
  },
  IfNoneMatch: {
    name: 'If-None-Match',
    in: 'header',
    required: false,
    description:
      'The ETag of the copy you hold (or a list; weak tags match too): 304 Not Modified, without a body, when it is ' +
      'still the current version.',
    schema: { type: 'string', examples: ['"3"'] },
  },
};

const RESPONSE_HEADERS = {
  ETag: { description: "The record's version, for If-Match.", schema: { type: 'string', examples: ['"3"'] } },
  Location: { description: 'Where the new record lives.', schema: { type: 'string' } },
  RetryAfter: {
    description: 'Seconds until the quota window ends and requests are served again.',
    schema: { type: 'string', pattern: '^[0-9]+$', examples: ['7'] },
  },
  IdempotentReplayed: {
    description: '`true` when this is the replayed response of an earlier request with the same Idempotency-Key.',
    schema: { type: 'string', enum: ['true'] },
  },
};

/**
 * The OpenAPI 3.1 document of every route in the table, with request and response schemas generated from their zod
 * schemas (JSON Schema 2020-12, OpenAPI 3.1's dialect). Schemas named with `.meta({ id })` become components.
 */
export function buildOpenApi(table: readonly RouteDefinition[] = routes): OpenApiDocument {
  const schemas = new SchemaCollector();
  const paths: OpenApiDocument['paths'] = {};
  const usedErrors = new Set<number>();
  const tags: string[] = [];
  const operationIds = new Set<string>();

  for (const route of table) {
    if (operationIds.has(route.operationId)) throw new Error(`duplicate operationId ${route.operationId}`);
    operationIds.add(route.operationId);
    if (!tags.includes(route.tag)) tags.push(route.tag);
    const errors = errorStatuses(route);
    for (const status of errors) usedErrors.add(status);
    const success = successResponse(route, schemas);
    const revalidates = answersNotModified(route, success);

    const operation: OpenApiOperation = {
      operationId: route.operationId,
      summary: route.summary,
      description: describe(route),
      tags: [route.tag],
      security: route.permission === 'public' ? [] : [{ bearerAuth: [] }],
      parameters: [
        ...objectParameters(route, 'path', schemas),
        ...objectParameters(route, 'query', schemas),
        ...(route.idempotent ? [{ $ref: '#/components/parameters/IdempotencyKey' }] : []),
        ...(route.conditional ? [{ $ref: '#/components/parameters/IfMatch' }] : []),
        ...(revalidates ? [{ $ref: '#/components/parameters/IfNoneMatch' }] : []),
      ],
      responses: {
        [String(route.response.status)]: success,
        ...(revalidates ? { '304': NOT_MODIFIED } : {}),
        ...Object.fromEntries(
          errors.map((status) => [String(status), { $ref: `#/components/responses/${ERROR_RESPONSES[status]!.name}` }]),
        ),
      },
    };
    if (route.body) {
      operation.requestBody = {
        required: true,
        content: {
          'application/json': { schema: schemas.convert(route.body, 'input') },
          // An HTML form posts the same fields url-encoded (each value a string).
          ...(route.acceptsForm
            ? { 'application/x-www-form-urlencoded': { schema: schemas.convert(route.body, 'input') } }
            : {}),
          ...(route.acceptsMultipart
            ? { 'multipart/form-data': { schema: schemas.convert(route.body, 'input') } }
            : {}),
        },
      };
    }
    const pathItem = paths[route.path] ?? {};
    paths[route.path] = pathItem;
    const method = route.method.toLowerCase();
    if (pathItem[method]) throw new Error(`duplicate route ${route.method} ${route.path}`);
    pathItem[method] = operation;
  }

  const document: OpenApiDocument = {
    openapi: '3.1.1',
    info: {
      title: 'CRM API',
      version: API_VERSION,
      description: DESCRIPTION,
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/' }],
    tags: tags.map((name) => (TAG_DESCRIPTIONS[name] ? { name, description: TAG_DESCRIPTIONS[name] } : { name })),
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      schemas: {
        ...schemas.finish(),
        Problem: PROBLEM_SCHEMA,
        FieldError: FIELD_ERROR_SCHEMA,
        GatewayMessage: GATEWAY_MESSAGE_SCHEMA,
      },
      parameters: HEADER_PARAMETERS,
      headers: RESPONSE_HEADERS,
      responses: Object.fromEntries(
        [...usedErrors].sort((a, b) => a - b).map((s) => [ERROR_RESPONSES[s]!.name, ERROR_RESPONSES[s]!.response]),
      ),
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'A Cognito (or, locally, the local issuer) ID token carrying `custom:tenantId` and roles.',
        },
      },
    },
  };
  // Refs were written with per-direction placeholders; now that every component has its final name, resolve them.
  return schemas.resolveRefs(document) as OpenApiDocument;
}

/** Which problem responses a route can produce, from what it declares. */
export function errorStatuses(route: RouteDefinition): number[] {
  const isPublic = route.permission === 'public';
  // Authenticated reads also parse If-None-Match, which can be malformed.
  const readsConditionally = route.method === 'GET' && !isPublic;
  const validated = Boolean(
    route.params || route.query || route.body || route.idempotent || route.conditional || readsConditionally,
  );
  const statuses = [
    route.redirectsMerged && 301,
    validated && 400,
    !isPublic && 401,
    (!isPublic || route.acceptsForm) && 403,
    route.params && 404,
    !isPublic && route.method !== 'GET' && 409,
    route.conditional && 412,
    route.body && 413,
    route.body && 415,
    route.idempotent && 422,
    route.conditional && 428,
    429,
    500,
  ];
  return statuses.filter((s): s is number => typeof s === 'number');
}

const NOT_MODIFIED: Json = {
  description: 'If-None-Match names the current version: your copy is current. No body.',
  headers: { ETag: { $ref: '#/components/headers/ETag' } },
};

/** Authenticated reads of one versioned record (their 200 carries an ETag) honour If-None-Match. */
function answersNotModified(route: RouteDefinition, success: Json): boolean {
  const headers = success.headers as Json | undefined;
  return route.method === 'GET' && route.permission !== 'public' && headers?.ETag !== undefined;
}

function describe(route: RouteDefinition): string {
  const access =
    route.permission === 'public' ? 'Public: no token needed.' : `Requires the \`${route.permission}\` permission.`;
  return route.description ? `${route.description}\n\n${access}` : access;
}

function successResponse(route: RouteDefinition, schemas: SchemaCollector): Json {
  const { status, schema, description, contentType } = route.response;
  const response: Json = { description };
  const headers: Json = {};
  if (schema) {
    const json = schemas.convert(schema, 'output');
    response.content = { [contentType ?? 'application/json']: { schema: json } };
    if (route.conditional || schemas.hasProperty(json, 'version', 'output')) {
      headers.ETag = { $ref: '#/components/headers/ETag' };
    }
  } else if (contentType) {
    response.content = { [contentType]: { schema: { type: 'string' } } };
  }
  if (status === 201) headers.Location = { $ref: '#/components/headers/Location' };
  if (route.idempotent) headers['Idempotent-Replayed'] = { $ref: '#/components/headers/IdempotentReplayed' };
  if (Object.keys(headers).length > 0) response.headers = headers;
  return response;
}

/** Path or query parameters: one per property of the route's object schema, each with its own schema. */
function objectParameters(route: RouteDefinition, where: 'path' | 'query', schemas: SchemaCollector): Json[] {
  const object = where === 'path' ? route.params : route.query;
  const placeholders = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  const shape: Record<string, z.ZodType> = object ? (object.shape as Record<string, z.ZodType>) : {};
  if (where === 'path') {
    const declared = Object.keys(shape);
    const missing = placeholders.filter((p) => !declared.includes(p));
    const extra = declared.filter((p) => !placeholders.includes(p));
    if (missing.length > 0 || extra.length > 0) {
      throw new Error(
        `${route.operationId}: path ${route.path} and params schema disagree on ${[...missing, ...extra]}`,
      );
    }
  }
  return Object.entries(shape).map(([name, property]) => {
    const { description, ...schema } = schemas.convert(property, 'input');
    return {
      name,
      in: where,
      // Query values that may be left out (optional or defaulted) are not required; path ones always are.
      required: where === 'path' || !property.safeParse(undefined).success,
      ...(typeof description === 'string' ? { description } : {}),
      schema,
    };
  });
}

const placeholder = (io: Io, id: string) => `#/components/schemas/~${io}~${id}`;
const PLACEHOLDER = /^#\/components\/schemas\/~(input|output)~(.+)$/;

/**
 * Turns zod schemas into JSON Schema and collects the named ones (`.meta({ id })`) as components. The same id may
 * describe different JSON in request (input) and response (output) direction, e.g. with defaults or transforms; then
 * the request one is named `<id>Input`.
 */
class SchemaCollector {
  private readonly defs = { input: new Map<string, Json>(), output: new Map<string, Json>() };
  private names?: { input: Map<string, string>; output: Map<string, string> };

  convert(schema: z.ZodType, io: Io): Json {
    const { $schema: _, $defs, ...root } = toJsonSchema(schema, io);
    for (const [id, def] of Object.entries(($defs ?? {}) as Record<string, Json>)) {
      const json = rewriteRefs(def, io);
      const known = this.defs[io].get(id);
      if (known && JSON.stringify(known) !== JSON.stringify(json)) {
        throw new Error(`two different ${io} schemas share the id ${id}`);
      }
      this.defs[io].set(id, json);
    }
    return rewriteRefs(root, io);
  }

  /** Whether a converted schema (possibly a $ref) has a top-level property. */
  hasProperty(json: Json, property: string, io: Io): boolean {
    const target = typeof json.$ref === 'string' ? this.defs[io].get(PLACEHOLDER.exec(json.$ref)?.[2] ?? '') : json;
    const properties = target?.properties as Json | undefined;
    return properties !== undefined && property in properties;
  }

  /** The components, with final names. */
  finish(): Record<string, Json> {
    const ids = new Set([...this.defs.input.keys(), ...this.defs.output.keys()]);
    // An id splits when its two directions differ, or when it refers to an id that split (its refs then differ).
    const neutral = (json: Json | undefined) => JSON.stringify(json)?.replace(/~(input|output)~/g, '~');
    const split = new Set<string>();
    for (const id of ids) {
      const input = this.defs.input.get(id);
      const output = this.defs.output.get(id);
      if (input && output && neutral(input) !== neutral(output)) split.add(id);
    }
    for (let grew = true; grew; ) {
      grew = false;
      for (const id of ids) {
        if (split.has(id) || !this.defs.input.has(id) || !this.defs.output.has(id)) continue;
        const refs = JSON.stringify(this.defs.input.get(id)).match(/~input~[^"]+/g) ?? [];
        if (refs.some((ref) => split.has(ref.slice('~input~'.length)))) {
          split.add(id);
          grew = true;
        }
      }
    }
    const names = { input: new Map<string, string>(), output: new Map<string, string>() };
    const components: Record<string, Json> = {};
    for (const io of ['output', 'input'] as const) {
      for (const [id, json] of this.defs[io]) {
        const name = io === 'input' && split.has(id) ? `${id}Input` : id;
        if (name in components && split.has(id)) throw new Error(`schema component name ${name} is taken`);
        names[io].set(id, name);
        components[name] ??= json;
      }
    }
    this.names = names;
    return Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b)));
  }

  resolveRefs(value: unknown): unknown {
    const names = this.names;
    if (!names) throw new Error('finish() first');
    const walk = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(walk);
      if (node === null || typeof node !== 'object') return node;
      return Object.fromEntries(
        Object.entries(node).map(([key, child]) => {
          const match = key === '$ref' && typeof child === 'string' ? PLACEHOLDER.exec(child) : null;
          if (!match) return [key, walk(child)];
          const name = names[match[1] as Io].get(match[2]!);
          if (!name) throw new Error(`unresolved schema reference ${child}`);
          return [key, `#/components/schemas/${name}`];
        }),
      );
    };
    return walk(value);
  }
}

function rewriteRefs(json: Json, io: Io): Json {
  const text = JSON.stringify(json).replace(/"\$ref":"#\/\$defs\/([^"]+)"/g, (_m, id: string) => {
    return `"$ref":${JSON.stringify(placeholder(io, decodeURIComponent(id).replace(/~1/g, '/').replace(/~0/g, '~')))}`;
  });
  return JSON.parse(text) as Json;
}

function toJsonSchema(schema: z.ZodType, io: Io): Json {
  return z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    // e.g. z.record(..., z.unknown()) values and transform outputs: described as "anything" rather than failing.
    unrepresentable: 'any',
    override: (ctx) => {
      // A transform's output type is unknown to zod. Ours only normalise (trim, case, de-duplicate) and keep the
      // type, so a response field is described by what went into the transform.
      const def = ctx.zodSchema._zod.def as { type: string; in?: z.ZodType; out?: { _zod: { def: { type: string } } } };
      if (io !== 'output' || def.type !== 'pipe' || def.out?._zod.def.type !== 'transform' || !def.in) return;
      const { $schema: _, $defs, ...inner } = toJsonSchema(def.in, io);
      if ($defs === undefined) Object.assign(ctx.jsonSchema, { ...inner, ...ctx.jsonSchema });
    },
  }) as Json;
}
