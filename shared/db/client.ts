import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { readConfig, tableConfigSchema } from '../config.ts';
import { tracer } from '../observability.ts';

/**
 * One client per container, created at module load (cold start) and reused. The endpoint comes from the SDK's
 * standard AWS_ENDPOINT_URL_DYNAMODB variable, which the local cloud sets: no "if local" here.
 */
export const tableName: string = readConfig(tableConfigSchema).TABLE_NAME;

/** Traced in AWS (a subsegment per DynamoDB call under the handler's); unchanged where tracing is off. */
export const dynamoClient = tracer.captureAWSv3Client(new DynamoDBClient({ maxAttempts: 3 }));

export const documentClient = DynamoDBDocumentClient.from(dynamoClient, {
  marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
});
