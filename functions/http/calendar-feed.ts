import { routes } from '../../shared/api/routes.ts';
import { readCalendarFeed } from '../../shared/calendar/service.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';

/**
 * The public iCalendar feed. Calendar apps poll it without a bearer token, so the secret in the path is the
 * credential; it names the tenant, whose quota and scoped credentials the request then uses.
 */
export const handler = httpApi(routes, 'calendarFeed', {
  getCalendarFeed: async ({ params }) => {
    const feed = await readCalendarFeed(params.token, tenantGuards);
    return {
      status: 200,
      headers: {
        etag: feed.etag,
        // Only the subscriber's own cache; calendar apps poll every few minutes to hours.
        'cache-control': 'private, max-age=300',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      },
      raw: { contentType: 'text/calendar; charset=utf-8', body: feed.body },
    };
  },
});
