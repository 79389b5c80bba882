/**
 * Item sizes as DynamoDB counts them (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
 * the UTF-8 bytes of each attribute name plus its value; a string is its UTF-8 bytes, a number about one byte per two
 * significant digits plus one, a boolean or null one byte, a list or map 3 bytes plus one byte per element plus the
 * elements (a map's member names count like attribute names).
 */

import { DomainError, type FieldError } from '../errors.ts';

/** DynamoDB's hard limit for one item. */
export const DYNAMODB_MAX_ITEM_BYTES = 400 * 1024;

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');

/** Significant digits of a number as DynamoDB stores it (leading and trailing zeros trimmed). */
function numberSize(value: number): number {
  const digits = Math.abs(value).toExponential().replace(/e.*$/, '').replace('.', '').replace(/0+$/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

/** The size of one attribute value (without its name). Undefined values are not stored: 0. */
export function valueSize(value: unknown): number {
  if (value === undefined) return 0;
  if (value === null || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return utf8(value);
  if (typeof value === 'number') return numberSize(value);
  if (typeof value === 'bigint') return numberSize(Number(value));
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Set) {
    let size = 0;
    for (const member of value) size += valueSize(member);
    return size;
  }
  if (Array.isArray(value)) {
    let size = 3;
    for (const element of value) size += 1 + valueSize(element);
    return size;
  }
  if (typeof value === 'object') {
    let size = 3;
    for (const [name, member] of Object.entries(value as Record<string, unknown>)) {
      if (member === undefined) continue;
      size += 1 + utf8(name) + valueSize(member);
    }
    return size;
  }
  return 0;
}

/** The size of one attribute: its name and its value. */
export const attributeSize = (name: string, value: unknown): number =>
  value === undefined ? 0 : utf8(name) + valueSize(value);

/** The size of a whole item (a plain JavaScript object as the document client marshals it). */
export function itemSize(item: Record<string, unknown>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += attributeSize(name, value);
  return size;
}

/**
 * What each field of a record takes, largest first: top-level attributes, with the members of the named maps
 * (e.g. `customFields`) counted one by one, so an error can name the field to shorten.
 */
export function largestFields(
  item: Record<string, unknown>,
  fields: (name: string) => boolean,
  splitMaps: readonly string[] = [],
): Array<{ path: string; bytes: number }> {
  const sizes: Array<{ path: string; bytes: number }> = [];
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined || !fields(name)) continue;
    if (splitMaps.includes(name) && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [member, memberValue] of Object.entries(value as Record<string, unknown>)) {
        if (memberValue !== undefined)
          sizes.push({ path: `${name}.${member}`, bytes: attributeSize(member, memberValue) + 1 });
      }
    } else {
      sizes.push({ path: name, bytes: attributeSize(name, value) });
    }
  }
  return sizes.sort((a, b) => b.bytes - a.bytes);
}

/**
 * A write whose record would be larger than allowed. 413 (Content Too Large): the content the request would store is
 * more than the server accepts, even when the request itself is small (a PATCH adding one field). The field errors
 * name the largest fields, so the client knows what to shorten.
 */
export class RecordTooLargeError extends DomainError {
  constructor(entity: string, sizeBytes: number, limitBytes: number, fieldErrors: FieldError[]) {
    super(
      413,
      'record.too_large',
      `The ${entity} would take ${sizeBytes} bytes as stored; the limit is ${limitBytes} bytes. Shorten or clear its largest fields.`,
      { fieldErrors, sizeBytes, limitBytes },
    );
  }
}
