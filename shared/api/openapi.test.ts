import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Contact, ContactListQuery } from '../contacts/schema.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { toProblem } from '../http/problem.ts';
import { API_VERSION, buildOpenApi, errorStatuses, type OpenApiDocument } from './openapi.ts';
import type { RouteDefinition } from './route.ts';
import { routes } from './routes.ts';

const doc = buildOpenApi();
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
);
const op = (operationId: string) => {
  const found = operations.find((o) => o.operation.operationId === operationId);
  if (!found) throw new Error(`no operation ${operationId}`);
  return found.operation;
};

/** Resolves a local JSON pointer ref like #/components/schemas/Contact. */
function resolveRef(document: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) throw new Error(`non-local ref ${ref}`);
  let node: unknown = document;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function collectRefs(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) for (const child of node) collectRefs(child, found);
  else if (node !== null && typeof node === 'object') {
    for (const [key, child] of Object.entries(node)) {
      if (key === '$ref' && typeof child === 'string') found.push(child);
      else collectRefs(child, found);
    }
  }
  return found;
}

/** Parameters with header refs resolved. */
function parameters(operationId: string): Array<Record<string, unknown>> {
  return op(operationId).parameters.map((p) =>
    typeof p.$ref === 'string' ? (resolveRef(doc, p.$ref) as Record<string, unknown>) : p,
  );
}

/** Ajv over the document's component schemas (JSON Schema 2020-12, as OpenAPI 3.1 uses). */
function schemaValidator(document: OpenApiDocument) {
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema({ $id: 'https://crm.invalid/openapi.json', components: { schemas: document.components.schemas } });
  return (name: string) => ajv.compile({ $ref: `https://crm.invalid/openapi.json#/components/schemas/${name}` });
}

