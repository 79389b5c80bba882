import { describe, expect, it } from 'vitest';
import { EventPatternError, matchesPattern, validatePattern } from './event-pattern.ts';

// The example event of the EventBridge docs and aws/event-ruler's README ("Ruler by Example").
const ec2 = {
  version: '0',
  id: 'ddddd4-aaaa-7777-4444-345dd43cc333',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '012345679012',
  time: '2017-10-02T16:24:49Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
  detail: {
    'c-count': 5,
    'd-count': 3,
    'x-limit': 301.8,
    'source-ip': '10.0.0.33',
    'instance-id': 'i-000000aaaaaa00000',
    state: 'running',
  },
};
const d = (detail: Record<string, unknown>) => ({ ...ec2, detail });

type Row = [name: string, pattern: Record<string, unknown>, event: unknown, expected: boolean];

const rows: Row[] = [
  // Exact matching, AND across fields, OR within a field (docs: "Creating event patterns", "Ruler by Example").
  [
    'docs simple match',
    { 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['initializing', 'running'] } },
    ec2,
    true,
  ],
  [
    'resources intersection',
    { resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'] },
    ec2,
    true,
  ],
  ['one field of two differs', { source: ['aws.ec2'], detail: { state: ['stopped'] } }, ec2, false],
  ['exact is case sensitive', { source: ['AWS.EC2'] }, ec2, false],
  ['string does not match number', { detail: { 'c-count': ['5'] } }, ec2, false],
  ['number matches number', { detail: { 'c-count': [5] } }, ec2, true],
  ['number matches numerically', { detail: { 'x-limit': [3.018e2] } }, ec2, true],
  ['number does not match string', { detail: { state: [5] } }, ec2, false],
  ['boolean true', { detail: { ok: [true] } }, d({ ok: true }), true],
  ['boolean vs string "true"', { detail: { ok: [true] } }, d({ ok: 'true' }), false],
  [
    'null matches null (docs null values)',
    { detail: { responseElements: [null] } },
    d({ responseElements: null }),
    true,
  ],
  ['null does not match empty string', { detail: { responseElements: [null] } }, d({ responseElements: '' }), false],
  ['empty string matches (docs null values)', { detail: { eventVersion: [''] } }, d({ eventVersion: '' }), true],
  ['empty string does not match null', { detail: { eventVersion: [''] } }, d({ eventVersion: null }), false],
  ['null does not match an absent field', { detail: { responseElements: [null] } }, d({}), false],
  ['absent field never matches', { detail: { missing: ['running'] } }, ec2, false],
  ['absent parent never matches', { nope: { state: ['running'] } }, ec2, false],
  ['leaf pattern vs object value', { detail: ['running'] }, ec2, false],
  ['object pattern vs leaf value', { source: { x: ['aws.ec2'] } }, ec2, false],
  ['nested objects', { a: { b: { c: ['x'] } } }, { a: { b: { c: 'x' } } }, true],
  ['nested objects, wrong leaf', { a: { b: { c: ['x'] } } }, { a: { b: { c: 'y' } } }, false],
  ['empty pattern matches anything', {}, ec2, true],
  ['non-object event has no fields', { source: ['aws.ec2'] }, 'aws.ec2', false],
  // Arrays in events (docs: "Arrays in event patterns"; event-ruler "JSON Array Matching").
  [
    'docs arrays: intersection non-empty',
    { resources: ['arn:x:1', 'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f'] },
    { resources: ['arn:aws:autoscaling:asg', 'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f'] },
    true,
  ],
  ['arrays: intersection empty', { resources: ['arn:x:1'] }, { resources: ['arn:x:2', 'arn:x:3'] }, false],
  ['arrays: empty event array', { resources: ['arn:x:1'] }, { resources: [] }, false],
  ['arrays: nested arrays are flattened', { a: ['x'] }, { a: [['y'], ['x']] }, true],
  [
    'arrays of objects',
    { employees: { firstName: ['Anna'] } },
    { employees: [{ firstName: 'John' }, { firstName: 'Anna' }] },
    true,
  ],
  [
    'arrays of arrays of objects',
    { employees: { firstName: ['Peter'] } },
    { employees: [[{ firstName: 'Anna' }], [{ firstName: 'Peter' }]] },
    true,
  ],
  [
    'array-consistent: fields from different elements',
    { employees: { firstName: ['Anna'], lastName: ['Jones'] } },
    {
      employees: [
        { firstName: 'Anna', lastName: 'Smith' },
        { firstName: 'Peter', lastName: 'Jones' },
      ],
    },
    false,
  ],
  [
    'array-consistent: fields from one element',
    { employees: { firstName: ['Anna'], lastName: ['Smith'] } },
    {
      employees: [
        { firstName: 'Anna', lastName: 'Smith' },
        { firstName: 'Peter', lastName: 'Jones' },
      ],
    },
    true,
  ],
  // prefix / suffix (docs: "Prefix matching", "Suffix matching", "Begins/Ends with (ignore case)").
  ['docs prefix on time', { time: [{ prefix: '2017-10-02' }] }, ec2, true],
  ['prefix no match', { time: [{ prefix: '2017-10-03' }] }, ec2, false],
  ['prefix is case sensitive', { source: [{ prefix: 'AWS.' }] }, ec2, false],
  ['prefix only on strings', { detail: { 'c-count': [{ prefix: '5' }] } }, ec2, false],
  [
    'prefix equals-ignore-case',
    { service: [{ prefix: { 'equals-ignore-case': 'eventb' } }] },
    { service: 'EventBridge' },
    true,
  ],
  [
    'prefix equals-ignore-case no match',
    { service: [{ prefix: { 'equals-ignore-case': 'eventb' } }] },
    { service: 'SQS' },
    false,
  ],
  ['empty prefix matches every string', { source: [{ prefix: '' }] }, ec2, true],
  ['docs suffix', { FileName: [{ suffix: '.png' }] }, { FileName: 'image.png' }, true],
  ['suffix no match', { FileName: [{ suffix: '.png' }] }, { FileName: 'image.jpg' }, false],
  ['suffix is case sensitive', { FileName: [{ suffix: '.png' }] }, { FileName: 'IMAGE.PNG' }, false],
  [
    'suffix equals-ignore-case',
    { service: [{ suffix: { 'equals-ignore-case': 'tBridge' } }] },
    { service: 'EVENTBRIDGE' },
    true,
  ],
  [
    'suffix equals-ignore-case no match',
    { service: [{ suffix: { 'equals-ignore-case': 'tbridge' } }] },
    { service: 'eventbus' },
    false,
  ],
  ['suffix on an event array', { files: [{ suffix: '.png' }] }, { files: ['a.txt', 'b.png'] }, true],
  // equals-ignore-case (docs: "Equals (ignore case)").
  ['docs equals-ignore-case', { Name: [{ 'equals-ignore-case': 'alice' }] }, { Name: 'Alice' }, true],
  ['equals-ignore-case whole value', { Name: [{ 'equals-ignore-case': 'alice' }] }, { Name: 'Alicia' }, false],
  ['equals-ignore-case only on strings', { n: [{ 'equals-ignore-case': '5' }] }, { n: 5 }, false],
  // anything-but (docs: "Anything-but matching" and its prefix/suffix/ignore-case/wildcard forms).
  ['docs anything-but string', { detail: { state: [{ 'anything-but': 'initializing' }] } }, ec2, true],
  ['anything-but string excluded', { detail: { state: [{ 'anything-but': 'running' }] } }, ec2, false],
  ['docs anything-but number', { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, ec2, true],
  ['anything-but number excluded', { detail: { 'c-count': [{ 'anything-but': 5 }] } }, ec2, false],
  ['docs anything-but string list', { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } }, ec2, true],
  [
    'anything-but string list excluded',
    { detail: { state: [{ 'anything-but': ['stopped', 'running'] }] } },
    ec2,
    false,
  ],
  ['docs anything-but number list', { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } }, ec2, true],
  ['anything-but number list excluded', { detail: { 'x-limit': [{ 'anything-but': [100, 301.8] }] } }, ec2, false],
  ['anything-but string vs number value', { detail: { 'c-count': [{ 'anything-but': '5' }] } }, ec2, true],
  ['anything-but needs the field', { detail: { missing: [{ 'anything-but': 'x' }] } }, ec2, false],
  ['anything-but needs a leaf', { detail: [{ 'anything-but': 'x' }] }, ec2, false],
  ['anything-but on array: some other element', { s: [{ 'anything-but': 'a' }] }, { s: ['a', 'b'] }, true],
  ['anything-but on array: all excluded', { s: [{ 'anything-but': ['a', 'b'] }] }, { s: ['a', 'b'] }, false],
  ['docs anything-but prefix', { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, ec2, true],
  [
    'anything-but prefix excluded',
    { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } },
    d({ state: 'initializing' }),
    false,
  ],
  [
    'docs anything-but prefix (Region not US)',
    { Region: [{ 'anything-but': { prefix: 'us-' } }] },
    { Region: 'eu-west-1' },
    true,
  ],
  ['docs anything-but suffix', { FileName: [{ 'anything-but': { suffix: '.png' } }] }, { FileName: 'a.jpg' }, true],
  [
    'anything-but suffix excluded',
    { FileName: [{ 'anything-but': { suffix: '.png' } }] },
    { FileName: 'a.png' },
    false,
  ],
  [
    'docs anything-but ignore case',
    { state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }] },
    { state: 'INITIALIZING' },
    false,
  ],
  [
    'anything-but ignore case other',
    { state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }] },
    { state: 'Running' },
    true,
  ],
  [
    'anything-but ignore case list',
    { state: [{ 'anything-but': { 'equals-ignore-case': ['a', 'B'] } }] },
    { state: 'b' },
    false,
  ],
  [
    'docs anything-but wildcard',
    { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] },
    { FilePath: '/usr/bin/x' },
    true,
  ],
  [
    'anything-but wildcard excluded',
    { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] },
    { FilePath: '/usr/lib/x' },
    false,
  ],
  // numeric (docs: "Numeric matching").
  ['docs numeric range', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } }, ec2, true],
  ['numeric range upper exclusive', { detail: { 'c-count': [{ numeric: ['>', 0, '<', 5] }] } }, ec2, false],
  ['numeric range lower bound', { n: [{ numeric: ['>', 0, '<=', 5] }] }, { n: 0 }, false],
  ['numeric >= lower bound', { n: [{ numeric: ['>=', 0, '<=', 5] }] }, { n: 0 }, true],
  ['docs numeric <', { detail: { 'd-count': [{ numeric: ['<', 10] }] } }, ec2, true],
  ['numeric < no match', { detail: { 'd-count': [{ numeric: ['<', 3] }] } }, ec2, false],
  ['docs numeric = with exponent', { detail: { 'x-limit': [{ numeric: ['=', 3.018e2] }] } }, ec2, true],
  ['numeric = no match', { detail: { 'x-limit': [{ numeric: ['=', 301] }] } }, ec2, false],
  ['numeric >', { n: [{ numeric: ['>', 1.5] }] }, { n: 2 }, true],
  ['numeric negative', { n: [{ numeric: ['<', -1] }] }, { n: -2.5 }, true],
  ['numeric ignores numeric strings', { n: [{ numeric: ['>', 0] }] }, { n: '5' }, false],
  ['numeric on an array', { n: [{ numeric: ['>', 10] }] }, { n: [1, 20] }, true],
  [
    'docs complex example',
    {
      time: [{ prefix: '2017-10-02' }],
      detail: {
        state: [{ 'anything-but': 'initializing' }],
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ 'anything-but': [100, 200, 300] }],
        'source-ip': [{ cidr: '10.0.0.0/8' }],
      },
    },
    ec2,
    true,
  ],
  // cidr (docs: "IP address matching").
  ['docs cidr', { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } }, ec2, true],
  ['cidr outside', { detail: { 'source-ip': [{ cidr: '10.0.1.0/24' }] } }, ec2, false],
  ['cidr /32', { ip: [{ cidr: '192.168.1.7/32' }] }, { ip: '192.168.1.7' }, true],
  ['cidr /0', { ip: [{ cidr: '0.0.0.0/0' }] }, { ip: '8.8.8.8' }, true],
  ['cidr IPv6', { ip: [{ cidr: '2001:db8::/32' }] }, { ip: '2001:db8:85a3::8a2e:370:7334' }, true],
  ['cidr IPv6 outside', { ip: [{ cidr: '2001:db8::/32' }] }, { ip: '2001:db9::1' }, false],
  ['cidr IPv4 block vs IPv6 value', { ip: [{ cidr: '10.0.0.0/8' }] }, { ip: '::1' }, false],
  ['cidr not an IP', { ip: [{ cidr: '10.0.0.0/8' }] }, { ip: 'localhost' }, false],
  // exists (docs: "Exists matching").
  ['exists true', { detail: { 'c-count': [{ exists: true }] } }, ec2, true],
  ['exists true, absent', { detail: { 'e-count': [{ exists: true }] } }, ec2, false],
  [
    'docs exists false, absent',
    { detail: { 'c-count': [{ exists: false }] } },
    d({ state: ['initializing', 'running'] }),
    true,
  ],
  [
    'docs exists false, intermediate node',
    { detail: { 'c-count': [{ exists: false }] } },
    d({ 'c-count': { c1: 100 } }),
    true,
  ],
  [
    'exists true, intermediate node',
    { detail: { 'c-count': [{ exists: true }] } },
    d({ 'c-count': { c1: 100 } }),
    false,
  ],
  ['exists false, present', { detail: { 'c-count': [{ exists: false }] } }, ec2, false],
  ['exists true, null is a value', { v: [{ exists: true }] }, { v: null }, true],
  ['exists false, empty array', { v: [{ exists: false }] }, { v: [] }, true],
  ['exists false, parent absent', { detail: { nested: { x: [{ exists: false }] } } }, ec2, true],
  ['exists false or a value', { v: ['a', { exists: false }] }, { v: 'a' }, true],
  ['exists false or a value, absent', { v: ['a', { exists: false }] }, {}, true],
  ['exists false or a value, other', { v: ['a', { exists: false }] }, { v: 'b' }, false],
  // wildcard (docs: "Wildcard matching").
  ['docs wildcard', { source: [{ wildcard: 'Simple*Service' }] }, { source: 'SimpleQueueService' }, true],
  ['wildcard matches empty run', { source: [{ wildcard: 'Simple*Service' }] }, { source: 'SimpleService' }, true],
  ['wildcard anchored', { source: [{ wildcard: 'Simple*Service' }] }, { source: 'ASimpleQueueService' }, false],
  ['wildcard several stars', { path: [{ wildcard: 'dir/*/subdir/*.txt' }] }, { path: 'dir/a/subdir/b.txt' }, true],
  [
    'wildcard several stars no match',
    { path: [{ wildcard: 'dir/*/subdir/*.txt' }] },
    { path: 'dir/a/other/b.txt' },
    false,
  ],
  ['wildcard escaped star', { v: [{ wildcard: 'a\\*b' }] }, { v: 'a*b' }, true],
  ['wildcard escaped star is literal', { v: [{ wildcard: 'a\\*b' }] }, { v: 'axxb' }, false],
  ['wildcard escaped backslash', { v: [{ wildcard: 'a\\\\*' }] }, { v: 'a\\zz' }, true],
  ['wildcard regex characters are literal', { v: [{ wildcard: 'a.c*' }] }, { v: 'abcd' }, false],
  ['wildcard only on strings', { v: [{ wildcard: '*' }] }, { v: 1 }, false],
  // $or (docs: "$or matching"; event-ruler "The $or Primitive").
  [
    '$or first branch',
    {
      source: ['aws.cloudwatch'],
      $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }],
    },
    { source: 'aws.cloudwatch', namespace: 'AWS/EC2' },
    true,
  ],
  [
    '$or no branch',
    { source: ['aws.cloudwatch'], $or: [{ metricName: ['CPUUtilization'] }, { namespace: ['AWS/EC2'] }] },
    { source: 'aws.cloudwatch', namespace: 'AWS/S3' },
    false,
  ],
  [
    '$or does not bypass AND',
    { source: ['aws.cloudwatch'], $or: [{ metricName: ['CPUUtilization'] }, { namespace: ['AWS/EC2'] }] },
    { source: 'aws.ec2', namespace: 'AWS/EC2' },
    false,
  ],
  [
    '$or nested in detail',
    { detail: { $or: [{ source: ['aws.cloudwatch'] }, { 'detail-type': ['CloudWatch Alarm State Change'] }] } },
    { detail: { 'detail-type': 'CloudWatch Alarm State Change' } },
    true,
  ],
  ['$or with AND inside', { $or: [{ a: ['1'], b: ['2'] }, { c: ['3'] }] }, { a: '1', b: 'x' }, false],
  [
    '$or nested $or',
    { $or: [{ scope: ['Service'] }, { metricType: ['M'], $or: [{ metricId: [1234] }, { spaceId: [1000] }] }] },
    { metricType: 'M', spaceId: 1000 },
    true,
  ],
  ['$or with exists false', { $or: [{ a: [{ exists: false }] }, { a: ['x'] }] }, {}, true],
  // DynamoDB stream record, as Lambda event-source-mapping filter criteria see it.
  [
    'ddb stream filter',
    { dynamodb: { NewImage: { __edb_e__: { S: ['contact'] } } } },
    {
      eventName: 'INSERT',
      dynamodb: { Keys: { pk: { S: 'x' } }, NewImage: { __edb_e__: { S: 'contact' }, name: { S: 'Ann' } } },
    },
    true,
  ],
  [
    'ddb stream filter, other entity',
    { dynamodb: { NewImage: { __edb_e__: { S: ['contact'] } } } },
    { eventName: 'INSERT', dynamodb: { NewImage: { __edb_e__: { S: 'company' } } } },
    false,
  ],
  [
    'ddb stream filter, REMOVE has no NewImage',
    { eventName: ['INSERT', 'MODIFY'], dynamodb: { NewImage: { __edb_e__: { S: ['contact'] } } } },
    { eventName: 'REMOVE', dynamodb: { OldImage: { __edb_e__: { S: 'contact' } } } },
    false,
  ],
];

