import { Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { CrmFunction } from './crm-function.ts';

export interface MarketingSendProps {
  /** The domain marketing mail is sent from: its SES identity, and every From address must be in it. */
  mailDomain: string;
  /** The SES configuration set sends go through (tracking events), when there is one. */
  configurationSetName?: string;
}

/**
 * Lets a function send marketing mail, and only that: SES v2 SendEmail on the mail domain's identity (and the
 * configuration set, which SES authorises as a resource of the same call when a send names it), only with a From
 * address in the domain (`ses:FromAddress`). Sets what shared/templates/sender.ts reads: MARKETING_MAIL_DOMAIN and
 * MARKETING_CONFIGURATION_SET. The domain identity itself is verified by the operator (DNS records for DKIM).
 */
export function grantMarketingSend(fn: CrmFunction, props: MarketingSendProps): void {
  const stack = Stack.of(fn);
  const domain = props.mailDomain.toLowerCase();
  const resources = [stack.formatArn({ service: 'ses', resource: 'identity', resourceName: domain })];
  if (props.configurationSetName) {
    resources.push(
      stack.formatArn({ service: 'ses', resource: 'configuration-set', resourceName: props.configurationSetName }),
    );
  }
  fn.role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['ses:SendEmail'],
      resources,
      conditions: { StringLike: { 'ses:FromAddress': `*@${domain}` } },
    }),
  );
  fn.function.addEnvironment('MARKETING_MAIL_DOMAIN', domain);
  if (props.configurationSetName) {
    fn.function.addEnvironment('MARKETING_CONFIGURATION_SET', props.configurationSetName);
  }
}
