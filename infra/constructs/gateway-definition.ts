import type { RouteDefinition } from '../../shared/api/route.ts';

/**
 * The OpenAPI document an HTTP API is declared by (`AWS::ApiGatewayV2::Api` Body), generated from the route table.
 * Declaring routes, integrations and the authorizer inside the API resource, instead of one CloudFormation resource
 * each, keeps the stack far from CloudFormation's 500-resource limit as the route table grows (160 routes and 23
 * integrations were 183 resources). API Gateway needs only paths, methods, their integration and security from it;
 * the full description for clients stays `/v1/openapi.json` (shared/api/openapi.ts).
 */

/** The name of the JWT security scheme in the document. */
export const JWT_SCHEME = 'cognitoJwt';

export interface GatewayCors {
  allowOrigins: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  allowMethods: string[];
  maxAge: number;
}

export interface GatewayDefinitionProps {
  /** The API's name (OpenAPI `info.title`, which API Gateway takes as the name on import). */
  title: string;
  description: string;
  routes: readonly RouteDefinition[];
  /** The Lambda integration URI of a route's function (`arn:...:apigateway:<region>:lambda:path/.../invocations`). */
  integrationUri: (route: RouteDefinition) => string;
  /** The JWT authorizer every non-public route is behind; required when any route is not public. */
  jwt?: { issuer: string; audience: string[] };
  /** API-level CORS (API Gateway answers preflights itself); absent: the functions answer their own. */
  cors?: GatewayCors;
}

export function gatewayDefinition(props: GatewayDefinitionProps): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of props.routes) {
    const isPublic = route.permission === 'public';
    if (!isPublic && !props.jwt) throw new Error(`${route.method} ${route.path} needs the JWT authorizer`);
    const parameters = [...route.path.matchAll(/\{([^}+]+)\+?\}/g)].map(([, name]) => ({
      name,
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const operation = {
      operationId: route.operationId,
      ...(parameters.length ? { parameters } : {}),
      // Deny by default: only a route the table marks public goes without the authorizer.
      ...(isPublic ? {} : { security: [{ [JWT_SCHEME]: [] }] }),
      responses: { default: { description: 'See /v1/openapi.json' } },
      'x-amazon-apigateway-integration': {
        type: 'aws_proxy',
        httpMethod: 'POST',
        uri: props.integrationUri(route),
        payloadFormatVersion: '2.0',
      },
    };
    paths[route.path] ??= {};
    const methods = paths[route.path] as Record<string, unknown>;
    const method = route.method.toLowerCase();
    if (methods[method]) throw new Error(`duplicate route ${route.method} ${route.path}`);
    methods[method] = operation;
  }
  return {
    openapi: '3.0.1',
    info: { title: props.title, description: props.description, version: '1' },
    paths,
    ...(props.jwt
      ? {
          components: {
            securitySchemes: {
              [JWT_SCHEME]: {
                type: 'oauth2',
                flows: {},
                'x-amazon-apigateway-authorizer': {
                  type: 'jwt',
                  identitySource: '$request.header.Authorization',
                  jwtConfiguration: { issuer: props.jwt.issuer, audience: props.jwt.audience },
                },
              },
            },
          },
        }
      : {}),
    ...(props.cors ? { 'x-amazon-apigateway-cors': props.cors } : {}),
  };
}