describe('matchesPattern', () => {
  it.each(rows)('%s', (_name, pattern, event, expected) => {
    expect(matchesPattern(pattern, event)).toBe(expected);
  });

  it('has a broad table', () => {
    expect(rows.length).toBeGreaterThanOrEqual(80);
  });
});

const invalid: Array<[name: string, pattern: unknown, message: RegExp]> = [
  ['not an object', ['a'], /must be a JSON object/],
  ['leaf not in an array', { source: 'aws.ec2' }, /"source" must be an array/],
  ['empty value list', { source: [] }, /must not be an empty array/],
  ['nested arrays', { source: [['a']] }, /nested arrays/],
  ['unknown operator', { source: [{ contains: 'x' }] }, /unknown operator "contains"/],
  ['two operators in one object', { source: [{ prefix: 'a', suffix: 'b' }] }, /exactly one key/],
  ['prefix not a string', { source: [{ prefix: 1 }] }, /"prefix" takes a string/],
  ['exists not a boolean', { source: [{ exists: 'true' }] }, /"exists" takes true or false/],
  ['numeric unknown op', { n: [{ numeric: ['!=', 1] }] }, /unknown operator/],
  ['numeric string operand', { n: [{ numeric: ['>', '1'] }] }, /numbers only/],
  ['numeric two lower bounds', { n: [{ numeric: ['>', 1, '>=', 2] }] }, /one lower/],
  ['numeric empty range', { n: [{ numeric: ['>', 5, '<', 1] }] }, /bottom must be less/],
  ['cidr malformed', { ip: [{ cidr: '10.0.0.0/33' }] }, /"cidr"/],
  ['wildcard consecutive stars', { v: [{ wildcard: 'a**b' }] }, /consecutive/],
  ['wildcard bad escape', { v: [{ wildcard: 'a\\b' }] }, /may only escape/],
  ['anything-but mixed list', { v: [{ 'anything-but': ['a', 1] }] }, /only strings or only numbers/],
  ['anything-but boolean', { v: [{ 'anything-but': true }] }, /"anything-but" takes/],
  ['anything-but numeric', { v: [{ 'anything-but': { numeric: ['>', 1] } }] }, /"anything-but" takes/],
  ['$or with one branch', { $or: [{ a: ['x'] }] }, /at least two/],
  ['$or with an empty branch', { $or: [{ a: ['x'] }, {}] }, /non-empty object/],
  ['scalar nested value', { detail: { n: 5 } }, /"detail.n" must be an array/],
];

describe('validatePattern', () => {
  it.each(invalid)('rejects %s', (_name, pattern, message) => {
    expect(() => validatePattern(pattern)).toThrow(EventPatternError);
    expect(() => validatePattern(pattern)).toThrow(message);
    expect(() => matchesPattern(pattern, {})).toThrow(EventPatternError);
  });

  it('accepts every pattern of the matching table', () => {
    for (const [, pattern] of rows) expect(() => validatePattern(pattern)).not.toThrow();
  });
});
