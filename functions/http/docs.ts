import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCS_ASSETS, DOCS_SCRIPT, type DocsAsset } from '../../shared/api/docs-assets.ts';
import { buildOpenApi } from '../../shared/api/openapi.ts';
import { routes } from '../../shared/api/routes.ts';
import { NotFoundError } from '../../shared/errors.ts';
import { httpApi } from '../../shared/http/handler.ts';
import type { ApiResponse } from '../../shared/http/request.ts';

/**
 * The page may load only what this function serves: Redoc's script, the spec and its inline styles
 * (styled-components), its search worker (a blob: URL) and inline images. Nothing from any other origin.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The one off-machine URL in Redoc 2.x's bundle (its footer logo) becomes an empty inline image. */
const REDOC_LOGO = 'https://cdn.redoc.ly/redoc/logo-mini.svg';
const EMPTY_IMAGE = 'data:image/svg+xml,%3Csvg xmlns=%27http://www.w3.org/2000/svg%27/%3E';

const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };

// Built once per container: the route table cannot change while it runs.
let openApiJson: string | undefined;
let docsHtml: string | undefined;
const assetCache = new Map<string, string>();

export const handler = httpApi(routes, 'docs', {
  getOpenApi: async () => {
    openApiJson ??= JSON.stringify(buildOpenApi());
    return {
      status: 200,
      headers: { ...SECURITY_HEADERS, 'cache-control': 'public, max-age=300' },
      raw: { contentType: 'application/json; charset=utf-8', body: openApiJson },
    };
  },
  getDocs: async () => {
    docsHtml ??= renderPage(readAsset(DOCS_SCRIPT));
    return {
      status: 200,
      headers: { ...SECURITY_HEADERS, 'cache-control': 'public, max-age=300', 'content-security-policy': DOCS_CSP },
      raw: { contentType: 'text/html; charset=utf-8', body: docsHtml },
    };
  },
  getDocsAsset: async ({ params }): Promise<ApiResponse> => {
    const asset = DOCS_ASSETS.find((a) => a.name === params.asset);
    if (!asset) throw new NotFoundError('asset', params.asset);
    return {
      status: 200,
      // The page asks for the script with ?v=<content hash>, so it can be cached for good.
      headers: { ...SECURITY_HEADERS, 'cache-control': 'public, max-age=31536000, immutable' },
      raw: { contentType: asset.contentType, body: readAsset(asset.name) },
    };
  },
});

function renderPage(script: string): string {
  const version = createHash('sha256').update(script).digest('hex').slice(0, 16);
  // Relative URLs, so the page also works under a stage path prefix (/prod/docs -> /prod/v1/openapi.json).
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CRM API reference</title>
<link rel="icon" href="data:,">
<style>body { margin: 0; }</style>
</head>
<body>
<noscript>
The reference needs JavaScript; the raw description is at <a href="v1/openapi.json">/v1/openapi.json</a>.
</noscript>
<redoc spec-url="v1/openapi.json" required-props-first="true" expand-responses="200,201"></redoc>
<script src="docs/${DOCS_SCRIPT}?v=${version}"></script>
</body>
</html>
`;
}

function readAsset(name: string): string {
  const cached = assetCache.get(name);
  if (cached !== undefined) return cached;
  const asset = DOCS_ASSETS.find((a) => a.name === name);
  if (!asset) throw new Error(`unknown docs asset ${name}`);
  let body = readFileSync(locate(asset), 'utf8');
  if (name === DOCS_SCRIPT) body = body.replaceAll(REDOC_LOGO, EMPTY_IMAGE);
  assetCache.set(name, body);
  return body;
}

/**
 * Deployed, the asset sits next to the bundled index.mjs (copied there after bundling). Unbundled (tests, local
 * runs from source) it is found in node_modules, from this module or from the working directory.
 */
function locate(asset: DocsAsset): string {
  const candidates: string[] = [];
  const moduleUrl = import.meta.url as string | undefined;
  if (moduleUrl) {
    candidates.push(join(fileURLToPath(new URL('.', moduleUrl)), asset.name));
    try {
      candidates.push(createRequire(moduleUrl).resolve(asset.from.replace(/^node_modules\//, '')));
    } catch {
      // not resolvable from here; try the working directory
    }
  }
  candidates.push(resolve(process.cwd(), asset.from));
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`docs asset ${asset.name} not found; looked in ${candidates.join(', ')}`);
  return found;
}
