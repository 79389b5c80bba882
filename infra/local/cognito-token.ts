import {
  AdminGetUserCommand,
  type AdminGetUserCommandOutput,
  AdminListGroupsForUserCommand,
  CognitoIdentityProviderClient,
  UserNotFoundException,
} from '@aws-sdk/client-cognito-identity-provider';
import { LOCAL_CREDENTIALS } from './dynamodb-local.ts';
import type { LocalIssuer } from './issuer.ts';
import { LOCAL_REGION } from './template.ts';

export interface UserTokenOptions {
  issuer: LocalIssuer;
  audience: string;
  /** The local Cognito's endpoint and the template's user pool. */
  cognitoEndpoint: string;
  userPoolId: string;
  tenantId: string;
  /** The user's id (Cognito sub) or email. */
  user: string;
  expiresIn?: number | string;
}

/** Why no token was minted for a user: unknown, another tenant's or disabled. */
export class UserTokenRefused extends Error {
  override name = 'UserTokenRefused';
}

/**
 * Mints an ID token for a user of the local user pool, as Cognito would issue at sign-in: their sub, email and
 * groups (roles), read through the SDK from the local Cognito. A disabled user cannot sign in, so gets no token.
 */
export async function mintUserToken(options: UserTokenOptions): Promise<string> {
  const client = new CognitoIdentityProviderClient({
    endpoint: options.cognitoEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    const input = { UserPoolId: options.userPoolId, Username: options.user };
    let found: AdminGetUserCommandOutput;
    try {
      found = await client.send(new AdminGetUserCommand(input));
    } catch (error) {
      if (error instanceof UserNotFoundException) {
        throw new UserTokenRefused(`no user ${options.user} in the local user pool: invite them (POST /v1/users)`);
      }
      throw error;
    }
    const attribute = (name: string) => found.UserAttributes?.find((a) => a.Name === name)?.Value;
    if (attribute('custom:tenantId') !== options.tenantId) {
      throw new UserTokenRefused(`user ${options.user} does not belong to tenant ${options.tenantId}`);
    }
    if (!found.Enabled) {
      throw new UserTokenRefused(
        `user ${options.user} is disabled and cannot sign in: enable them first (POST /v1/users/{userId}/enable)`,
      );
    }
    const groups = await client.send(new AdminListGroupsForUserCommand({ ...input, Limit: 60 }));
    const sub = attribute('sub')!;
    const email = attribute('email');
    return options.issuer.mint({
      tenantId: options.tenantId,
      userId: sub,
      ...(email ? { email } : {}),
      roles: (groups.Groups ?? []).map((g) => g.GroupName ?? '').filter(Boolean),
      audience: options.audience,
      ...(options.expiresIn !== undefined ? { expiresIn: options.expiresIn } : {}),
    });
  } finally {
    client.destroy();
  }
}
