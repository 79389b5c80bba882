import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { afterAll } from 'vitest';
import { LocalCognito } from '../../infra/local/cognito.ts';
import { LOCAL_CREDENTIALS } from '../../infra/local/dynamodb-local.ts';
import { ROLES } from '../../shared/auth/permissions.ts';

export const TEST_USER_POOL = 'TestUserPool';

/**
 * Starts a local Cognito (in memory) with a pool shaped like the stack's (email sign-in, custom:tenantId, a group
 * per role) and points the users service at it (AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER, USER_POOL_ID). Call
 * before importing the users handler; stopped after the file's tests.
 */
export async function useLocalCognito(): Promise<{ cognito: LocalCognito; client: CognitoIdentityProviderClient }> {
  const cognito = await LocalCognito.start({
    pools: [{ id: TEST_USER_POOL, groups: [...ROLES], customAttributes: ['tenantId'], usernameAttributes: ['email'] }],
  });
  process.env.AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER = cognito.endpoint;
  process.env.USER_POOL_ID = TEST_USER_POOL;
  const client = new CognitoIdentityProviderClient({
    endpoint: cognito.endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  afterAll(async () => {
    client.destroy();
    await cognito.stop();
  });
  return { cognito, client };
}
