import { describe, expect, it } from 'vitest';
import { TemplateResolver } from './template.ts';

describe('TemplateResolver: an HTTP API endpoint', () => {
  const template = {
    Resources: {
      FormsApi: { Type: 'AWS::ApiGatewayV2::Api', Properties: { Body: { info: { title: 'FormsApi' } } } },
      Fn: {
        Type: 'AWS::Lambda::Function',
        Properties: { Environment: { Variables: { PUBLIC_API_URL: { 'Fn::GetAtt': ['FormsApi', 'ApiEndpoint'] } } } },
      },
    },
  };

  it('resolves to the local URL the cloud serves the API on, once set', () => {
    const resolver = new TemplateResolver(template);
    expect(resolver.getAtt('FormsApi', 'ApiEndpoint')).toBe('https://FormsApi.execute-api.us-east-1.amazonaws.com');
    resolver.setApiEndpoint('FormsApi', 'http://127.0.0.1:4001');
    expect(resolver.properties('Fn')).toEqual({
      Environment: { Variables: { PUBLIC_API_URL: 'http://127.0.0.1:4001' } },
    });
  });
});
