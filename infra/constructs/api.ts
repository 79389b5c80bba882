import { Aws, Duration, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { CfnApi, HttpApi, HttpStage, type IHttpApi, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import type { IUserPool } from 'aws-cdk-lib/aws-cognito';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { docsAssetCopyCommands } from '../../shared/api/docs-assets.ts';
import { FORMS_API_GROUPS, FUNCTION_GROUPS, type FunctionGroup, type RouteDefinition } from '../../shared/api/route.ts';
import { routes } from '../../shared/api/routes.ts';
import { COGNITO_ACTIONS } from '../../shared/users/identity.ts';
import { CrmFunction } from './crm-function.ts';
import type { CrmData } from './data.ts';
import { type GatewayDefinitionProps, gatewayDefinition } from './gateway-definition.ts';
import { GROUP_TABLE_ACCESS, TenantAccessRole } from './tenant-access.ts';

/** Handler module of each function group. */
export const GROUP_ENTRIES: Record<FunctionGroup, string> = {
  contacts: 'functions/http/contacts.ts',
  companies: 'functions/http/companies.ts',
  notes: 'functions/http/notes.ts',
  customFields: 'functions/http/custom-fields.ts',
  settings: 'functions/http/settings.ts',
  docs: 'functions/http/docs.ts',
  users: 'functions/http/users.ts',
  teams: 'functions/http/teams.ts',
  catalog: 'functions/http/catalog.ts',
  knowledge: 'functions/http/knowledge.ts',
  mailboxes: 'functions/http/mailboxes.ts',
  segments: 'functions/http/segments.ts',
  deals: 'functions/http/deals.ts',
  leads: 'functions/http/leads.ts',
  forms: 'functions/http/forms.ts',
  formSubmissions: 'functions/http/form-submissions.ts',
  activities: 'functions/http/activities.ts',
  calendarFeed: 'functions/http/calendar-feed.ts',
  assignment: 'functions/http/assignment.ts',
  duplicates: 'functions/http/duplicates.ts',
  merge: 'functions/http/merge.ts',
  sla: 'functions/http/sla.ts',
  tickets: 'functions/http/tickets.ts',
  campaigns: 'functions/http/campaigns.ts',
  subscriptions: 'functions/http/subscription-categories.ts',
  suppressions: 'functions/http/suppressions.ts',
  preferences: 'functions/http/preferences.ts',
  emailTemplates: 'functions/http/email-templates.ts',
};

/** Why each group's public routes need no authorizer: a route may be public only with its group's reason here. */
const PUBLIC_ROUTE_REASONS: Partial<Record<FunctionGroup, string>> = {
  docs: 'Serves the public API description (OpenAPI and its reference page).',
  formSubmissions:
    'Public web-to-lead: scoped to the tenant its URL names (form publicKey or opt-in token), origin-checked and ' +
    'rate limited per source address in the function.',
  calendarFeed:
    'iCalendar feed for calendar apps, which cannot send a bearer token: the secret in the path is the credential ' +
    "(only its hash is stored; revocable), it names the tenant, and requests count against that tenant's quota.",
  preferences:
    'Unsubscribe (RFC 8058 one-click) and preference pages linked from marketing mail, which recipients open without ' +
    "an account: the link's HMAC-signed token (the tenant's own key) is the credential and names the tenant and " +
    'contact; rate limited per contact in the function; a GET changes nothing.',
};

export interface ThrottleSettings {
  rateLimit: number;
  burstLimit: number;
}

export interface CrmApiProps {
  data: CrmData;
  /** JWT issuer and audience (the Cognito pool's issuer URL and app client id). */
  issuerUrl: string;
  audience: string;
  allowedOrigins: string[];
  throttle: ThrottleSettings;
  /** Per-tenant request quota in requests per second (TENANT_RATE_LIMIT; see shared/quota). */
  tenantRateLimit: number;
  /** The users' pool: the users group administers its identities (USER_POOL_ID). */
  userPool: IUserPool;
}

/** What every access log line records (JSON, one object per request). */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  routeKey: '$context.routeKey',
  status: '$context.status',
  latency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  error: '$context.error.message',
  responseLength: '$context.responseLength',
  userAgent: '$context.identity.userAgent',
  sub: '$context.authorizer.claims.sub',
};

/**
 * The HTTP APIs, built from the route table: one Lambda function per route group, one API Gateway route per entry of
 * `routes` (declared in the API's OpenAPI Body), each behind the Cognito JWT authorizer unless the route is public.
 */
export class CrmApi extends Construct {
  readonly api: IHttpApi;
  readonly stage: HttpStage;
  /**
   * The public web-to-lead API (form submissions, opt-in confirmations): no authorizer and no API-level CORS, so its
   * function answers each form's preflight from the form's allowedOrigins (an HTTP API with CORS configured answers
   * every OPTIONS itself and drops the functions' CORS headers).
   */
  readonly formsApi: IHttpApi;
  readonly formsStage: HttpStage;
  readonly functions: Record<FunctionGroup, CrmFunction>;
  /** Per data-serving group: the role its function assumes per tenant for every table call of a request. */
  readonly tenantRoles: Partial<Record<FunctionGroup, TenantAccessRole>> = {};

  constructor(scope: Construct, id: string, props: CrmApiProps) {
    super(scope, id);
    this.functions = Object.fromEntries(
      FUNCTION_GROUPS.map((group) => [group, this.groupFunction(group, props)]),
    ) as Record<FunctionGroup, CrmFunction>;

    // ID tokens: they carry custom:tenantId and cognito:groups, and their `aud` is the app client id.
    const jwt = { issuer: props.issuerUrl, audience: [props.audience] };
    const integrationUri = (route: RouteDefinition) =>
      `arn:${Aws.PARTITION}:apigateway:${Aws.REGION}:lambda:path/2015-03-31/functions/${this.functions[route.group].function.functionArn}/invocations`;
    const onFormsApi = (route: RouteDefinition) => FORMS_API_GROUPS.includes(route.group);
    for (const route of routes) {
      if (route.permission === 'public' && !PUBLIC_ROUTE_REASONS[route.group]) {
        throw new Error(`${route.method} ${route.path} is public: give its group's reason in PUBLIC_ROUTE_REASONS`);
      }
    }

    this.api = this.httpApi('HttpApi', {
      title: 'CrmApi',
      description: 'CRM API (routes from shared/api/routes.ts)',
      routes: routes.filter((route) => !onFormsApi(route)),
      integrationUri,
      jwt,
      cors: {
        allowOrigins: props.allowedOrigins,
        allowHeaders: ['authorization', 'content-type', 'idempotency-key', 'if-match', 'if-none-match'],
        exposeHeaders: ['etag', 'location', 'idempotent-replayed', 'retry-after'],
        allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
        maxAge: Duration.hours(1).toSeconds(),
      },
    });
    this.formsApi = this.httpApi('FormsApi', {
      title: 'FormsApi',
      description: 'CRM public API (web-to-lead form submissions; CORS answered per form)',
      routes: routes.filter(onFormsApi),
      integrationUri,
    });

    // One invoke permission per function and API it serves, scoped to that API.
    for (const group of FUNCTION_GROUPS) {
      const served = [
        ...new Set(routes.filter((r) => r.group === group).map((r) => (onFormsApi(r) ? 'forms' : 'main'))),
      ];
      for (const which of served) {
        const api = which === 'forms' ? this.formsApi : this.api;
        this.functions[group].function.addPermission(`Invoke${which === 'forms' ? 'Forms' : ''}Api`, {
          principal: new ServicePrincipal('apigateway.amazonaws.com'),
          sourceArn: Stack.of(this).formatArn({ service: 'execute-api', resource: api.apiId, resourceName: '*/*' }),
        });
      }
    }

    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.ONE_MONTH });
    const stageOf = (id: string, httpApi: IHttpApi) =>
      new HttpStage(this, id, {
        httpApi,
        stageName: '$default',
        autoDeploy: true,
        throttle: { rateLimit: props.throttle.rateLimit, burstLimit: props.throttle.burstLimit },
        accessLogSettings: {
          destination: new LogGroupLogDestination(accessLogs),
          format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
        },
      });
    this.stage = stageOf('DefaultStage', this.api);
    this.formsStage = stageOf('FormsStage', this.formsApi);
  }

  /** An HTTP API declared by its OpenAPI Body (gateway-definition.ts): routes, integrations and authorizer inside. */
  private httpApi(id: string, definition: GatewayDefinitionProps): IHttpApi {
    const api = new CfnApi(this, id, { body: gatewayDefinition(definition) });
    return HttpApi.fromHttpApiAttributes(this, `${id}Ref`, { httpApiId: api.ref, apiEndpoint: api.attrApiEndpoint });
  }

  /**
   * The function of one route group: API-sized. A group that serves data gets no table access of its own, only its
   * tenant-access role to assume per request (the role allows just that group's actions on the tenant's keys).
   */
  private groupFunction(group: FunctionGroup, { data, tenantRateLimit, userPool }: CrmApiProps): CrmFunction {
    // Groups that serve no data (the API description) get no table access at all.
    const access = group === 'docs' ? undefined : GROUP_TABLE_ACCESS[group];
    const stateless = access === undefined;
    const fn = new CrmFunction(this, `${group[0]!.toUpperCase()}${group.slice(1)}Function`, {
      entry: GROUP_ENTRIES[group],
      serviceName: group,
      description: `CRM API: ${group} routes`,
      memorySize: 1024,
      timeout: Duration.seconds(10),
      environment: stateless ? {} : { TABLE_NAME: data.table.tableName, TENANT_RATE_LIMIT: String(tenantRateLimit) },
      // The reference page's static files (Redoc) are served from the bundle directory.
      ...(group === 'docs' ? { afterBundling: docsAssetCopyCommands } : {}),
    });
    if (group === 'users') {
      // Cognito's admin actions cannot be limited to a tenant by IAM: exactly the ones the service calls, on this
      // pool only; shared/users/identity.ts checks each identity's custom:tenantId before changing it.
      fn.function.addEnvironment('USER_POOL_ID', userPool.userPoolId);
      fn.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: COGNITO_ACTIONS.map((action) => `cognito-idp:${action}`),
          resources: [userPool.userPoolArn],
        }),
      );
    }
    if (access) {
      this.tenantRoles[group] = new TenantAccessRole(this, `${group[0]!.toUpperCase()}${group.slice(1)}TenantAccess`, {
        table: data.table,
        access,
        assumedBy: fn,
        description: `CRM API ${group} routes, as one tenant (session tag tenantId): that tenant's keys only`,
      });
    }
    return fn;
  }
}
