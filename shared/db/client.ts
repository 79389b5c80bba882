import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { readConfig, tableConfigSchema } from '../config.ts';

/**
 * One client per container, created at module load (cold start) and reused. The endpoint comes from the SDK's
 * standard AWS_ENDPOINT_URL_DYNAMODB variable, which the local cloud sets: no "if local" here.
 */
export const tableName: string = readConfig(tableConfigSchema).TABLE_NAME;

export const dynamoClient = new DynamoDBClient({ maxAttempts: 3 });

export const documentClient = DynamoDBDocumentClient.from(dynamoClient, {
  marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
});
