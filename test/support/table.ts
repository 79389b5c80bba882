import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { ensureTable, LOCAL_CREDENTIALS } from '../../infra/local/dynamodb-local.ts';
import { deriveTableDesign } from '../../shared/db/table.ts';

/**
 * Points this test file at the run's DynamoDB Local and a fresh table of the real design. Must be called before
 * any module that reads TABLE_NAME is imported (use a dynamic import after it).
 */
export async function useFreshTable(prefix = 'crm-test'): Promise<{ tableName: string; endpoint: string }> {
  const endpoint = inject('dynamoEndpoint');
  const tableName = `${prefix}-${randomUUID().slice(0, 8)}`;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = LOCAL_CREDENTIALS.secretAccessKey;
  process.env.TABLE_NAME = tableName;
  // Suites not about the per-tenant quota (shared/quota) send bursts to one tenant: give them one they never reach.
  process.env.TENANT_RATE_LIMIT ??= '100000';
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  await ensureTable(client, tableName, deriveTableDesign());
  client.destroy();
  return { tableName, endpoint };
}
