import { DynamoDbLocal } from '../infra/local/dynamodb-local.ts';

/**
 * One in-memory DynamoDB Local for the whole test run. Suites create their own uniquely named tables in it
 * (see test/support/table.ts), so they never share data and may run in parallel.
 */
export default async function setup({ provide }: { provide: (key: string, value: unknown) => void }) {
  const dynamo = await DynamoDbLocal.start();
  provide('dynamoEndpoint', dynamo.endpoint);
  return async () => {
    await dynamo.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}
