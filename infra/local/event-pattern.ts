import { BlockList, isIP } from 'node:net';

/**
 * Amazon EventBridge event-pattern matching (content filtering), as documented in the EventBridge user guide
 * ("Creating event patterns", "Comparison operators") and implemented by aws/event-ruler, which EventBridge uses.
 * Lambda event-source-mapping filter criteria use the same language, so the stream poller reuses this matcher.
 *
 * Semantics, in short:
 * - every field named in the pattern must match (AND); the values listed for a field are alternatives (OR);
 * - a pattern field absent from the event never matches, except `{"exists": false}`;
 * - if the event value is an array, the field matches when any element matches; arrays are flattened, and an
 *   object pattern must be satisfied inside a single element of an array of objects (array-consistent matching);
 * - comparison operators apply to leaf values (string, number, boolean, null); `exists` is about leaves too, so
 *   `{"exists": false}` also matches a field whose value is an object;
 * - `$or` (an array of at least two sub-patterns) may appear at any level.
 */

export class EventPatternError extends Error {
  override readonly name = 'EventPatternError';
}

type JsonObject = Record<string, unknown>;
type Leaf = string | number | boolean | null;

const NUMERIC_OPERATORS = new Set(['=', '<', '<=', '>', '>=']);
const STRING_OPERATORS = ['prefix', 'suffix', 'equals-ignore-case', 'wildcard'] as const;

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isLeaf = (value: unknown): value is Leaf =>
  value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';

/** Throws an `EventPatternError` naming the offending field when the pattern is not a valid event pattern. */
export function validatePattern(pattern: unknown): void {
  if (!isObject(pattern)) throw new EventPatternError('Event pattern must be a JSON object');
  validateFields(pattern, '');
}

const validated = new WeakSet<object>();

/** True when the event (any JSON value, usually an EventBridge event or a stream record) matches the pattern. */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  // Validate once per pattern object: the matcher below relies on the shapes validation guarantees.
  if (!isObject(pattern) || !validated.has(pattern)) {
    validatePattern(pattern);
    validated.add(pattern as JsonObject);
  }
  return matchObject(pattern as JsonObject, event);
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

function invalid(path: string, message: string): EventPatternError {
  return new EventPatternError(`Event pattern is not valid: ${path ? `"${path}" ` : ''}${message}`);
}

function isOrList(key: string, value: unknown): value is JsonObject[] {
  return key === '$or' && Array.isArray(value);
}

function validateFields(pattern: JsonObject, path: string): void {
  for (const [key, value] of Object.entries(pattern)) {
    const at = path ? `${path}.${key}` : key;
    if (isOrList(key, value)) {
      if (value.length < 2) throw invalid(at, 'must list at least two alternative patterns');
      value.forEach((alternative, i) => {
        if (!isObject(alternative) || Object.keys(alternative).length === 0) {
          throw invalid(`${at}[${i}]`, 'must be a non-empty object');
        }
        validateFields(alternative, path);
      });
    } else if (Array.isArray(value)) {
      validateValueList(value, at);
    } else if (isObject(value)) {
      validateFields(value, at);
    } else {
      throw invalid(at, 'must be an array of match values or a nested object');
    }
  }
}

function validateValueList(values: unknown[], path: string): void {
  if (values.length === 0) throw invalid(path, 'must not be an empty array');
  for (const value of values) {
    if (typeof value === 'number' && !Number.isFinite(value)) throw invalid(path, 'numbers must be finite');
    if (isLeaf(value)) continue;
    if (Array.isArray(value)) throw invalid(path, 'must not contain nested arrays');
    validateOperator(value as JsonObject, path);
  }
}

function validateOperator(operator: JsonObject, path: string): void {
  const keys = Object.keys(operator);
  if (keys.length !== 1) {
    throw invalid(path, `an operator object must have exactly one key, got ${JSON.stringify(operator)}`);
  }
  const name = keys[0] as string;
  const arg = operator[name];
  switch (name) {
    case 'prefix':
    case 'suffix': {
      const ignoreCase =
        isObject(arg) && Object.keys(arg).length === 1 && typeof arg['equals-ignore-case'] === 'string';
      if (typeof arg !== 'string' && !ignoreCase) {
        throw invalid(path, `"${name}" takes a string or {"equals-ignore-case": string}`);
      }
      break;
    }
    case 'equals-ignore-case':
      if (typeof arg !== 'string') throw invalid(path, '"equals-ignore-case" takes a string');
      break;
    case 'wildcard':
      if (typeof arg !== 'string') throw invalid(path, '"wildcard" takes a string');
      validateWildcard(arg, path);
      break;
    case 'exists':
      if (typeof arg !== 'boolean') throw invalid(path, '"exists" takes true or false');
      break;
    case 'numeric':
      validateNumeric(arg, path);
      break;
    case 'cidr':
      if (typeof arg !== 'string' || !parseCidr(arg)) throw invalid(path, '"cidr" takes an IPv4 or IPv6 CIDR block');
      break;
    case 'anything-but':
      validateAnythingBut(arg, path);
      break;
    default:
      throw invalid(path, `unknown operator "${name}"`);
  }
}

