import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler } from '../functions/http/docs.ts';
import { routes } from '../shared/api/routes.ts';
import { matchRoute } from './support/http-event.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-proxy-server',
  // Safety net: any host other than the loopback address fails to resolve, so nothing could leave the machine.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];

const docsRoutes = routes.filter((route) => route.group === 'docs');

/** Turns a request into the API Gateway payload 2.0 event the docs function gets, as the HTTP API would. */
function toEvent(req: IncomingMessage): APIGatewayProxyEventV2WithJWTAuthorizer | undefined {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const found = matchRoute(req.method ?? 'GET', url.pathname, docsRoutes);
  if (found) {
    const { route, params } = found;
    const routeKey = `${route.method} ${route.path}`;
    const query = Object.fromEntries(url.searchParams.entries());
    return {
      version: '2.0',
      routeKey,
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
      ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
      ...(Object.keys(params).length > 0 ? { pathParameters: params } : {}),
      isBase64Encoded: false,
      requestContext: {
        accountId: '000000000000',
        apiId: 'local',
        domainName: '127.0.0.1',
        domainPrefix: '127',
        http: { method: route.method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: '' },
        requestId: `req-${Date.now()}`,
        routeKey,
        stage: '$default',
        time: new Date().toISOString(),
        timeEpoch: Date.now(),
      },
    } as unknown as APIGatewayProxyEventV2WithJWTAuthorizer;
  }
  return undefined;
}

async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const event = toEvent(req);
  if (!event) {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
    return;
  }
  const context = { awsRequestId: event.requestContext.requestId, functionName: 'docs' } as Context;
  const result = (await handler(event, context)) as APIGatewayProxyStructuredResultV2;
  const body = result.body ? Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8') : undefined;
  res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>).end(body);
}

describe('/docs in headless Chromium', () => {
  let server: Server;
  let origin: string;
  let browser: BrowserContext;
  const userDataDir = mkdtempSync(join(tmpdir(), 'docs-chromium-'));

  const installed = existsSync(CHROMIUM);

  beforeAll(async () => {
    if (!installed) return; // the test below fails with how to install it
    server = createServer((req, res) => {
      serve(req, res).catch((error: unknown) => {
        res.writeHead(500).end(String(error));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1400, height: 900 },
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (server) await new Promise((resolve) => server.close(resolve));
    rmSync(userDataDir, { recursive: true, force: true });
  });

  it('renders the reference with the contacts operations, loading nothing from elsewhere', async () => {
    // Fail, never skip: CI installs it (.ci/run); locally the message says how.
    if (!installed)
      throw new Error(`Chromium is missing at ${CHROMIUM}: run \`apt-get install -y chromium\` (as root).`);
    const requests: string[] = [];
    browser.on('request', (request) => requests.push(request.url()));
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    // Records what the CSP blocks (runs in the page, hence a string: this file is type-checked without the DOM).
    await page.addInitScript({
      content: `window.cspViolations = [];
        document.addEventListener('securitypolicyviolation', (e) => {
          window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
        });`,
    });

    const response = await page.goto(`${origin}/docs`);
    expect(response?.status()).toBe(200);
    // Redoc has rendered once the operations' summaries are on the page.
    await page.getByRole('heading', { name: 'Create a contact' }).waitFor({ timeout: 30_000 });
    if (process.env.DOCS_SCREENSHOT) await page.screenshot({ path: process.env.DOCS_SCREENSHOT, fullPage: false });

    // biome-ignore lint/performance/useDomNodeTextContent: what is rendered (shown to a reader) is the point here
    const text = await page.locator('body').innerText();
    expect(text).toContain('CRM API');
    expect(text).toContain('Contacts');
    for (const summary of [
      'Create a contact',
      'List or look up contacts',
      'Get a contact',
      'Update a contact (JSON merge patch)',
      'Move a contact to the trash',
    ]) {
      expect(text, summary).toContain(summary);
    }
    // The tag is a section heading of its own.
    await page
      .locator('h2')
      .filter({ hasText: /^Contacts$/ })
      .first()
      .waitFor({ state: 'visible' });

    // Everything came from the local server (the search worker runs from a blob: of this origin).
    expect(requests).toContain(`${origin}/v1/openapi.json`);
    expect(requests.some((url) => url.startsWith(`${origin}/docs/redoc.standalone.js?v=`))).toBe(true);
    const elsewhere = requests.filter(
      (url) => !url.startsWith('data:') && !url.startsWith(`blob:${origin}/`) && new URL(url).origin !== origin,
    );
    expect(elsewhere).toEqual([]);
    // And the CSP did not have to block anything: the renderer works within it.
    expect(await page.evaluate('window.cspViolations')).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
