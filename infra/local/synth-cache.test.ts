import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appFingerprint } from './synth-cache.ts';

const roots: string[] = [];
afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

/** A project-shaped folder: the app's sources, a test beside them, and the pinning files. */
async function project(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'synth-cache-'));
  roots.push(root);
  for (const dir of ['infra', 'functions/http', 'shared', 'events']) await mkdir(join(root, dir), { recursive: true });
  await writeFile(join(root, 'functions/http/contacts.ts'), 'export const a = 1;');
  await writeFile(join(root, 'functions/http/contacts.test.ts'), 'test');
  await writeFile(join(root, 'infra/app.ts'), 'app');
  await writeFile(join(root, 'cdk.json'), '{"context":{}}');
  await writeFile(join(root, 'package-lock.json'), '{}');
  return root;
}

const options = { outdir: '/tmp/out', bundle: true, context: { edgeProtection: false } };

describe("npm start's synth fingerprint", () => {
  it('stays the same while nothing the app is built from changes, tests included', async () => {
    const root = await project();
    const first = await appFingerprint(options, root);
    expect(await appFingerprint(options, root)).toBe(first);
    await writeFile(join(root, 'functions/http/contacts.test.ts'), 'a changed test');
    expect(await appFingerprint(options, root)).toBe(first);
  });

  it('changes with a source file, a new file, the pinned packages, the context or CDK_CONTEXT_JSON', async () => {
    const root = await project();
    const seen = new Set([await appFingerprint(options, root)]);
    const changed = async (what: string) => {
      const fingerprint = await appFingerprint(options, root);
      expect(seen.has(fingerprint), what).toBe(false);
      seen.add(fingerprint);
    };
    await writeFile(join(root, 'functions/http/contacts.ts'), 'export const a = 2;');
    await changed('a source file');
    await writeFile(join(root, 'shared/new.ts'), 'export {};');
    await changed('a new file');
    await writeFile(join(root, 'package-lock.json'), '{"lockfileVersion":3}');
    await changed('the lock file');
    await writeFile(join(root, 'cdk.json'), '{"context":{"x":1}}');
    await changed('cdk.json');
    const before = await appFingerprint(options, root);
    expect(await appFingerprint({ ...options, context: { edgeProtection: true } }, root)).not.toBe(before);
    const given = process.env.CDK_CONTEXT_JSON;
    process.env.CDK_CONTEXT_JSON = '{"sesMaxSendRate":40}';
    try {
      expect(await appFingerprint(options, root)).not.toBe(before);
    } finally {
      if (given === undefined) delete process.env.CDK_CONTEXT_JSON;
      else process.env.CDK_CONTEXT_JSON = given;
    }
  });
});