describe('buildOpenApi', () => {
  it('is an OpenAPI 3.1 document that a validator accepts', async () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: 'CRM API', version: API_VERSION });
    expect(doc.servers).toEqual([{ url: '/' }]);
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
  });

  it('the validator does catch a broken document (so the check above means something)', async () => {
    const broken = structuredClone(doc) as unknown as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    broken.paths['/v1/contacts']!.get!.responses['200'] = { content: {} }; // description is required
    await expect(SwaggerParser.validate(broken as never)).rejects.toThrow(/description/);
  });

  it('keeps info.version equal to package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(API_VERSION).toBe(pkg.version);
  });

  it('has every route of the table, under its method and path, and nothing else', () => {
    expect(operations).toHaveLength(routes.length);
    for (const route of routes as readonly RouteDefinition[]) {
      const operation = doc.paths[route.path]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${route.path}`).toBeDefined();
      expect(operation).toMatchObject({ operationId: route.operationId, summary: route.summary, tags: [route.tag] });
      if (route.description) expect(operation!.description).toContain(route.description);
    }
  });

  it('has unique operationIds', () => {
    const ids = operations.map((o) => o.operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('resolves every $ref inside the document', () => {
    const refs = collectRefs(doc);
    expect(refs.length).toBeGreaterThan(50);
    for (const ref of new Set(refs)) expect(resolveRef(doc, ref), ref).toBeDefined();
    expect(refs.some((ref) => ref.includes('$defs'))).toBe(false);
  });

  it('declares a required path parameter for every {param} of every path', () => {
    for (const { path, operation } of operations) {
      const declared = parameters(operation.operationId)
        .filter((p) => p.in === 'path')
        .map((p) => p.name);
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      expect(declared.sort(), `${operation.operationId}`).toEqual(inPath.sort());
      for (const p of parameters(operation.operationId).filter((p) => p.in === 'path')) expect(p.required).toBe(true);
    }
  });

  it('lists each query property as its own parameter with its schema and description', () => {
    const query = parameters('listContacts').filter((p) => p.in === 'query');
    expect(query.map((p) => p.name).sort()).toEqual(Object.keys(ContactListQuery.shape).sort());
    const byName = Object.fromEntries(query.map((p) => [p.name, p]));
    expect(byName.q).toMatchObject({ required: false, description: 'Name prefix, e.g. "ada lo".' });
    expect(byName.q!.schema).toMatchObject({ type: 'string', minLength: 1, maxLength: 100 });
    expect(byName.limit).toMatchObject({ required: false, schema: { type: 'integer', minimum: 1, maximum: 100 } });
    expect(byName.lifecycleStage!.schema).toMatchObject({ type: 'string', enum: expect.arrayContaining(['lead']) });
    // Query strings carry strings: the request (input) side of the schema is documented, not the transformed output.
    expect(byName.inTrash!.schema).toMatchObject({ type: 'string', enum: ['true', 'false'] });
    expect(parameters('contactTimeline').map((p) => p.name)).toEqual(['contactId', 'limit', 'cursor']);
  });

  it('documents Idempotency-Key on idempotent routes and If-Match, ETag and 412 on conditional ones', () => {
    for (const route of routes as readonly RouteDefinition[]) {
      const names = parameters(route.operationId)
        .filter((p) => p.in === 'header')
        .map((p) => p.name);
      expect(names.includes('Idempotency-Key'), route.operationId).toBe(Boolean(route.idempotent));
      expect(names.includes('If-Match'), route.operationId).toBe(Boolean(route.conditional));
      const responses = op(route.operationId).responses;
      expect('412' in responses, route.operationId).toBe(Boolean(route.conditional));
      const success = responses[String(route.response.status)] as { headers?: Record<string, unknown> };
      if (route.conditional && route.response.status !== 204) expect(success.headers).toHaveProperty('ETag');
      if (route.response.status === 201) expect(success.headers).toHaveProperty('Location');
    }
    // Reads of a record also carry its version as ETag.
    expect(op('getContact').responses['200']).toMatchObject({ headers: { ETag: expect.anything() } });
    expect(op('listContacts').responses['200']).not.toHaveProperty('headers');
  });

  it('documents conditional reads (If-None-Match, 304), required If-Match (428) and the quota (429, Retry-After)', () => {
    for (const operationId of ['getContact', 'getCompany', 'getNote', 'getCustomFields', 'getSettings']) {
      expect(
        parameters(operationId).map((p) => p.name),
        operationId,
      ).toContain('If-None-Match');
      expect(op(operationId).responses['304'], operationId).toMatchObject({ headers: { ETag: expect.anything() } });
      expect(op(operationId).responses['304']).not.toHaveProperty('content');
      expect(Object.keys(op(operationId).responses), operationId).toContain('400');
    }
    for (const operationId of ['listContacts', 'contactHistory', 'getOpenApi', 'patchContact', 'createContact']) {
      expect(
        parameters(operationId).map((p) => p.name),
        operationId,
      ).not.toContain('If-None-Match');
      expect(op(operationId).responses, operationId).not.toHaveProperty('304');
    }
    for (const route of routes as readonly RouteDefinition[]) {
      expect('428' in op(route.operationId).responses, route.operationId).toBe(Boolean(route.conditional));
    }
    const tooMany = doc.components.responses.TooManyRequests as { headers: Record<string, unknown>; content: object };
    expect(tooMany.headers).toEqual({ 'Retry-After': { $ref: '#/components/headers/RetryAfter' } });
    expect(tooMany.content).toHaveProperty('application/problem+json');
    expect(doc.components.headers).toHaveProperty('RetryAfter');
    expect(op('patchSettings').requestBody).toEqual({
      required: true,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/SettingsPatch' } } },
    });
  });

  it('takes request bodies as application/json and documents success content', () => {
    expect(op('createContact').requestBody).toEqual({
      required: true,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/ContactCreate' } } },
    });
    expect(op('listContacts')).not.toHaveProperty('requestBody');
    expect(op('getContact').responses['200']).toMatchObject({
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Contact' } } },
    });
    expect(op('deleteContact').responses['204']).not.toHaveProperty('content');
    expect(op('getDocs').responses['200']).toMatchObject({ content: { 'text/html': { schema: { type: 'string' } } } });
  });

  it('puts the named zod schemas into components', () => {
    for (const name of [
      'Contact',
      'ContactCreate',
      'ContactPatch',
      'ContactSummary',
      'Company',
      'CompanySummary',
      'Note',
      'TimelineEntry',
      'Problem',
    ]) {
      expect(doc.components.schemas, name).toHaveProperty(name);
    }
    // Page wrappers are inline, their items by reference; lists served by lookups hold summaries.
    const page = (op('listContacts').responses['200'] as { content: Record<string, { schema: unknown }> }).content;
    expect(page['application/json']!.schema).toMatchObject({
      type: 'object',
      properties: {
        items: {
          type: 'array',
          items: {
            anyOf: [{ $ref: '#/components/schemas/Contact' }, { $ref: '#/components/schemas/ContactSummary' }],
          },
        },
      },
    });
    const notes = (op('listContactNotes').responses['200'] as { content: Record<string, { schema: unknown }> }).content;
    expect(notes['application/json']!.schema).toMatchObject({
      properties: { items: { type: 'array', items: { $ref: '#/components/schemas/Note' } } },
    });
  });

  it('describes errors as problem+json with the shared Problem schema', () => {
    for (const { operation } of operations) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) < 400) continue;
        const resolved = resolveRef(doc, response.$ref as string) as { content: Record<string, { schema: unknown }> };
        const problem = resolved.content['application/problem+json'];
        // 429 comes from the tenant quota (problem+json) or from API Gateway's throttling, before any function
        // runs: its own {message} body.
        if (status === '429') expect(resolved.content).toHaveProperty('application/json');
        if (status === '429') expect(problem?.schema).toEqual({ $ref: '#/components/schemas/Problem' });
        else
          expect(problem?.schema, `${operation.operationId} ${status}`).toEqual({
            $ref: '#/components/schemas/Problem',
          });
      }
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['429', '500']));
    }
    expect(Object.keys(op('patchContact').responses).sort()).toEqual(
      ['200', '400', '401', '403', '404', '409', '412', '413', '415', '428', '429', '500'].sort(),
    );
    expect(Object.keys(op('createContact').responses)).toEqual(expect.arrayContaining(['413', '415', '422']));
    expect(Object.keys(op('getOpenApi').responses).sort()).toEqual(['200', '429', '500']);
  });

  it('secures every non-public operation with the bearer JWT scheme, and none of the public ones', () => {
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
    for (const route of routes as readonly RouteDefinition[]) {
      const operation = op(route.operationId);
      if (route.permission === 'public') {
        expect(operation.security, route.operationId).toEqual([]);
      } else {
        expect(operation.security, route.operationId).toEqual([{ bearerAuth: [] }]);
        expect(operation.description).toContain(`\`${route.permission}\``);
        expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403']));
      }
    }
  });

  describe('schemas mean what the zod schemas mean', () => {
    const validator = schemaValidator(doc);

    it('Problem matches what the handler emits', () => {
      const valid = validator('Problem');
      const invalid = toProblem(
        new ValidationError('bad', [{ field: 'body.firstName', message: 'x', code: 'y' }]),
        'r1',
      );
      expect(valid(toProblem(new NotFoundError('contact', 'c1'), 'r1')), JSON.stringify(valid.errors)).toBe(true);
      expect(valid(invalid), JSON.stringify(valid.errors)).toBe(true);
      expect(valid(toProblem(new Error('boom'), 'r1'))).toBe(true);
      expect(valid({ title: 'no code' })).toBe(false);
    });

    it('request schemas accept what zod accepts and refuse unknown fields', () => {
      const create = validator('ContactCreate');
      const body = { firstName: 'Ada', emails: ['ADA@Example.com'], address: { country: 'de' }, tags: ['VIP'] };
      expect(create(body), JSON.stringify(create.errors)).toBe(true);
      expect(create({ firstName: 'Ada', shoeSize: 42 })).toBe(false);
      expect(create({ emails: 'not-a-list' })).toBe(false);
      const patch = validator('ContactPatch');
      expect(patch({ jobTitle: null, address: { city: null } }), JSON.stringify(patch.errors)).toBe(true);
    });

    it('a record as the service returns it matches the response schema', () => {
      const contact = Contact.parse({
        id: '01J00000000000000000000000',
        firstName: 'Ada',
        emails: ['ada@example.com'],
        phones: [],
        tags: ['vip'],
        address: { country: 'gb' },
        customFields: { tier: 'gold' },
        version: 3,
        createdAt: '2026-01-01T00:00:00.000Z',
        updatedAt: '2026-01-02T00:00:00.000Z',
      });
      const valid = validator('Contact');
      expect(valid(JSON.parse(JSON.stringify(contact))), JSON.stringify(valid.errors)).toBe(true);
      expect(valid({ ...contact, version: 'three' })).toBe(false);
    });
  });

  describe('with other route tables', () => {
    const base = {
      group: 'contacts',
      permission: 'contacts:read',
      tag: 'Test',
      summary: 'test',
      response: { status: 200, description: 'ok' },
    } as const;

    it('refuses a path whose {param} the params schema does not declare', () => {
      const route: RouteDefinition = { ...base, operationId: 'x', method: 'GET', path: '/v1/x/{xId}' };
      expect(() => buildOpenApi([route])).toThrow(/xId/);
    });

    it('refuses duplicate operationIds', () => {
      const route: RouteDefinition = { ...base, operationId: 'x', method: 'GET', path: '/v1/x' };
      expect(() => buildOpenApi([route, { ...route, path: '/v1/y' }])).toThrow(/duplicate operationId/);
    });

    it('names a schema that differs between request and response <id>Input for the request', () => {
      const Thing = z.strictObject({ size: z.number().int().default(1) }).meta({ id: 'OpenApiTestThing' });
      const table: RouteDefinition[] = [
        { ...base, operationId: 'put', method: 'PUT', path: '/v1/thing', body: Thing, response: { ...base.response } },
        {
          ...base,
          operationId: 'get',
          method: 'GET',
          path: '/v1/thing',
          response: { status: 200, schema: Thing, description: 'ok' },
        },
      ];
      const document = buildOpenApi(table);
      const { schemas } = document.components;
      expect(schemas.OpenApiTestThing).toMatchObject({ required: ['size'] });
      expect(schemas.OpenApiTestThingInput).not.toHaveProperty('required');
      expect(document.paths['/v1/thing']!.put!.requestBody).toMatchObject({
        content: { 'application/json': { schema: { $ref: '#/components/schemas/OpenApiTestThingInput' } } },
      });
    });
  });

  it('derives error statuses from what a route declares', () => {
    const get = routes.find((r) => r.operationId === 'getContact')!;
    // 301: a merged contact redirects to the one it was merged into.
    expect(errorStatuses(get)).toEqual([301, 400, 401, 403, 404, 429, 500]);
    const note = routes.find((r) => r.operationId === 'getNote')!;
    expect(errorStatuses(note)).toEqual([400, 401, 403, 404, 429, 500]);
  });
});
