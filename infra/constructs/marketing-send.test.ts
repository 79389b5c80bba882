import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CrmFunction } from './crm-function.ts';
import { grantMarketingSend } from './marketing-send.ts';

function sender(props: Parameters<typeof grantMarketingSend>[1]) {
  const outdir = mkdtempSync(join(tmpdir(), 'marketing-send-test-'));
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test', { env: { account: '123456789012', region: 'eu-west-1' } });
  const fn = new CrmFunction(stack, 'Sender', {
    entry: 'functions/http/email-templates.ts',
    serviceName: 'sender',
    memorySize: 512,
    timeout: Duration.seconds(10),
  });
  grantMarketingSend(fn, props);
  const template = Template.fromStack(stack);
  rmSync(outdir, { recursive: true, force: true });
  const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (p) => p.Properties.PolicyDocument.Statement as Array<{ Action: unknown }>,
  );
  const env = Object.values(template.findResources('AWS::Lambda::Function'))[0]!.Properties.Environment.Variables;
  return { ses: statements.filter((s) => JSON.stringify(s.Action).includes('ses:')), env };
}

describe('grantMarketingSend', () => {
  it('allows SendEmail on the domain identity and the configuration set, from the domain only', () => {
    const { ses, env } = sender({ mailDomain: 'News.Example.com', configurationSetName: 'crm-marketing' });
    expect(ses).toEqual([
      {
        Effect: 'Allow',
        Action: 'ses:SendEmail',
        Resource: [
          {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':ses:eu-west-1:123456789012:identity/news.example.com'],
            ],
          },
          {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':ses:eu-west-1:123456789012:configuration-set/crm-marketing'],
            ],
          },
        ],
        Condition: { StringLike: { 'ses:FromAddress': '*@news.example.com' } },
      },
    ]);
    expect(env).toMatchObject({
      MARKETING_MAIL_DOMAIN: 'news.example.com',
      MARKETING_CONFIGURATION_SET: 'crm-marketing',
    });
  });

  it('without a configuration set, names only the identity', () => {
    const { ses, env } = sender({ mailDomain: 'm.example' });
    expect(ses).toHaveLength(1);
    expect(JSON.stringify(ses[0])).not.toContain('configuration-set');
    expect(env.MARKETING_CONFIGURATION_SET).toBeUndefined();
  });
});
