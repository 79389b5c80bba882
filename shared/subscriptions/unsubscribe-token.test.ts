import { createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { uniqueTenant } from '../../test/support/factories.ts';
import { useFreshTable } from '../../test/support/table.ts';

let token: typeof import('./unsubscribe-token.ts');
let model: typeof import('../db/store.ts').model;

beforeAll(async () => {
  await useFreshTable();
  token = await import('./unsubscribe-token.ts');
  model = (await import('../db/store.ts')).model;
});

const storedKey = async (tenantId: string) =>
  (await model.entities.signingKey.get({ tenantId }).go({ consistent: true })).data;

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('unsubscribe tokens', () => {
  it('round-trips the claims; signing creates the tenant key once and reuses it', async () => {
    const tenantId = uniqueTenant('tok');
    expect(await storedKey(tenantId)).toBeNull();
    const claims = { tenantId, contactId: '01HZCONTACT', categoryId: 'newsletter', campaignId: 'camp-1' };
    const signed = await token.signUnsubscribeToken(claims);
    const key = await storedKey(tenantId);
    expect(key?.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await token.verifyUnsubscribeToken(signed)).toEqual(claims);
    // Without category and campaign, the claims stay without them.
    const plain = await token.signUnsubscribeToken({ tenantId, contactId: 'c2' });
    expect(await token.verifyUnsubscribeToken(plain)).toEqual({ tenantId, contactId: 'c2' });
    expect((await storedKey(tenantId))?.secret).toBe(key?.secret);
    expect(token.unverifiedTenant(signed)).toBe(tenantId);
  });

  it('refuses a tampered payload, a tampered signature and a payload signed with another key', async () => {
    const tenantId = uniqueTenant('tok');
    const signed = await token.signUnsubscribeToken({ tenantId, contactId: 'victim' });
    const [payload, signature] = signed.split('.') as [string, string];
    // Another contact under the same signature.
    const other = b64({ v: 1, t: tenantId, c: 'someone-else' });
    expect(await token.verifyUnsubscribeToken(`${other}.${signature}`)).toBeUndefined();
    // One signature character changed.
    const flipped = `${signature.slice(0, -2)}${signature.at(-2) === 'A' ? 'B' : 'A'}${signature.at(-1)}`;
    expect(await token.verifyUnsubscribeToken(`${payload}.${flipped}`)).toBeUndefined();
    // Forged with a guessed key.
    const forgedSig = createHmac('sha256', Buffer.alloc(32)).update(other).digest('base64url');
    expect(await token.verifyUnsubscribeToken(`${other}.${forgedSig}`)).toBeUndefined();
    // Malformed shapes and payloads.
    for (const bad of [
      '',
      'abc',
      `${payload}.`,
      `${payload}.${signature}x`,
      `!!.${signature}`,
      `${b64({ v: 2, t: tenantId, c: 'x' })}.${signature}`,
      `${b64({ v: 1, t: 'bad#tenant', c: 'x' })}.${signature}`,
      `${b64({ v: 1, t: tenantId, c: 'x', k: 'a/b' })}.${signature}`,
      `${Buffer.from('not json').toString('base64url')}.${signature}`,
    ]) {
      expect(await token.verifyUnsubscribeToken(bad), bad).toBeUndefined();
    }
  });

  it("refuses another tenant's token re-addressed to a tenant (each tenant signs with its own key)", async () => {
    const a = uniqueTenant('tok');
    const b = uniqueTenant('tok');
    await token.signUnsubscribeToken({ tenantId: b, contactId: 'x' });
    const signedByA = await token.signUnsubscribeToken({ tenantId: a, contactId: 'c1' });
    const signature = signedByA.split('.')[1]!;
    const claimsB = b64({ v: 1, t: b, c: 'c1' });
    expect(await token.verifyUnsubscribeToken(`${claimsB}.${signature}`)).toBeUndefined();
    // And b's own token verifies.
    const signedByB = await token.signUnsubscribeToken({ tenantId: b, contactId: 'c1' });
    expect(await token.verifyUnsubscribeToken(signedByB)).toEqual({ tenantId: b, contactId: 'c1' });
  });

  it('verifying never creates a signing key: a token naming a tenant without one is refused and nothing is stored', async () => {
    const unknown = uniqueTenant('nokey');
    const payload = b64({ v: 1, t: unknown, c: 'c1' });
    const signature = createHmac('sha256', Buffer.alloc(32)).update(payload).digest('base64url');
    expect(await token.verifyUnsubscribeToken(`${payload}.${signature}`)).toBeUndefined();
    expect(await storedKey(unknown)).toBeNull();
    expect(await token.tenantSigningKey(unknown, { create: false })).toBeUndefined();
    expect(await storedKey(unknown)).toBeNull();
  });
});
