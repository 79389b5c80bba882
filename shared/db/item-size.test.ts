import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS } from '../../infra/local/dynamodb-local.ts';
import { useFreshTable } from '../../test/support/table.ts';
import { attributeSize, DYNAMODB_MAX_ITEM_BYTES, itemSize, largestFields, valueSize } from './item-size.ts';

describe('itemSize: DynamoDB’s documented rules', () => {
  it('counts strings as UTF-8 bytes and attribute names too', () => {
    expect(valueSize('abc')).toBe(3);
    expect(valueSize('é')).toBe(2);
    expect(valueSize('株')).toBe(3);
    expect(valueSize('😀')).toBe(4);
    expect(attributeSize('név', 'x')).toBe(5);
    expect(itemSize({ a: 'xy', bb: 'z' })).toBe(1 + 2 + 2 + 1);
  });

  it('counts numbers by significant digits, booleans and nulls as one byte', () => {
    expect(valueSize(7)).toBe(2);
    expect(valueSize(12)).toBe(2);
    expect(valueSize(123)).toBe(3);
    expect(valueSize(1000)).toBe(2); // trailing zeros trimmed
    expect(valueSize(0.001)).toBe(2); // leading zeros trimmed
    expect(valueSize(true)).toBe(1);
    expect(valueSize(null)).toBe(1);
  });

  it('counts lists and maps as 3 bytes plus 1 per element, map member names included', () => {
    expect(valueSize([])).toBe(3);
    expect(valueSize({})).toBe(3);
    expect(valueSize(['a', 'bc'])).toBe(3 + (1 + 1) + (1 + 2));
    expect(valueSize({ k: 'v', long: 'xy' })).toBe(3 + (1 + 1 + 1) + (1 + 4 + 2));
    expect(itemSize({ skipped: undefined, m: { gone: undefined } })).toBe(1 + 3);
  });

  it('names the largest fields, splitting the maps asked for into their members', () => {
    const item = {
      pk: 'x'.repeat(500),
      name: 'Ada',
      notes: 'n'.repeat(40),
      customFields: { a: 'y'.repeat(100), b: 1 },
    };
    const largest = largestFields(item, (name) => name !== 'pk', ['customFields']);
    expect(largest.map((f) => f.path)).toEqual(['customFields.a', 'notes', 'name', 'customFields.b']);
    expect(largest[0]!.bytes).toBe(1 + 1 + 100);
  });
});

describe('itemSize agrees with DynamoDB (Local) on its 400 KB item limit', () => {
  let client: DynamoDBDocumentClient;
  let tableName: string;
  beforeAll(async () => {
    const table = await useFreshTable('crm-size');
    tableName = table.tableName;
    client = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: table.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS }),
    );
  });
  afterAll(() => client.destroy());

  /** An item of exactly `bytes`, with strings, a number, a list and a map of multi-byte text. */
  function itemOf(bytes: number): Record<string, unknown> {
    const base = {
      pk: 'size-test',
      sk: 'x',
      n: 12345,
      flag: true,
      list: ['株式会社', 'é'],
      map: { a: 'ü', nested: { b: [1, 2] } },
      pad: '',
    };
    return { ...base, pad: 'x'.repeat(bytes - itemSize(base)) };
  }

  it('an item of exactly 400 KB is stored; one byte more is refused', async () => {
    const atLimit = itemOf(DYNAMODB_MAX_ITEM_BYTES);
    expect(itemSize(atLimit)).toBe(DYNAMODB_MAX_ITEM_BYTES);
    await client.send(new PutCommand({ TableName: tableName, Item: atLimit }));
    const over = itemOf(DYNAMODB_MAX_ITEM_BYTES + 1);
    await expect(client.send(new PutCommand({ TableName: tableName, Item: over }))).rejects.toThrow(/size/i);
  });
});
