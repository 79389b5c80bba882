import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AccountRecovery,
  CfnUserPoolGroup,
  ClientAttributes,
  FeaturePlan,
  Mfa,
  StringAttribute,
  UserPool,
  type UserPoolClient,
} from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { ROLES } from '../../shared/auth/permissions.ts';

/** The custom attribute carrying the user's tenant; set by administrators only, immutable once set. */
export const TENANT_ATTRIBUTE = 'tenantId';

/**
 * Cognito users for the API. Administrators create users (no self sign-up) with their tenant; the ID token carries
 * `custom:tenantId` and `cognito:groups` (one group per role), which is what the API authorizes on.
 */
export class CrmAuth extends Construct {
  readonly userPool: UserPool;
  readonly client: UserPoolClient;
  /** The JWT issuer of the pool's tokens (what the API's authorizer trusts). */
  readonly issuerUrl: string;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.userPool = new UserPool(this, 'UserPool', {
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      customAttributes: { [TENANT_ATTRIBUTE]: new StringAttribute({ minLen: 1, maxLen: 64, mutable: false }) },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      // MFA can only be made mandatory when a pool is created; TOTP needs no SMS role or spend.
      mfa: Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      featurePlan: FeaturePlan.ESSENTIALS,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG8',
      reason:
        'The Plus feature plan (threat protection) is billed per monthly active user; deployers opt in. Sign-up is ' +
        'admin-only, MFA is required and passwords are strong, which covers the baseline.',
    });

    for (const role of ROLES) {
      new CfnUserPoolGroup(this, `Group-${role}`, {
        userPoolId: this.userPool.userPoolId,
        groupName: role,
        description: `CRM role ${role} (shared/auth/permissions.ts)`,
      });
    }

    this.client = this.userPool.addClient('AppClient', {
      generateSecret: false,
      // Sign-in is SRP from the app itself; no hosted UI, so no OAuth flows or callback URLs.
      disableOAuth: true,
      authFlows: { userSrp: true },
      preventUserExistenceErrors: true,
      // Users may read their tenant but never write it: a user choosing a tenant would break isolation.
      readAttributes: new ClientAttributes()
        .withStandardAttributes({ email: true, emailVerified: true, givenName: true, familyName: true })
        .withCustomAttributes(TENANT_ATTRIBUTE),
      writeAttributes: new ClientAttributes().withStandardAttributes({
        email: true,
        givenName: true,
        familyName: true,
      }),
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
    });

    const stack = Stack.of(this);
    this.issuerUrl = `https://cognito-idp.${stack.region}.${stack.urlSuffix}/${this.userPool.userPoolId}`;
  }
}
