import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { StoredActivity } from '../activities/service.ts';
import { isTenantId, type Principal } from '../auth/principal.ts';
import { activityIndex } from '../db/keys.ts';
import { model } from '../db/store.ts';
import { runAsTenant } from '../db/tenant-context.ts';
import { DomainError, TooManyRequestsError } from '../errors.ts';
import type { TenantGuards } from '../http/handler.ts';
import { type CalendarComponent, renderCalendar } from './ical.ts';

/** What a feed shows: the last 30 days and the next 90, at most this many items. */
export const FEED_PAST_DAYS = 30;
export const FEED_FUTURE_DAYS = 90;
export const FEED_MAX_ITEMS = 500;
const DAY_MS = 86_400_000;

/**
 * Tokens read `<tenantId>.<base64url userId>.<43 chars of randomness>`: the tenant and user let the public handler
 * find the one item under the tenant's key with a GetItem (no index, no scan); only a SHA-256 of the token is stored.
 */
const TOKEN = /^([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{1,344})\.([A-Za-z0-9_-]{43})$/;

const hashOf = (token: string) => createHash('sha256').update(token).digest();

export function feedPath(token: string): string {
  return `/v1/calendar-feeds/${token}.ics`;
}

/** Creates or rotates the caller's feed secret: the previous URL stops working at once. The token is shown once. */
export async function createCalendarFeed(principal: Principal) {
  const user = Buffer.from(principal.userId, 'utf8').toString('base64url');
  const token = `${principal.tenantId}.${user}.${randomBytes(32).toString('base64url')}`;
  const createdAt = new Date().toISOString();
  await model.entities.calendarFeed
    .put({
      tenantId: principal.tenantId,
      userId: principal.userId,
      tokenHash: hashOf(token).toString('base64url'),
      createdAt,
    })
    .go({ response: 'none' });
  return { token, path: feedPath(token), createdAt };
}

export async function revokeCalendarFeed(principal: Principal): Promise<void> {
  await model.entities.calendarFeed.delete({ tenantId: principal.tenantId, userId: principal.userId }).go();
}

/** The caller of a feed URL: its tenant and user when the token is the current one, else undefined. */
async function feedOwner(token: string): Promise<{ tenantId: string; userId: string } | undefined> {
  const match = TOKEN.exec(token.replace(/\.ics$/, ''));
  if (!match || !isTenantId(match[1])) return undefined;
  const tenantId = match[1]!;
  const userId = Buffer.from(match[2]!, 'base64url').toString('utf8');
  const { data } = await model.entities.calendarFeed.get({ tenantId, userId }).go();
  if (!data) return undefined;
  const stored = Buffer.from(data.tokenHash, 'base64url');
  const given = hashOf(token.replace(/\.ics$/, ''));
  return stored.length === given.length && timingSafeEqual(stored, given) ? { tenantId, userId } : undefined;
}

const TODO_STATUS = { open: 'NEEDS-ACTION', completed: 'COMPLETED', cancelled: 'CANCELLED' } as const;
const EVENT_STATUS = { scheduled: 'CONFIRMED', held: 'CONFIRMED', cancelled: 'CANCELLED' } as const;
const PRIORITY = { high: 1, normal: 5, low: 9 } as const;

function descriptionOf(a: StoredActivity): string | undefined {
  const links = a.links.map((l) => `${l.type} ${l.id}`).join(', ');
  const parts = [a.notes, links ? `Linked to: ${links}` : undefined].filter(Boolean);
  return parts.length > 0 ? parts.join('\n\n') : undefined;
}

export function componentOf(a: StoredActivity): CalendarComponent | undefined {
  const common = {
    uid: `${a.activityId}@activities.crm`,
    stamp: a.updatedAt,
    lastModified: a.updatedAt,
    sequence: a.version,
    ...(descriptionOf(a) ? { description: descriptionOf(a)! } : {}),
  };
  if (a.type === 'meeting' && a.startAt && a.endAt) {
    return {
      kind: 'event',
      ...common,
      start: a.startAt,
      end: a.endAt,
      summary: a.subject ?? 'Meeting',
      ...(a.location ? { location: a.location } : {}),
      status: EVENT_STATUS[a.status as keyof typeof EVENT_STATUS] ?? 'CONFIRMED',
    };
  }
  if (a.type === 'task' && a.dueAt) {
    return {
      kind: 'todo',
      ...common,
      due: a.dueAt,
      summary: a.title ?? a.subject ?? 'Task',
      status: TODO_STATUS[a.status as keyof typeof TODO_STATUS] ?? 'NEEDS-ACTION',
      priority: PRIORITY[a.priority as keyof typeof PRIORITY] ?? 5,
      ...(a.completedAt ? { completed: a.completedAt } : {}),
    };
  }
  return undefined;
}

/**
 * The public feed: an unknown, revoked or malformed token is a 404 whatever the reason, so the answer says nothing
 * about whether a tenant, user or feed exists. Every table call runs with the tenant's scoped credentials. Only a
 * valid secret counts against its tenant's request quota (429): anyone can name a tenant, and guessing must not use
 * up its quota (guesses meet the stage throttle, and with edge protection the per-address WAF limit). One GetItem and
 * one Query of the user's calendar (gsi3).
 */
export async function readCalendarFeed(
  token: string,
  guards: Pick<TenantGuards, 'admit'>,
  now = new Date(),
): Promise<{ body: string; etag: string }> {
  const notFound = () => new DomainError(404, 'calendar_feed.not_found', 'No calendar feed at this address.');
  const tenantId = TOKEN.exec(token.replace(/\.ics$/, ''))?.[1];
  if (!tenantId || !isTenantId(tenantId)) throw notFound();
  return runAsTenant(tenantId, async () => {
    const owner = await feedOwner(token);
    if (!owner) throw notFound();
    const admission = await guards.admit(tenantId);
    if (!admission.admitted) throw new TooManyRequestsError(admission.retryAfterSeconds);
    const from = new Date(now.getTime() - FEED_PAST_DAYS * DAY_MS).toISOString();
    const until = new Date(now.getTime() + FEED_FUTURE_DAYS * DAY_MS).toISOString();
    const result = await model.entities.activity.query
      .gsi3({ gsi3pk: activityIndex.calendar(tenantId, owner.userId) })
      .between({ gsi3sk: `${from}#` }, { gsi3sk: `${until}~` })
      .go({ limit: FEED_MAX_ITEMS });
    const components = (result.data as unknown as StoredActivity[]).flatMap((a) => componentOf(a) ?? []);
    const body = renderCalendar({ name: 'CRM activities', components });
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    return { body, etag };
  });
}
