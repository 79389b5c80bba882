import { routes } from '../../shared/api/routes.ts';
import { TooManyRequestsError } from '../../shared/errors.ts';
import { httpApi } from '../../shared/http/handler.ts';
import type { ApiResponse } from '../../shared/http/request.ts';
import * as pages from '../../shared/subscriptions/pages.ts';
import * as preferences from '../../shared/subscriptions/preferences.ts';

/**
 * The public pages behind a marketing mail's links, on the forms API (no token, no tenant quota): each request is
 * scoped to the tenant its signed token names and rate limited per contact (shared/subscriptions/preferences.ts).
 * Every answer is a small HTML page; a link that does not work is the same 404 page whatever the reason.
 */
const html = (status: number, body: string, headers: Record<string, string> = {}): ApiResponse => ({
  status,
  raw: { contentType: pages.HTML_CONTENT_TYPE, body },
  headers: { ...pages.PAGE_HEADERS, ...headers },
});

async function answer(render: () => Promise<string>): Promise<ApiResponse> {
  try {
    return html(200, await render());
  } catch (error) {
    if (error instanceof preferences.LinkNotFoundError) return html(404, pages.notFoundPage());
    if (error instanceof TooManyRequestsError) {
      return html(429, pages.tooManyRequestsPage(), { 'retry-after': String(error.retryAfterSeconds) });
    }
    throw error;
  }
}

export const handler = httpApi(routes, 'preferences', {
  showUnsubscribe: ({ params }) =>
    answer(async () => pages.confirmUnsubscribePage(await preferences.previewUnsubscribe(params.token), params.token)),
  oneClickUnsubscribe: ({ params }) =>
    answer(async () => pages.unsubscribedPage(await preferences.oneClickUnsubscribe(params.token), params.token)),
  showPreferences: ({ params }) =>
    answer(async () => pages.preferencesPage(await preferences.getPreferences(params.token))),
  updatePreferences: ({ params, body }) =>
    answer(async () => pages.preferencesPage(await preferences.updatePreferences(params.token, body), true)),
});
