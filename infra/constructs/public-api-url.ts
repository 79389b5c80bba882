import type { CrmApi } from './api.ts';
import type { CrmFunction } from './crm-function.ts';

/**
 * Gives a function PUBLIC_API_URL, the public (forms) API's base URL, for the links it builds (unsubscribe and
 * preference links: shared/subscriptions/links.ts). It is the API's `ApiEndpoint` attribute, which the local cloud
 * resolves to the forms API's local URL.
 */
export function givePublicApiUrl(api: CrmApi, fn: CrmFunction): void {
  fn.function.addEnvironment('PUBLIC_API_URL', api.formsApi.apiEndpoint);
}
