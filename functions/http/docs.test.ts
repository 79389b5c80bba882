import { execSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { DOCS_ASSETS, DOCS_SCRIPT, docsAssetCopyCommands } from '../../shared/api/docs-assets.ts';
import { buildOpenApi } from '../../shared/api/openapi.ts';
import { DOCS_CSP, handler } from './docs.ts';

type Handler = (event: APIGatewayProxyEventV2WithJWTAuthorizer, context: Context) => Promise<unknown>;

const context = { awsRequestId: 'test', functionName: 'docs', getRemainingTimeInMillis: () => 10_000 } as Context;

/** An API Gateway payload 2.0 event for a public route: no authorizer claims. */
function event(routeKey: string, rawPath: string, pathParameters?: Record<string, string>) {
  const [method] = routeKey.split(' ');
  return {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString: '',
    headers: { accept: '*/*' },
    ...(pathParameters ? { pathParameters } : {}),
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'test',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId: 'req-1',
      routeKey,
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
  } as unknown as APIGatewayProxyEventV2WithJWTAuthorizer;
}

async function call(routeKey: string, rawPath: string, params?: Record<string, string>, fn: Handler = handler) {
  const result = (await fn(event(routeKey, rawPath, params), context)) as APIGatewayProxyStructuredResultV2;
  return {
    status: result.statusCode,
    headers: (result.headers ?? {}) as Record<string, string>,
    body: result.body ?? '',
  };
}

const asset = (name: string, fn?: Handler) => call('GET /docs/{asset}', `/docs/${name}`, { asset: name }, fn);

describe('docs handler', () => {
  it('serves the OpenAPI document', async () => {
    const response = await call('GET /v1/openapi.json', '/v1/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['cache-control']).toBe('public, max-age=300');
    const document = JSON.parse(response.body);
    expect(document).toEqual(JSON.parse(JSON.stringify(buildOpenApi())));
    expect(document.paths['/v1/contacts'].post.operationId).toBe('createContact');
    // Built once per container: the second answer is the same text.
    expect((await call('GET /v1/openapi.json', '/v1/openapi.json')).body).toBe(response.body);
  });

  it('serves the reference page with a strict same-origin CSP', async () => {
    const response = await call('GET /docs', '/docs');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['content-security-policy']).toBe(DOCS_CSP);
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(DOCS_CSP).toContain("default-src 'none'");
    expect(DOCS_CSP).toContain("script-src 'self'");
    expect(DOCS_CSP).not.toMatch(/https?:|\*/);
    // The page references only this function's own URLs: the spec and the renderer's script.
    expect(response.body).toContain('spec-url="v1/openapi.json"');
    expect(response.body).toMatch(/<script src="docs\/redoc\.standalone\.js\?v=[0-9a-f]{16}"><\/script>/);
    expect(response.body).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(response.body).not.toMatch(/<script>/);
  });

  it("serves the renderer's script with a long cache life, versioned by its content", async () => {
    const response = await asset(DOCS_SCRIPT);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(response.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(response.body.length).toBeGreaterThan(500_000);
    // Redoc's footer logo is its one off-machine URL; it is served without it.
    expect(response.body).not.toContain('cdn.redoc.ly');
    const page = await call('GET /docs', '/docs');
    const version = createHash('sha256').update(response.body).digest('hex').slice(0, 16);
    expect(page.body).toContain(`?v=${version}`);
  });

  it('serves every listed asset, and the licences as text', async () => {
    for (const { name, contentType } of DOCS_ASSETS) {
      const response = await asset(name);
      expect(response.status, name).toBe(200);
      expect(response.headers['content-type']).toBe(contentType);
    }
    expect((await asset('redoc.license.txt')).body).toContain('MIT License');
  });

  it('answers 404 problem+json for an unknown asset and 400 for a malformed name', async () => {
    const missing = await asset('swagger-ui.js');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(missing.body)).toMatchObject({ status: 404, code: 'asset.not_found' });
    const traversal = await asset('../../package.json');
    expect(traversal.status).toBe(400);
    expect(JSON.parse(traversal.body)).toMatchObject({ code: 'request.invalid' });
    expect((await call('GET /v1/contacts', '/v1/contacts')).status).toBe(404);
  });

  describe('bundled like CDK bundles it', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'docs-bundle-'));
    afterAll(() => rmSync(outdir, { recursive: true, force: true }));

    it('reads the assets copied next to index.mjs', async () => {
      await build({
        entryPoints: [new URL('./docs.ts', import.meta.url).pathname],
        outfile: join(outdir, 'index.mjs'),
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node24',
        logLevel: 'silent',
        // CommonJS dependencies in an ESM bundle need require (CDK users add the same banner).
        banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
      });
      const projectRoot = new URL('../..', import.meta.url).pathname;
      for (const command of docsAssetCopyCommands(projectRoot, outdir)) execSync(command);
      // Mark the copy, to tell it apart from the file in node_modules.
      appendFileSync(join(outdir, DOCS_SCRIPT), '\n/* bundled copy */\n');
      const bundled = (await import(pathToFileURL(join(outdir, 'index.mjs')).href)) as { handler: Handler };

      const script = await asset(DOCS_SCRIPT, bundled.handler);
      expect(script.status).toBe(200);
      expect(script.body).toContain('/* bundled copy */');
      expect(script.body).not.toContain('cdn.redoc.ly');
      expect(readFileSync(join(outdir, 'redoc.license.txt'), 'utf8')).toContain('MIT');
      const page = await call('GET /docs', '/docs', undefined, bundled.handler);
      expect(page.status).toBe(200);
    });
  });
});
