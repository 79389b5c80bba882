import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminDisableUserCommand,
  AdminEnableUserCommand,
  AdminGetUserCommand,
  AdminListGroupsForUserCommand,
  AdminRemoveUserFromGroupCommand,
  CognitoIdentityProviderClient,
  UserNotFoundException,
  UsernameExistsException,
} from '@aws-sdk/client-cognito-identity-provider';
import * as z from 'zod';
import { lazyConfig } from '../config.ts';
import { ConflictError, NotFoundError } from '../errors.ts';

/**
 * The identity side of a user: the Cognito user pool (the local Cognito in the local cloud, through the SDK's
 * AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER). Cognito's admin actions cannot be scoped to a tenant by IAM, so every
 * change to an existing identity goes through `identityOf`, which refuses one whose `custom:tenantId` is not the
 * caller's tenant. These are exactly the actions the users function's IAM policy allows (infra/constructs/api.ts).
 */
export const COGNITO_ACTIONS = [
  'AdminCreateUser',
  'AdminGetUser',
  'AdminListGroupsForUser',
  'AdminAddUserToGroup',
  'AdminRemoveUserFromGroup',
  'AdminDisableUser',
  'AdminEnableUser',
] as const;

export const TENANT_CLAIM = 'custom:tenantId';

const config = lazyConfig(z.object({ USER_POOL_ID: z.string().min(1) }));
let client: CognitoIdentityProviderClient | undefined;
/** The function's own credentials (not the tenant's DynamoDB session): Cognito is outside the table. */
const cognito = () => (client ??= new CognitoIdentityProviderClient({ maxAttempts: 3 }));
const pool = () => config().USER_POOL_ID;

export interface Identity {
  /** The Cognito `sub`: the CRM's userId. */
  sub: string;
  email: string;
  tenantId: string;
  enabled: boolean;
  /** FORCE_CHANGE_PASSWORD until the first sign-in, then CONFIRMED. */
  status: string;
}

function attribute(attributes: Array<{ Name?: string; Value?: string }> | undefined, name: string): string {
  return attributes?.find((a) => a.Name === name)?.Value ?? '';
}

/**
 * Creates the identity with its tenant (immutable in the pool) and sends Cognito's invitation email with a temporary
 * password. An email already in the pool is `user.email_taken`, whichever tenant holds it.
 */
export async function createIdentity(tenantId: string, email: string): Promise<Identity> {
  try {
    const { User } = await cognito().send(
      new AdminCreateUserCommand({
        UserPoolId: pool(),
        Username: email,
        UserAttributes: [
          { Name: 'email', Value: email },
          { Name: 'email_verified', Value: 'true' },
          { Name: TENANT_CLAIM, Value: tenantId },
        ],
        DesiredDeliveryMediums: ['EMAIL'],
      }),
    );
    return {
      sub: attribute(User?.Attributes, 'sub'),
      email,
      tenantId,
      enabled: User?.Enabled ?? true,
      status: User?.UserStatus ?? 'FORCE_CHANGE_PASSWORD',
    };
  } catch (error) {
    if (error instanceof UsernameExistsException) throw emailTaken(email);
    throw error;
  }
}

export const emailTaken = (email: string) =>
  new ConflictError('user.email_taken', `A user with the email ${email} already exists.`, { email });

/** The identity by sub or email, or undefined. */
export async function findIdentity(username: string): Promise<Identity | undefined> {
  try {
    const user = await cognito().send(new AdminGetUserCommand({ UserPoolId: pool(), Username: username }));
    return {
      sub: attribute(user.UserAttributes, 'sub'),
      email: attribute(user.UserAttributes, 'email'),
      tenantId: attribute(user.UserAttributes, TENANT_CLAIM),
      enabled: user.Enabled ?? false,
      status: user.UserStatus ?? '',
    };
  } catch (error) {
    if (error instanceof UserNotFoundException) return undefined;
    throw error;
  }
}

/**
 * The identity of a tenant's user, checked to belong to that tenant before anything changes it: another tenant's
 * identity is reported as not found, exactly like a missing one, so ids of other tenants reveal nothing.
 */
export async function identityOf(tenantId: string, userId: string): Promise<Identity> {
  const identity = await findIdentity(userId);
  if (!identity || identity.tenantId !== tenantId || identity.sub !== userId) throw new NotFoundError('user', userId);
  return identity;
}

/** Makes the identity's groups exactly `roles` (adds the missing, removes the others); safe to repeat. */
export async function setGroups(identity: Identity, roles: readonly string[]): Promise<void> {
  const current: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = await cognito().send(
      new AdminListGroupsForUserCommand({ UserPoolId: pool(), Username: identity.sub, Limit: 60, NextToken }),
    );
    current.push(...(page.Groups ?? []).map((g) => g.GroupName ?? ''));
    NextToken = page.NextToken;
  } while (NextToken);
  for (const role of roles.filter((r) => !current.includes(r))) {
    await cognito().send(
      new AdminAddUserToGroupCommand({ UserPoolId: pool(), Username: identity.sub, GroupName: role }),
    );
  }
  for (const group of current.filter((g) => !roles.includes(g))) {
    await cognito().send(
      new AdminRemoveUserFromGroupCommand({ UserPoolId: pool(), Username: identity.sub, GroupName: group }),
    );
  }
}

/** Allows or stops sign-in (tokens already issued stay valid until they expire, at most an hour). */
export async function setSignIn(identity: Identity, enabled: boolean): Promise<void> {
  const input = { UserPoolId: pool(), Username: identity.sub };
  await cognito().send(enabled ? new AdminEnableUserCommand(input) : new AdminDisableUserCommand(input));
}
