import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import { parseIfMatch, parseIfNoneMatch } from './conditional.ts';

const versionsMatched = (header: string, parse = parseIfMatch) => {
  const precondition = parse(header)!;
  return [0, 1, 2, 3, 7, 10].filter((v) => precondition.matches(v));
};

describe('If-Match (RFC 9110 13.1.1, strong comparison)', () => {
  it('is absent when the header is', () => {
    expect(parseIfMatch(undefined)).toBeUndefined();
  });

  it('`*` matches any current version', () => {
    expect(versionsMatched('*')).toEqual([0, 1, 2, 3, 7, 10]);
    expect(versionsMatched('  *  ')).toEqual([0, 1, 2, 3, 7, 10]);
  });

  it('a tag matches exactly its version; a list matches any of its tags', () => {
    expect(versionsMatched('"3"')).toEqual([3]);
    expect(versionsMatched('"1", "3"')).toEqual([1, 3]);
    expect(versionsMatched('"1","7" ,\t"10"')).toEqual([1, 7, 10]);
    // Empty list elements are allowed (RFC 9110 5.6.1).
    expect(versionsMatched(', "2",, "3",')).toEqual([2, 3]);
  });

  it('a weak tag never matches, even alone or beside a strong one', () => {
    expect(versionsMatched('W/"2"')).toEqual([]);
    expect(versionsMatched('W/"2", "3"')).toEqual([3]);
  });

  it('well-formed tags that name no version match nothing (412, not 400)', () => {
    for (const header of ['"abc"', '""', '"03"', '"-1"', '"1.0"', '"9999999999999999999"', '"a,b"', '"é"']) {
      expect(versionsMatched(header), header).toEqual([]);
    }
    expect(versionsMatched('"a,b", "2"')).toEqual([2]);
  });

  it('refuses a malformed header with a field error on header.If-Match', () => {
    for (const header of [
      '',
      ' ',
      ',',
      '3',
      'abc',
      '"3',
      '3"',
      'w/"3"',
      'W/3',
      '"3" "4"',
      '"3 "',
      '* , "3"',
      '"\u0000"',
    ]) {
      let thrown: unknown;
      try {
        parseIfMatch(header);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(header)).toBeInstanceOf(ValidationError);
      expect((thrown as ValidationError).extra.fieldErrors?.[0]?.field).toBe('header.If-Match');
    }
    expect(() => parseIfMatch(`"${'1'.repeat(5000)}"`)).toThrow(ValidationError);
    expect(() => parseIfMatch('"\u2603"')).toThrow(ValidationError);
  });
});

describe('If-None-Match (RFC 9110 13.1.2, weak comparison)', () => {
  it('matches by weak comparison: W/"3" and "3" both name version 3', () => {
    expect(versionsMatched('"3"', parseIfNoneMatch)).toEqual([3]);
    expect(versionsMatched('W/"3"', parseIfNoneMatch)).toEqual([3]);
    expect(versionsMatched('"1", W/"7"', parseIfNoneMatch)).toEqual([1, 7]);
    expect(versionsMatched('*', parseIfNoneMatch)).toEqual([0, 1, 2, 3, 7, 10]);
    expect(versionsMatched('"abc"', parseIfNoneMatch)).toEqual([]);
  });

  it('refuses a malformed header with a field error on header.If-None-Match', () => {
    expect(parseIfNoneMatch(undefined)).toBeUndefined();
    for (const header of ['', '3', 'w/"3"', '"3']) {
      expect(() => parseIfNoneMatch(header), header).toThrow(ValidationError);
    }
  });
});
