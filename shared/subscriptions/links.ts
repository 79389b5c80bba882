import { signUnsubscribeToken, type UnsubscribeClaims } from './unsubscribe-token.ts';

/**
 * The links every marketing mail carries, on the public API (the forms API: no login, CORS per route). Its base URL
 * comes from the function's PUBLIC_API_URL (CDK: the forms API's endpoint; locally its port).
 * - `oneClickUrl`: RFC 8058. A POST with `List-Unsubscribe=One-Click` unsubscribes; a GET (what a person's click and a
 *   link scanner do) shows a page with the button, so a scanner unsubscribes nobody.
 * - `preferencesUrl`: the preference page (categories, or everything).
 */
export interface UnsubscribeLinks {
  oneClickUrl: string;
  preferencesUrl: string;
  /** The RFC 8058 headers, as they go on the message. */
  headers: { 'List-Unsubscribe': string; 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
}

export function publicApiUrl(): string {
  const url = process.env.PUBLIC_API_URL?.replace(/\/+$/, '');
  if (!url) throw new Error('PUBLIC_API_URL is not set: unsubscribe links need the public API base URL');
  return url;
}

export async function unsubscribeLinks(claims: UnsubscribeClaims): Promise<UnsubscribeLinks> {
  const token = await signUnsubscribeToken(claims);
  const base = publicApiUrl();
  const oneClickUrl = `${base}/v1/unsubscribe/${token}`;
  return {
    oneClickUrl,
    preferencesUrl: `${base}/v1/preferences/${token}`,
    headers: { 'List-Unsubscribe': `<${oneClickUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
  };
}