function validateAnythingBut(arg: unknown, path: string): void {
  if (typeof arg === 'string' || (typeof arg === 'number' && Number.isFinite(arg))) return;
  if (Array.isArray(arg)) {
    const allStrings = arg.every((v) => typeof v === 'string');
    const allNumbers = arg.every((v) => typeof v === 'number' && Number.isFinite(v));
    if (arg.length > 0 && (allStrings || allNumbers)) return;
    throw invalid(path, '"anything-but" lists must be non-empty and hold only strings or only numbers');
  }
  if (isObject(arg) && Object.keys(arg).length === 1) {
    const [name, value] = Object.entries(arg)[0] as [string, unknown];
    const values = Array.isArray(value) ? value : [value];
    const stringsOk = values.length > 0 && values.every((v) => typeof v === 'string');
    if ((STRING_OPERATORS as readonly string[]).includes(name) && stringsOk) {
      if (name === 'wildcard') for (const v of values) validateWildcard(v as string, path);
      return;
    }
  }
  throw invalid(
    path,
    '"anything-but" takes a string, a number, a list of them, or {prefix|suffix|equals-ignore-case|wildcard}',
  );
}

function validateNumeric(arg: unknown, path: string): void {
  const bad = (why: string) => invalid(path, `"numeric" ${why}: ${JSON.stringify(arg)}`);
  if (!Array.isArray(arg) || (arg.length !== 2 && arg.length !== 4)) throw bad('takes [op, n] or [op, n, op, n]');
  const pairs: Array<[string, number]> = [];
  for (let i = 0; i < arg.length; i += 2) {
    const [op, n] = [arg[i], arg[i + 1]];
    if (typeof op !== 'string' || !NUMERIC_OPERATORS.has(op))
      throw bad(`has an unknown operator ${JSON.stringify(op)}`);
    if (typeof n !== 'number' || !Number.isFinite(n)) throw bad('compares with numbers only');
    pairs.push([op, n]);
  }
  if (pairs.length === 1) return;
  const lower = pairs.find(([op]) => op === '>' || op === '>=');
  const upper = pairs.find(([op]) => op === '<' || op === '<=');
  if (!lower || !upper) throw bad('ranges need one lower (>, >=) and one upper (<, <=) bound');
  if (lower[1] >= upper[1]) throw bad('range bottom must be less than its top');
}

