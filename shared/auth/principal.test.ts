import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.ts';
import { parseListClaim, principalFromClaims } from './principal.ts';

describe('parseListClaim', () => {
  it.each<[string, unknown, string[]]>([
    ["API Gateway's bracketed form", '[admin sales]', ['admin', 'sales']],
    ['bracketed form with commas', '[admin, sales]', ['admin', 'sales']],
    ['bracketed single value', '[readonly]', ['readonly']],
    ['bracketed, empty', '[]', []],
    ['bracketed with surrounding spaces', '  [ admin   sales ]  ', ['admin', 'sales']],
    ['JSON array string', '["admin","sales"]', ['admin', 'sales']],
    ['JSON array string with spaces', '[ "admin" , "marketing" ]', ['admin', 'marketing']],
    ['comma list', 'admin,sales', ['admin', 'sales']],
    ['comma list with spaces', ' admin , sales ', ['admin', 'sales']],
    ['space list', 'admin sales', ['admin', 'sales']],
    ['single value', 'manager', ['manager']],
    ['real array', ['admin', 'sales'], ['admin', 'sales']],
    ['real array of non-strings', [1, true], ['1', 'true']],
    ['empty string', '', []],
    ['blank string', '   ', []],
    ['undefined', undefined, []],
    ['null', null, []],
    ['number', 42, []],
    ['object', { admin: true }, []],
  ])('%s', (_name, input, expected) => {
    expect(parseListClaim(input)).toEqual(expected);
  });
});

describe('principalFromClaims', () => {
  const valid = { sub: 'user-1', 'custom:tenantId': 'acme_01-x', 'cognito:groups': '[admin sales]' };

  const refusal = (claims: Record<string, unknown> | undefined) => {
    try {
      principalFromClaims(claims);
    } catch (error) {
      return error;
    }
    throw new Error('expected the claims to be refused');
  };

  it('builds the principal from valid claims', () => {
    expect(principalFromClaims({ ...valid, email: 'ada@example.com' })).toEqual({
      tenantId: 'acme_01-x',
      userId: 'user-1',
      roles: ['admin', 'sales'],
      email: 'ada@example.com',
    });
  });

  it('leaves email out when the claim is absent or not a string', () => {
    expect(principalFromClaims(valid)).not.toHaveProperty('email');
    expect(principalFromClaims({ ...valid, email: 7 })).not.toHaveProperty('email');
  });

  it('accepts a 64-character tenant id', () => {
    expect(principalFromClaims({ ...valid, 'custom:tenantId': 'a'.repeat(64) }).tenantId).toBe('a'.repeat(64));
  });

  it.each<[string, unknown]>([
    ['missing', undefined],
    ['empty', ''],
    ['with the key separator', 'a#b'],
    ['65 characters', 'a'.repeat(65)],
    ['with a space', 'a b'],
    ['with a slash', 'a/b'],
    ['with a dot', 'a.b'],
    ['with an IAM wildcard *', 'acme*'],
    ['with an IAM wildcard ?', 'acm?'],
    ['with a $ (IAM policy variables)', 'acme$'],
    ['with braces', 'a{x}'],
    ['with a trailing newline', 'acme\n'],
    ['with a non-ASCII letter', 'acmé'],
    ['not a string', 42],
    ['an array', ['acme']],
  ])('refuses a tenant id that is %s with 401', (_name, tenantId) => {
    const error = refusal({ ...valid, 'custom:tenantId': tenantId });
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ status: 401, code: 'auth.unauthorized' });
    expect((error as Error).message).toMatch(/custom:tenantId must be 1 to 64 letters, digits/);
  });

  it.each<[string, unknown]>([
    ['missing', undefined],
    ['empty', ''],
    ['not a string', 123],
  ])('refuses a subject that is %s with 401', (_name, sub) => {
    expect(refusal({ ...valid, sub })).toMatchObject({ status: 401, code: 'auth.unauthorized' });
  });

  it('refuses missing claims altogether', () => {
    expect(refusal(undefined)).toMatchObject({ status: 401, code: 'auth.unauthorized' });
    expect(refusal({})).toMatchObject({ status: 401 });
  });

  it('keeps only known roles, so an unknown group grants nothing', () => {
    expect(principalFromClaims({ ...valid, 'cognito:groups': '[superuser admin root]' }).roles).toEqual(['admin']);
    expect(principalFromClaims({ ...valid, 'cognito:groups': '[Admin SALES]' }).roles).toEqual([]);
    expect(principalFromClaims({ ...valid, 'cognito:groups': 'marketing,readonly' }).roles).toEqual([
      'marketing',
      'readonly',
    ]);
    expect(principalFromClaims({ ...valid, 'cognito:groups': ['support', 'nobody'] }).roles).toEqual(['support']);
  });

  it('has no roles when the groups claim is absent', () => {
    const { 'cognito:groups': _g, ...noGroups } = valid;
    expect(principalFromClaims(noGroups).roles).toEqual([]);
  });
});
