import { describe, expect, it } from 'vitest';
import { changedFields, mergePatch } from './merge-patch.ts';

type Json = Record<string, unknown>;

describe('mergePatch: RFC 7396 appendix A examples (object target, object patch)', () => {
  it.each<[Json, Json, Json]>([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  ])('%j + %j = %j', (target, patch, expected) => {
    expect(mergePatch(target, patch)).toEqual(expected);
  });

  it('the RFC section 3 example', () => {
    const target = {
      title: 'Goodbye!',
      author: { givenName: 'John', familyName: 'Doe' },
      tags: ['example', 'sample'],
      content: 'This will be unchanged',
    };
    const patch = { title: 'Hello!', phoneNumber: '+01-123-456-7890', author: { familyName: null }, tags: ['example'] };
    expect(mergePatch(target, patch)).toEqual({
      title: 'Hello!',
      author: { givenName: 'John' },
      tags: ['example'],
      content: 'This will be unchanged',
      phoneNumber: '+01-123-456-7890',
    });
  });

  it('replaces a non-object target value with the merged patch object', () => {
    expect(mergePatch({ a: 'scalar' }, { a: { b: 1, c: null } })).toEqual({ a: { b: 1 } });
    expect(mergePatch({ a: [1, 2] }, { a: { b: 1 } })).toEqual({ a: { b: 1 } });
  });

  it('merges nested objects recursively', () => {
    expect(mergePatch({ a: { b: { c: 1, d: 2 }, e: 3 } }, { a: { b: { c: null, x: 9 } } })).toEqual({
      a: { b: { d: 2, x: 9 }, e: 3 },
    });
  });

  /*
   * Deliberate deviation from the RFC's last example ({} + {"a":{"bb":{"ccc":null}}} = {"a":{"bb":{}}}): records
   * never keep an empty object (clearing the last field of an address removes the address), so empties are pruned.
   */
  it('prunes objects left empty, unlike the last appendix example', () => {
    expect(mergePatch({}, { a: { bb: { ccc: null } } })).toEqual({});
    expect(mergePatch({ address: { city: 'Paris' } }, { address: { city: null } })).toEqual({});
    expect(mergePatch({ address: { city: 'Paris' }, x: 1 }, { address: {} })).toEqual({
      address: { city: 'Paris' },
      x: 1,
    });
  });

  it('ignores undefined patch members and deletes absent members harmlessly', () => {
    expect(mergePatch({ a: 1 }, { a: undefined, b: null })).toEqual({ a: 1 });
  });

  it('does not mutate the target or the patch', () => {
    const target = { a: { b: 'c', keep: 1 }, list: [1] };
    const patch = { a: { b: null, d: 'e' }, list: [2] };
    const targetCopy = structuredClone(target);
    const patchCopy = structuredClone(patch);
    const result = mergePatch(target, patch);
    expect(result).toEqual({ a: { keep: 1, d: 'e' }, list: [2] });
    expect(target).toEqual(targetCopy);
    expect(patch).toEqual(patchCopy);
  });

  it('an empty patch is the identity', () => {
    const target = { a: 1, b: { c: [1, 2] } };
    expect(mergePatch(target, {})).toEqual(target);
  });
});

describe('changedFields', () => {
  it('names fields added, removed or changed, comparing deeply', () => {
    expect(
      changedFields(
        { same: 1, changed: 'a', removed: true, nested: { x: [1, 2] }, list: [1] },
        { same: 1, changed: 'b', added: null, nested: { x: [1, 2] }, list: [1, 2] },
      ).sort(),
    ).toEqual(['added', 'changed', 'list', 'removed']);
  });

  it('is empty for equal records', () => {
    expect(changedFields({ a: { b: 1 }, c: [1] }, { a: { b: 1 }, c: [1] })).toEqual([]);
  });
});