/** `*` matches any run of characters; `\*` is a literal asterisk, `\\` a backslash; `**` is not allowed. */
function validateWildcard(pattern: string, path: string): void {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next !== '*' && next !== '\\') throw invalid(path, `"wildcard" may only escape * or \\: ${pattern}`);
      i++;
    } else if (c === '*' && pattern[i + 1] === '*') {
      throw invalid(path, `"wildcard" must not contain consecutive wildcard characters: ${pattern}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Matching

function matchObject(pattern: JsonObject, value: unknown): boolean {
  if (Array.isArray(value)) {
    // Fields of an object pattern must all match within one element of an array of objects.
    const elements = flatten(value);
    if (elements.length === 0) return matchFields(pattern, undefined);
    return elements.some((element) => matchFields(pattern, isObject(element) ? element : undefined));
  }
  return matchFields(pattern, isObject(value) ? value : undefined);
}

function matchFields(pattern: JsonObject, object: JsonObject | undefined): boolean {
  return Object.entries(pattern).every(([key, sub]) => {
    if (isOrList(key, sub)) return sub.some((alternative) => matchFields(alternative, object));
    const child = object && Object.hasOwn(object, key) ? object[key] : undefined;
    return Array.isArray(sub) ? matchValueList(sub, child) : matchObject(sub as JsonObject, child);
  });
}

function flatten(values: unknown[]): unknown[] {
  return values.flatMap((v) => (Array.isArray(v) ? flatten(v) : [v]));
}

function matchValueList(patterns: unknown[], value: unknown): boolean {
  // Only leaf values take part in matching; objects (and absent fields) have none.
  const leaves: Leaf[] = Array.isArray(value) ? flatten(value).filter(isLeaf) : isLeaf(value) ? [value] : [];
  return patterns.some((p) => {
    if (isObject(p) && typeof p.exists === 'boolean') return p.exists === leaves.length > 0;
    return leaves.some((leaf) => matchLeaf(p, leaf));
  });
}

function matchLeaf(pattern: unknown, value: Leaf): boolean {
  if (!isObject(pattern)) return pattern === value; // exact: strings, numbers (numerically), booleans, null
  const [name, arg] = Object.entries(pattern)[0] as [string, unknown];
  switch (name) {
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
    case 'wildcard':
      return typeof value === 'string' && matchString(name, arg, value);
    case 'numeric':
      return typeof value === 'number' && matchNumeric(arg as unknown[], value);
    case 'cidr':
      return typeof value === 'string' && matchCidr(arg as string, value);
    case 'anything-but':
      return !anythingButExcludes(arg, value);
    default:
      return false;
  }
}

function matchString(operator: string, arg: unknown, value: string): boolean {
  if (isObject(arg)) {
    // {"prefix": {"equals-ignore-case": "x"}} and the suffix equivalent.
    const expected = lower(arg['equals-ignore-case'] as string);
    const actual = lower(value);
    return operator === 'prefix' ? actual.startsWith(expected) : actual.endsWith(expected);
  }
  const expected = arg as string;
  switch (operator) {
    case 'prefix':
      return value.startsWith(expected);
    case 'suffix':
      return value.endsWith(expected);
    case 'equals-ignore-case':
      return lower(value) === lower(expected);
    default:
      return wildcardRegExp(expected).test(value);
  }
}

/** anything-but excludes exact values (any leaf type may match), or strings matched by a string operator. */
function anythingButExcludes(arg: unknown, value: Leaf): boolean {
  if (Array.isArray(arg)) return arg.includes(value);
  if (!isObject(arg)) return arg === value;
  if (typeof value !== 'string') return false;
  const [operator, operand] = Object.entries(arg)[0] as [string, string | string[]];
  const operands = Array.isArray(operand) ? operand : [operand];
  return operands.some((o) => matchString(operator, o, value));
}

function matchNumeric(spec: unknown[], value: number): boolean {
  for (let i = 0; i < spec.length; i += 2) {
    const n = spec[i + 1] as number;
    const ok =
      spec[i] === '='
        ? value === n
        : spec[i] === '<'
          ? value < n
          : spec[i] === '<='
            ? value <= n
            : spec[i] === '>'
              ? value > n
              : value >= n;
    if (!ok) return false;
  }
  return true;
}

const lower = (s: string): string => s.toLowerCase();

const wildcards = new Map<string, RegExp>();
function wildcardRegExp(pattern: string): RegExp {
  let regExp = wildcards.get(pattern);
  if (!regExp) {
    let source = '';
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i] as string;
      if (c === '\\') source += escapeRegExp(pattern[++i] ?? '');
      else source += c === '*' ? '.*' : escapeRegExp(c);
    }
    regExp = new RegExp(`^${source}$`, 'su');
    wildcards.set(pattern, regExp);
  }
  return regExp;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

interface Cidr {
  family: 'ipv4' | 'ipv6';
  list: BlockList;
}

const cidrs = new Map<string, Cidr | undefined>();
function parseCidr(block: string): Cidr | undefined {
  if (cidrs.has(block)) return cidrs.get(block);
  const [address = '', bits, extra] = block.split('/');
  const version = isIP(address);
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
  let cidr: Cidr | undefined;
  if (version !== 0 && extra === undefined && prefix >= 0 && prefix <= max) {
    const family = version === 4 ? 'ipv4' : 'ipv6';
    const list = new BlockList();
    list.addSubnet(address, prefix, family);
    cidr = { family, list };
  }
  cidrs.set(block, cidr);
  return cidr;
}

function matchCidr(block: string, value: string): boolean {
  const cidr = parseCidr(block);
  const version = isIP(value);
  if (!cidr || version === 0 || (version === 4 ? 'ipv4' : 'ipv6') !== cidr.family) return false;
  return cidr.list.check(value, cidr.family);
}
