import { ValidationError } from '../errors.ts';

/**
 * A parsed conditional header (RFC 9110 §13.1): the services ask it whether the version they read satisfies the
 * client's precondition, and refuse with 412 when it does not.
 */
export interface VersionPrecondition {
  matches(version: number): boolean;
}

/** Our ETags are strong and carry the record's version: `"3"`. */
export const etagOf = (version: number): string => `"${version}"`;

interface EntityTag {
  weak: boolean;
  /** The opaque tag with its quotes, compared character by character (RFC 9110 §8.8.3.2). */
  opaque: string;
}

/** entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text (%x80-FF). `W/` is case-sensitive. */
const ENTITY_TAG = /^(W\/)?("[\x21\x23-\x7e\x80-\xff]*")$/;
const MAX_HEADER_LENGTH = 4096;

/**
 * `*`, or a comma-separated list of entity tags (empty list elements allowed, RFC 9110 §5.6.1). Undefined when the
 * value is not that: the caller answers 400. A tag may contain a comma inside its quotes, so the list is split by a
 * scan rather than on every comma.
 */
function parseTagList(value: string): EntityTag[] | '*' | undefined {
  if (value.length > MAX_HEADER_LENGTH) return undefined;
  const trimmed = value.trim();
  if (trimmed === '*') return '*';
  const tags: EntityTag[] = [];
  let rest = trimmed;
  while (rest.length > 0) {
    const element = /^(?:W\/)?"[^"]*"/.exec(rest)?.[0];
    if (element !== undefined) {
      const tag = ENTITY_TAG.exec(element);
      if (!tag) return undefined;
      tags.push({ weak: tag[1] !== undefined, opaque: tag[2]! });
      rest = rest.slice(element.length);
    } else if (!rest.startsWith(',')) {
      return undefined;
    }
    // Between elements: optional whitespace, a comma, optional whitespace (and empty elements).
    const separator = /^[ \t]*(?:,[ \t]*)*/.exec(rest)![0];
    if (rest.length > separator.length && !separator.includes(',')) return undefined;
    rest = rest.slice(separator.length);
  }
  return tags.length > 0 ? tags : undefined;
}

const ANY: VersionPrecondition = { matches: () => true };

function headerError(name: string, message: string): ValidationError {
  return new ValidationError(`Invalid ${name} header.`, [{ field: `header.${name}`, message }]);
}

/**
 * If-Match: `*` matches any current version; otherwise one of the listed tags must equal the version's ETag by
 * strong comparison, so a weak tag (`W/"2"`) never matches. A well-formed tag that names no version (`"abc"`, `"7"`
 * for a record at 3) is a failed precondition (412), not a bad request; only a malformed header is a 400.
 */
export function parseIfMatch(value: string | undefined): VersionPrecondition | undefined {
  if (value === undefined) return undefined;
  const tags = parseTagList(value);
  if (tags === undefined) {
    throw headerError('If-Match', 'Send `*` or ETags from previous responses, e.g. "3" or "3", "4".');
  }
  if (tags === '*') return ANY;
  const strong = new Set(tags.filter((t) => !t.weak).map((t) => t.opaque));
  return { matches: (version) => strong.has(etagOf(version)) };
}

/**
 * If-None-Match on a read: `*` or a list of tags compared weakly (`W/"3"` and `"3"` both name version 3). When it
 * matches the current version, the client's copy is current: 304 Not Modified.
 */
export function parseIfNoneMatch(value: string | undefined): VersionPrecondition | undefined {
  if (value === undefined) return undefined;
  const tags = parseTagList(value);
  if (tags === undefined) {
    throw headerError('If-None-Match', 'Send `*` or ETags from previous responses, e.g. "3" or W/"3".');
  }
  if (tags === '*') return ANY;
  const opaque = new Set(tags.map((t) => t.opaque));
  return { matches: (version) => opaque.has(etagOf(version)) };
}
