import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterEach, describe, expect, it } from 'vitest';
import { InstantDynamoDB } from './instant-dynamodb.ts';

/** A stand-in DynamoDB on 127.0.0.1 that answers every GetItem with one item and counts the requests. */
async function fakeDynamo() {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ Item: { pk: { S: 'contact#1' }, name: { S: 'Ada' } } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const fake = new InstantDynamoDB();
const realHandle = NodeHttpHandler.prototype.handle;

afterEach(() => {
  fake.uninstall();
});

describe('InstantDynamoDB (bench only)', () => {
  it('records real responses, then answers the same calls from them without a socket', async () => {
    const dynamo = await fakeDynamo();
    const client = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    const get = () => client.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'contact#1' } } }));
    try {
      fake.install();
      const { value, responses } = await fake.record(get);
      expect(value.Item).toEqual({ pk: { S: 'contact#1' }, name: { S: 'Ada' } });
      expect(responses).toHaveLength(1);
      expect(dynamo.requests()).toBe(1);
      await dynamo.close();

      for (let i = 0; i < 3; i++) {
        fake.replay(responses);
        const replayed = await get();
        expect(replayed.Item).toEqual({ pk: { S: 'contact#1' }, name: { S: 'Ada' } });
        expect(fake.exhausted).toBe(true);
      }
      // The server is gone and saw only the recorded call.
      expect(dynamo.requests()).toBe(1);
      // A request beyond what was recorded fails instead of going anywhere.
      await expect(get()).rejects.toThrow(/more requests than were recorded/);
    } finally {
      client.destroy();
      await dynamo.close();
    }
  });

  it('answers a configuration re-read the recorded call did not make (an expired cache) with "no item"', async () => {
    const dynamo = await fakeDynamo();
    const client = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    const query = () => client.send(new QueryCommand({ TableName: 't', KeyConditionExpression: 'pk = :p' }));
    try {
      fake.install();
      const { responses } = await fake.record(query);
      await dynamo.close();
      fake.replay(responses);
      const reread = await client.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'settings' } } }));
      expect(reread.Item).toBeUndefined();
      await query();
      expect(fake.exhausted).toBe(true);
    } finally {
      client.destroy();
      await dynamo.close();
    }
  });

  it('puts the SDK handler back when uninstalled', () => {
    fake.install();
    expect(NodeHttpHandler.prototype.handle).not.toBe(realHandle);
    fake.uninstall();
    expect(NodeHttpHandler.prototype.handle).toBe(realHandle);
  });
});
