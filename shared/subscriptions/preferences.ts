import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Principal } from '../auth/principal.ts';
import { contactKind } from '../contacts/service.ts';
import { documentClient } from '../db/client.ts';
import { model } from '../db/store.ts';
import { runAsTenant } from '../db/tenant-context.ts';
import { DomainError, PreconditionFailedError, TooManyRequestsError } from '../errors.ts';
import * as lifecycle from '../records/lifecycle.ts';
import type { ConsentSource, PreferencesFormInput, SubscriptionCategoriesView, SubscriptionStatus } from './schema.ts';
import { getSubscriptionCategories } from './service.ts';
import { type UnsubscribeClaims, unverifiedTenant, verifyUnsubscribeToken } from './unsubscribe-token.ts';

/**
 * The public pages behind a marketing mail's signed links (no login): the one-click unsubscribe (RFC 8058) and the
 * preference page. The token names the tenant, so everything runs with that tenant's scoped credentials; every
 * failure (malformed, forged, another tenant's key, no key, a contact gone) is the same LinkNotFoundError, so a
 * probe learns nothing. Changes are written through the contacts' own write path (versioned Put, stream → events
 * and history), stamped with their source, time and the campaign whose link it was.
 */

/** Requests per contact per window, pages and posts together: a person needs a few; a scanner gets a few. */
export const PREFERENCE_LIMIT = { perWindow: 30, windowSeconds: 600 };
/** The rate-window items' scope (a form id is a ULID, so it never meets this). */
const RATE_SCOPE = 'preferences';

export class LinkNotFoundError extends DomainError {
  constructor() {
    super(404, 'link.not_found', 'This link is not valid.');
  }
}

export interface PreferenceCategory {
  id: string;
  name: string;
  description?: string;
  subscribed: boolean;
}

/** What the pages show: never the whole address (links get forwarded), no ids. */
export interface PreferenceView {
  maskedEmail?: string;
  /** False once email consent is withdrawn (unsubscribed from everything) or was never given. */
  emailConsent: 'granted' | 'withdrawn' | 'unknown' | 'pending';
  categories: PreferenceCategory[];
  /** The category the mail was sent under (the one-click link unsubscribes from it), if any. */
  linkCategory?: { id: string; name: string };
}

interface Context {
  claims: UnsubscribeClaims;
  contact: lifecycle.Stored;
}

type Subscriptions = Record<
  string,
  { status: SubscriptionStatus; updatedAt: string; source: string; campaignId?: string }
>;
type Consent = Record<string, string | undefined>;

/** `a***@example.com`: enough for the person to recognise, not the address. */
export function maskEmail(email: string | undefined): string | undefined {
  if (!email) return undefined;
  const at = email.lastIndexOf('@');
  if (at < 1) return undefined;
  return `${email[0]}***${email.slice(at)}`;
}

/**
 * One atomic ADD on the contact's (scope, window) counter, refused past the limit: 429 with the seconds until the
 * window ends (the forms module's rate window, keyed by the contact instead of a source address).
 */
export async function admitPreferenceRequest(tenantId: string, contactId: string, now = Date.now()): Promise<void> {
  const { perWindow, windowSeconds } = PREFERENCE_LIMIT;
  const nowSeconds = Math.floor(now / 1000);
  const windowStart = nowSeconds - (nowSeconds % windowSeconds);
  const params = model.entities.formRateWindow
    .update({ tenantId, formId: RATE_SCOPE, source: contactId, windowStart })
    .add({ count: 1 })
    .set({ expiresAt: windowStart + 2 * windowSeconds })
    .where((attr, op) => `${op.notExists(attr.count)} OR ${op.lt(attr.count, perWindow)}`)
    .params() as UpdateCommandInput;
  try {
    await documentClient.send(new UpdateCommand({ ...params, ReturnValues: 'NONE' }));
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    throw new TooManyRequestsError(windowStart + windowSeconds - nowSeconds);
  }
}

/** The live contact a link names (a merged contact's link reaches the contact it was merged into). */
async function liveContact(tenantId: string, contactId: string): Promise<lifecycle.Stored | undefined> {
  let contact = await lifecycle.readStored(contactKind, tenantId, contactId);
  if (contact?.mergedInto) contact = await lifecycle.readStored(contactKind, tenantId, String(contact.mergedInto));
  return contact && !contact.deletedAt && !contact.mergedInto ? contact : undefined;
}

/** Verifies the token as its tenant, finds the contact, counts the request against the contact's window. */
function withLink<T>(token: string, fn: (context: Context) => Promise<T>): Promise<T> {
  const tenantId = unverifiedTenant(token);
  if (!tenantId) return Promise.reject(new LinkNotFoundError());
  return runAsTenant(tenantId, async () => {
    const claims = await verifyUnsubscribeToken(token);
    if (!claims) throw new LinkNotFoundError();
    const contact = await liveContact(tenantId, claims.contactId);
    if (!contact) throw new LinkNotFoundError();
    await admitPreferenceRequest(tenantId, String(contact.contactId));
    return fn({ claims, contact });
  });
}

/**
 * Writes `change(contact)` over the contact conditioned on its version, as any contact change; a change made
 * meanwhile (the version moved) is re-read and the change applied again. Returns the contact as stored after.
 */
