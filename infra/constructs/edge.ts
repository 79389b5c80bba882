import { ArnFormat, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  OriginSslPolicy,
  PriceClass,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnLoggingConfiguration, CfnWebACL } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

/**
 * Edge protection (opt-in, `-c edgeProtection=true`): AWS WAF cannot be attached to an API Gateway HTTP API, so the
 * API is put behind CloudFront with a web ACL of CLOUDFRONT scope, which AWS only accepts in us-east-1. The web ACL
 * lives in a small stack of its own in us-east-1; the distribution lives in the CRM stack and refers to it through
 * CDK's cross-region references.
 */

/** AWS managed rule groups evaluated after the rate rule, in order. */
export const MANAGED_RULE_GROUPS = [
  'AWSManagedRulesAmazonIpReputationList',
  'AWSManagedRulesCommonRuleSet',
  'AWSManagedRulesKnownBadInputsRuleSet',
] as const;

/** The evaluation window of the rate-based rule: the limit counts requests per source address in this window. */
export const RATE_WINDOW_SECONDS = 300;

export interface CrmWebAclProps {
  /** Requests per source IP address per 5 minutes before WAF answers 429. */
  rateLimit: number;
}

/** The CLOUDFRONT-scope web ACL: a rate-based rule per source address, then AWS managed rule groups. */
export class CrmWebAcl extends Construct {
  readonly webAcl: CfnWebACL;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: CrmWebAclProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const visibility = (metricName: string) => ({
      cloudWatchMetricsEnabled: true,
      metricName,
      sampledRequestsEnabled: true,
    });
    const managed = (name: (typeof MANAGED_RULE_GROUPS)[number], priority: number, overrides: string[] = []) => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name,
          ...(overrides.length > 0
            ? { ruleActionOverrides: overrides.map((rule) => ({ name: rule, actionToUse: { count: {} } })) }
            : {}),
        },
      },
      visibilityConfig: visibility(name),
    });

    this.webAcl = new CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      description: 'CRM API edge: rate limit per source address, AWS managed rule groups',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('crm-edge'),
      customResponseBodies: {
        'rate-limited': {
          contentType: 'APPLICATION_JSON',
          content: JSON.stringify({
            type: 'about:blank',
            title: 'Too Many Requests',
            status: 429,
            code: 'edge.rate_limited',
            detail: `Too many requests from this address; retry in ${RATE_WINDOW_SECONDS} seconds.`,
          }),
        },
      },
      rules: [
        {
          name: 'RateLimitPerSourceIp',
          priority: 0,
          statement: {
            rateBasedStatement: {
              limit: props.rateLimit,
              aggregateKeyType: 'IP',
              evaluationWindowSec: RATE_WINDOW_SECONDS,
            },
          },
          action: {
            block: {
              customResponse: {
                responseCode: 429,
                customResponseBodyKey: 'rate-limited',
                responseHeaders: [{ name: 'retry-after', value: String(RATE_WINDOW_SECONDS) }],
              },
            },
          },
          visibilityConfig: visibility('RateLimitPerSourceIp'),
        },
        managed('AWSManagedRulesAmazonIpReputationList', 1),
        // The API takes JSON bodies up to 64 KB and enforces that itself; the set's 8 KB body rule only counts.
        managed('AWSManagedRulesCommonRuleSet', 2, ['SizeRestrictions_BODY']),
        managed('AWSManagedRulesKnownBadInputsRuleSet', 3),
      ],
    });

    // WAF logs every request with its client address (the CloudFront access log of record); names must start so.
    this.logGroup = new LogGroup(this, 'Logs', {
      logGroupName: `aws-waf-logs-${stack.stackName}`,
      retention: RetentionDays.ONE_MONTH,
    });
    new CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      logDestinationConfigs: [
        stack.formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: this.logGroup.logGroupName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
      // Bearer tokens never reach the logs.
      redactedFields: [{ singleHeader: { Name: 'authorization' } }],
    });
  }
}

export interface CrmEdgeStackProps extends StackProps {
  rateLimit: number;
}

/** The us-east-1 stack holding the web ACL (CLOUDFRONT scope can only be created there). */
export class CrmEdgeStack extends Stack {
  readonly webAcl: CrmWebAcl;

  constructor(scope: Construct, id: string, props: CrmEdgeStackProps) {
    super(scope, id, props);
    if (this.region !== 'us-east-1') throw new Error('the edge stack must be deployed to us-east-1');
    this.webAcl = new CrmWebAcl(this, 'Waf', { rateLimit: props.rateLimit });
  }
}

export interface CrmEdgeDistributionProps {
  api: IHttpApi;
  /** ARN of the CLOUDFRONT-scope web ACL (from the edge stack). */
  webAclArn: string;
}

/** CloudFront in front of the HTTP API: nothing cached, every method and header but Host passed on, HTTPS only. */
export class CrmEdgeDistribution extends Construct {
  readonly distribution: Distribution;

  constructor(scope: Construct, id: string, props: CrmEdgeDistributionProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'CRM API behind AWS WAF',
      webAclId: props.webAclArn,
      defaultBehavior: {
        origin: new HttpOrigin(`${props.api.apiId}.execute-api.${stack.region}.${stack.urlSuffix}`, {
          protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY,
          originSslProtocols: [OriginSslPolicy.TLS_V1_2],
        }),
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: AllowedMethods.ALLOW_ALL,
        // Every response is per caller (Authorization) and marked no-store: caching is off.
        cachePolicy: CachePolicy.CACHING_DISABLED,
        // API Gateway routes on its own Host name; everything else (Authorization, If-Match, ...) is passed on.
        originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      },
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason: 'A CRM serves its customers wherever they are; abusive sources are limited by the WAF rate rule.',
      },
      {
        id: 'AwsSolutions-CFR3',
        reason:
          'Every request is logged with its client address by the web ACL logging configuration (aws-waf-logs-*).',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          'Served on the default *.cloudfront.net certificate, whose viewer TLS policy CloudFront fixes; choosing a ' +
          'newer policy needs a custom domain and certificate, which this stack does not manage.',
      },
    );
  }
}
