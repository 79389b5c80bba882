import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { persistentAssemblyDir } from '../infra/local/cloud.ts';
import { reusePrebuiltApp } from './support/assembly.ts';
import { makeContact } from './support/factories.ts';
import { npmStart, npmStartEnv } from './support/npm-start.ts';

/**
 * Unsubscribe as a mail provider does it, against `npm start`: the contact's signed links point at the local public
 * (forms) API (PUBLIC_API_URL resolved from the template), a real multipart one-click POST over HTTP unsubscribes
 * from the link's category, a url-encoded one withdraws email consent, and the changes reach the contact's history
 * through the stream and the bus like any contact change.
 */
const children: ChildProcess[] = [];
let dataDir = '';

afterAll(async () => {
  for (const child of children) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (dataDir) {
    await rm(dataDir, { recursive: true, force: true });
    await rm(persistentAssemblyDir(dataDir), { recursive: true, force: true });
  }
});

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('unsubscribe over HTTP (npm start)', () => {
  it('one-click POSTs (multipart and url-encoded) to the public API change the contact, and its history shows it', {
    timeout: 240_000,
  }, async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'crm-consent-'));
    const env = await npmStartEnv(dataDir);
    await reusePrebuiltApp(dataDir);
    const started = await npmStart(env, children);
    const formsUrl = `http://127.0.0.1:${env.FORMS_PORT}`;
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${started.apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${started.token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      // biome-ignore lint/suspicious/noExplicitAny: the test reads whatever JSON came back and asserts on it
      return { status: res.status, body: res.status === 204 ? undefined : ((await res.json()) as Record<string, any>) };
    };

    const categories = [{ id: 'newsletter', name: 'Newsletter' }];
    expect((await api('PUT', '/v1/subscription-categories', { categories })).status).toBe(200);
    const contact = await api('POST', '/v1/contacts', makeContact({ firstName: 'Unsub' }));
    expect(contact.status).toBe(201);
    const id = contact.body!.id as string;

    const links = await api('GET', `/v1/contacts/${id}/preference-links?categoryId=newsletter`);
    expect(links.status).toBe(200);
    const { oneClickUrl, preferencesUrl } = links.body as { oneClickUrl: string; preferencesUrl: string };
    expect(oneClickUrl.startsWith(`${formsUrl}/v1/unsubscribe/`)).toBe(true);
    expect(preferencesUrl.startsWith(`${formsUrl}/v1/preferences/`)).toBe(true);

    // A browser (or a link scanner) opening the link gets the confirm page; nothing changes.
    const confirm = await fetch(oneClickUrl);
    expect(confirm.status).toBe(200);
    expect(confirm.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await confirm.text()).toContain('name="List-Unsubscribe" value="One-Click"');
    expect((await api('GET', `/v1/contacts/${id}`)).body!.version).toBe(1);

    // The mail provider's POST, multipart as fetch's FormData sends it.
    const form = new FormData();
    form.set('List-Unsubscribe', 'One-Click');
    const done = await fetch(oneClickUrl, { method: 'POST', body: form });
    expect(done.status).toBe(200);
    expect(done.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await done.text()).toContain('You are unsubscribed');
    const after = (await api('GET', `/v1/contacts/${id}`)).body!;
    expect(after.subscriptions.newsletter).toMatchObject({ status: 'unsubscribed', source: 'one_click' });
    expect(after.consent.email).toBe('granted');
    expect(after.version).toBe(2);
    // Retried by the provider: the same answer, nothing written.
    expect((await fetch(oneClickUrl, { method: 'POST', body: form })).status).toBe(200);

    // A link without a category withdraws email consent altogether (url-encoded this time).
    const all = await api('GET', `/v1/contacts/${id}/preference-links`);
    const withdrawn = await fetch(all.body!.oneClickUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(withdrawn.status).toBe(200);
    expect((await api('GET', `/v1/contacts/${id}`)).body!.consent).toMatchObject({
      email: 'withdrawn',
      source: 'one_click',
    });

    // A forged link: the 404 page.
    const forged = await fetch(`${oneClickUrl.slice(0, -3)}AAA`, { method: 'POST', body: form });
    expect(forged.status).toBe(404);

    // The changes went through the contact's own write path: the stream and the bus put them into its history.
    const history = await eventually(async () => {
      const res = await api('GET', `/v1/contacts/${id}/history`);
      const items = (res.body?.items ?? []) as Array<{ version: number; actorId?: string; changes: object }>;
      // Each change is its own event, and their deliveries may finish in any order.
      return [2, 3].every((v) => items.some((e) => e.version === v)) ? items : undefined;
    });
    const unsubscribed = history.find((e) => e.version === 2)!;
    expect(unsubscribed.actorId).toBe(`contact:${id}`);
    expect(Object.keys(unsubscribed.changes)).toContain('subscriptions');
    expect(Object.keys(history.find((e) => e.version === 3)!.changes)).toContain('consent');
  });
});