async function writeChange(
  claims: UnsubscribeClaims,
  contact: lifecycle.Stored,
  change: (stored: lifecycle.Stored, now: string) => Record<string, unknown> | undefined,
): Promise<lifecycle.Stored> {
  const contactId = String(contact.contactId);
  // The person acting through their link: what the history shows as the author of the change.
  const principal: Principal = { tenantId: claims.tenantId, userId: `contact:${contactId}`, roles: [] };
  let previous = contact;
  for (let attempt = 0; ; attempt++) {
    const now = new Date().toISOString();
    const fields = change(previous, now);
    if (!fields) return previous;
    const next: lifecycle.Stored = {
      ...previous,
      ...fields,
      version: previous.version + 1,
      updatedAt: now,
      updatedBy: principal.userId,
    };
    try {
      const { write } = lifecycle.planWrite(contactKind, principal, next, previous, undefined, 200, true);
      await lifecycle.sendGuarded(claims.tenantId, [write]);
      return next;
    } catch (error) {
      if (!(error instanceof PreconditionFailedError) || attempt >= 2) throw error;
      const fresh = await liveContact(claims.tenantId, contactId);
      if (!fresh) throw new LinkNotFoundError();
      previous = fresh;
    }
  }
}

const stamp = (source: ConsentSource, claims: UnsubscribeClaims, now: string) => ({
  updatedAt: now,
  source,
  ...(claims.campaignId ? { campaignId: claims.campaignId } : {}),
});

/** Email consent withdrawn (unsubscribed from everything); nothing when it already is. */
function withdrawEmail(source: ConsentSource, claims: UnsubscribeClaims) {
  return (stored: lifecycle.Stored, now: string) => {
    const consent = (stored.consent ?? {}) as Consent;
    if (consent.email === 'withdrawn') return undefined;
    const { campaignId: _c, ...kept } = consent;
    return { consent: { ...kept, email: 'withdrawn', ...stamp(source, claims, now) } };
  };
}

/** The categories whose status differs from `wanted` set to it; nothing when none does. */
function setCategories(source: ConsentSource, claims: UnsubscribeClaims, wanted: Record<string, SubscriptionStatus>) {
  return (stored: lifecycle.Stored, now: string) => {
    const subscriptions = { ...((stored.subscriptions ?? {}) as Subscriptions) };
    let changed = false;
    for (const [id, status] of Object.entries(wanted)) {
      // No entry means subscribed (a category is opt-out under the contact's email consent).
      if ((subscriptions[id]?.status ?? 'subscribed') === status) continue;
      subscriptions[id] = { status, ...stamp(source, claims, now) };
      changed = true;
    }
    return changed ? { subscriptions } : undefined;
  };
}

async function viewOf(
  contact: lifecycle.Stored,
  claims: UnsubscribeClaims,
  read?: SubscriptionCategoriesView,
): Promise<PreferenceView> {
  const { categories } = read ?? (await getSubscriptionCategories(claims.tenantId));
  const subscriptions = (contact.subscriptions ?? {}) as Subscriptions;
  const linkCategory = claims.categoryId ? categories.find((c) => c.id === claims.categoryId) : undefined;
  const email = (contact.consent as Consent | undefined)?.email;
  const masked = maskEmail((contact.emails as string[] | undefined)?.[0]);
  return {
    ...(masked ? { maskedEmail: masked } : {}),
    emailConsent: email === 'granted' || email === 'withdrawn' || email === 'pending' ? email : 'unknown',
    categories: categories.map((c) => ({
      id: c.id,
      name: c.name,
      ...(c.description ? { description: c.description } : {}),
      subscribed: subscriptions[c.id]?.status !== 'unsubscribed',
    })),
    ...(linkCategory
      ? { linkCategory: { id: linkCategory.id, name: linkCategory.name } }
      : claims.categoryId
        ? { linkCategory: { id: claims.categoryId, name: claims.categoryId } }
        : {}),
  };
}

/** What the one-click link's page (a GET) shows before the person presses the button: nothing changes. */
export const previewUnsubscribe = (token: string) => withLink(token, ({ claims, contact }) => viewOf(contact, claims));

/**
 * RFC 8058 one-click: withdraws the link's category, or all email consent when the link names none. Idempotent: once
 * done, a repeat writes nothing and answers the same.
 */
export const oneClickUnsubscribe = (token: string, source: ConsentSource = 'one_click') =>
  withLink(token, async ({ claims, contact }) => {
    const change = claims.categoryId
      ? setCategories(source, claims, { [claims.categoryId]: 'unsubscribed' })
      : withdrawEmail(source, claims);
    return viewOf(await writeChange(claims, contact, change), claims);
  });

export const getPreferences = (token: string) => withLink(token, ({ claims, contact }) => viewOf(contact, claims));

/**
 * The preference page's form: every category of the tenant ticked or not (ticked ids the tenant no longer has are
 * ignored: the page may be older than the list), or unsubscribe from everything.
 */
export const updatePreferences = (token: string, form: PreferencesFormInput) =>
  withLink(token, async ({ claims, contact }) => {
    if (form.unsubscribeAll) {
      return viewOf(await writeChange(claims, contact, withdrawEmail('preference_page', claims)), claims);
    }
    const list = await getSubscriptionCategories(claims.tenantId);
    const ticked = new Set(form.categories);
    const wanted = Object.fromEntries(
      list.categories.map((c) => [c.id, ticked.has(c.id) ? 'subscribed' : 'unsubscribed'] as const),
    );
    return viewOf(await writeChange(claims, contact, setCategories('preference_page', claims, wanted)), claims, list);
  });
