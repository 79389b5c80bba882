import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from 'vitest';
import { routes } from '../../shared/api/routes.ts';
import { gatewayDefinition, JWT_SCHEME } from './gateway-definition.ts';

const uri = (route: { group: string }) =>
  `arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:1:function:${route.group}/invocations`;
const jwt = { issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/pool', audience: ['client'] };

describe('gatewayDefinition', () => {
  it('is a valid OpenAPI 3 document with every route of the table', async () => {
    const body = gatewayDefinition({ title: 'CrmApi', description: 'd', routes, integrationUri: uri, jwt });
    await SwaggerParser.validate(structuredClone(body) as never);
    const paths = body.paths as Record<string, Record<string, { security?: unknown }>>;
    const count = Object.values(paths).reduce((n, methods) => n + Object.keys(methods).length, 0);
    expect(count).toBe(routes.length);
    const contacts = paths['/v1/contacts/{contactId}']!.get!;
    expect(contacts.security).toEqual([{ [JWT_SCHEME]: [] }]);
  });

  it('refuses a non-public route without an authorizer, and a route declared twice', () => {
    const [first] = routes.filter((r) => r.permission !== 'public');
    expect(() => gatewayDefinition({ title: 't', description: 'd', routes: [first!], integrationUri: uri })).toThrow(
      /needs the JWT authorizer/,
    );
    expect(() =>
      gatewayDefinition({ title: 't', description: 'd', routes: [first!, first!], integrationUri: uri, jwt }),
    ).toThrow(/duplicate route/);
  });
});
