import { defineRoutes } from '../api/route.ts';
import { ContactIdParams } from '../contacts/schema.ts';
import {
  OneClickBody,
  PreferenceLinks,
  PreferenceLinksQuery,
  PreferencesForm,
  SubscriptionCategories,
  SubscriptionCategoriesPut,
  TokenParams,
} from './schema.ts';

/** Form posts of the public pages are a few fields: a small body limit. */
const PUBLIC_BODY_BYTES = 8 * 1024;

const BAD_LINK =
  'Any link that does not work (malformed, forged, another organisation’s, a contact that is gone) gets the same ' +
  '404 page. At most 30 requests per contact per 10 minutes (429 page with Retry-After). HTML with a strict ' +
  'Content-Security-Policy; no login.';

export const subscriptionsRoutes = defineRoutes([
  {
    operationId: 'getSubscriptionCategories',
    method: 'GET',
    path: '/v1/subscription-categories',
    group: 'subscriptions',
    permission: 'subscriptions:read',
    tag: 'Subscriptions',
    summary: "Your organisation's subscription categories",
    description:
      'Every marketing mail is sent under one category (or none); the preference page lists them and a contact may ' +
      'unsubscribe from each. None, version 0, until first set.',
    response: {
      status: 200,
      schema: SubscriptionCategories,
      description: 'The categories, with their version as ETag.',
    },
  },
  {
    operationId: 'putSubscriptionCategories',
    method: 'PUT',
    path: '/v1/subscription-categories',
    group: 'subscriptions',
    permission: 'subscriptions:manage',
    tag: 'Subscriptions',
    summary: 'Replace the subscription categories (the whole list)',
    description:
      'At most 50; ids are yours, slug-like and unique, and are what contacts’ choices and sent links refer to. A ' +
      'removed category is no longer shown or accepted; contacts’ past choices for it stay in their records.',
    body: SubscriptionCategoriesPut,
    response: { status: 200, schema: SubscriptionCategories, description: 'The new categories.' },
    conditional: true,
  },
  {
    operationId: 'getPreferenceLinks',
    method: 'GET',
    path: '/v1/contacts/{contactId}/preference-links',
    group: 'subscriptions',
    permission: 'contacts:write',
    tag: 'Subscriptions',
    summary: "A contact's signed unsubscribe and preference links",
    description:
      'The links (on the public API) and RFC 8058 headers every marketing mail to this contact carries; for mail ' +
      'you send yourself. Anyone holding them can change the contact’s email consent, so this needs contacts:write. ' +
      'Links do not expire.',
    params: ContactIdParams,
    query: PreferenceLinksQuery,
    response: { status: 200, schema: PreferenceLinks, description: 'The links.' },
  },
  {
    operationId: 'showUnsubscribe',
    method: 'GET',
    path: '/v1/unsubscribe/{token}',
    group: 'preferences',
    permission: 'public',
    tag: 'Subscriptions',
    summary: 'The unsubscribe link opened in a browser: a page with a button (public)',
    description: `Changes nothing (link scanners open links): the button posts the one-click form. ${BAD_LINK}`,
    params: TokenParams,
    response: { status: 200, description: 'The confirm page.', contentType: 'text/html' },
  },
  {
    operationId: 'oneClickUnsubscribe',
    method: 'POST',
    path: '/v1/unsubscribe/{token}',
    group: 'preferences',
    permission: 'public',
    tag: 'Subscriptions',
    summary: 'One-click unsubscribe (RFC 8058; public)',
    description:
      'The body is `List-Unsubscribe=One-Click`, url-encoded or multipart/form-data (mail providers send either). ' +
      'Unsubscribes the contact from the link’s category, or withdraws their email consent when the link names ' +
      'none, recording the source (one_click), the time and the campaign. Idempotent: a repeat changes nothing and ' +
      `answers the same. ${BAD_LINK}`,
    params: TokenParams,
    body: OneClickBody,
    acceptsForm: true,
    acceptsMultipart: true,
    maxBodyBytes: PUBLIC_BODY_BYTES,
    response: { status: 200, description: 'Unsubscribed (a small page).', contentType: 'text/html' },
  },
  {
    operationId: 'showPreferences',
    method: 'GET',
    path: '/v1/preferences/{token}',
    group: 'preferences',
    permission: 'public',
    tag: 'Subscriptions',
    summary: 'The preference page (public)',
    description: `The organisation's categories with the contact's choice, and unsubscribe from all. ${BAD_LINK}`,
    params: TokenParams,
    response: { status: 200, description: 'The preference page.', contentType: 'text/html' },
  },
  {
    operationId: 'updatePreferences',
    method: 'POST',
    path: '/v1/preferences/{token}',
    group: 'preferences',
    permission: 'public',
    tag: 'Subscriptions',
    summary: "The preference page's form (public)",
    description:
      '`form=preferences` with `categories` (repeated: the ids ticked; every other category is unsubscribed) or ' +
      '`unsubscribeAll=true` (withdraws email consent). Nothing here grants consent. Source preference_page. ' +
      BAD_LINK,
    params: TokenParams,
    body: PreferencesForm,
    acceptsForm: true,
    acceptsMultipart: true,
    maxBodyBytes: PUBLIC_BODY_BYTES,
    response: { status: 200, description: 'The page again, saved.', contentType: 'text/html' },
  },
]);
