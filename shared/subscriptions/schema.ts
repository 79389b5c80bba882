import * as z from 'zod';
import { Audit, Timestamp } from '../api/common-schemas.ts';

/** A tenant has at most this many categories: the preference page lists them all, and they are one bounded item. */
export const MAX_SUBSCRIPTION_CATEGORIES = 50;

/** Slug-like: it goes into signed links (the unsubscribe token's `k`) and is kept on contacts as a map key. */
export const CategoryId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'Use lower-case letters, digits and "-" (at most 64), e.g. "newsletter".')
  .meta({ description: 'Chosen by you and kept: contacts’ choices and sent links refer to it.' });

export const SubscriptionCategory = z
  .strictObject({
    id: CategoryId,
    name: z.string().trim().min(1).max(100),
    description: z.string().trim().max(500).optional(),
  })
  .meta({ id: 'SubscriptionCategory' });
export type SubscriptionCategoryView = z.output<typeof SubscriptionCategory>;

export const SubscriptionCategoriesPut = z
  .strictObject({
    categories: z
      .array(SubscriptionCategory)
      .max(MAX_SUBSCRIPTION_CATEGORIES, `At most ${MAX_SUBSCRIPTION_CATEGORIES} categories.`)
      .refine((list) => new Set(list.map((c) => c.id)).size === list.length, 'Category ids must be unique.'),
  })
  .meta({ id: 'SubscriptionCategoriesPut' });
export type SubscriptionCategoriesPutInput = z.output<typeof SubscriptionCategoriesPut>;

export const SubscriptionCategories = z
  .object({
    categories: z.array(SubscriptionCategory).meta({ description: 'In the order the preference page shows them.' }),
    ...Audit,
  })
  .meta({ id: 'SubscriptionCategories' });
export type SubscriptionCategoriesView = z.infer<typeof SubscriptionCategories>;

export const SUBSCRIPTION_STATUSES = ['subscribed', 'unsubscribed'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

/** Where a consent or subscription change came from. */
export const CONSENT_SOURCES = ['api', 'one_click', 'preference_page'] as const;
export type ConsentSource = (typeof CONSENT_SOURCES)[number];

/** A contact's choice for one category, as stored and shown. */
export const ContactSubscription = z
  .object({
    status: z.enum(SUBSCRIPTION_STATUSES),
    updatedAt: Timestamp,
    source: z.string().meta({ description: 'api, one_click or preference_page.' }),
    campaignId: z.string().optional().meta({ description: 'The campaign whose link made the change.' }),
  })
  .meta({ id: 'ContactSubscription' });

const SubscriptionChoice = z.strictObject({ status: z.enum(SUBSCRIPTION_STATUSES) });
const choices = <T extends z.ZodType>(choice: T) =>
  z
    .record(CategoryId, choice)
    .refine((v) => Object.keys(v).length <= MAX_SUBSCRIPTION_CATEGORIES, 'At most 50 categories.')
    .meta({
      description:
        'Per subscription category id (GET /v1/subscription-categories): `{ "status": "subscribed" | "unsubscribed" }`. ' +
        'When and from where are stamped by the server.',
    });

/** What a contact create may set per category. */
export const ContactSubscriptionsInput = choices(SubscriptionChoice);

/** What a contact PATCH may set per category (JSON merge patch: only the categories named change; null forgets one). */
export const ContactSubscriptionsPatch = choices(SubscriptionChoice.nullable());

/** The authenticated route that hands out a contact's signed links (for mail sent by hand, and for tests). */
export const PreferenceLinks = z
  .object({
    oneClickUrl: z.string().meta({ description: 'RFC 8058 one-click unsubscribe (POST); a GET shows a confirm page.' }),
    preferencesUrl: z.string().meta({ description: 'The preference page (categories, or everything).' }),
    headers: z.object({ 'List-Unsubscribe': z.string(), 'List-Unsubscribe-Post': z.string() }),
  })
  .meta({ id: 'PreferenceLinks' });

export const PreferenceLinksQuery = z
  .strictObject({
    categoryId: CategoryId.optional().meta({
      description: 'The category the mail is sent under; without it, one-click withdraws all email consent.',
    }),
  })
  .meta({ id: 'PreferenceLinksQuery' });

/**
 * The path of every public page: the signed token. No limit here: the service checks its shape (a payload of at most
 * 1 KiB) so that any bad token, however long, gets the same 404 page; API Gateway bounds the URL itself.
 */
export const TokenParams = z.object({ token: z.string() });

/** RFC 8058: the one-click POST's body is exactly `List-Unsubscribe=One-Click`. */
export const OneClickBody = z
  .object({ 'List-Unsubscribe': z.literal('One-Click', { message: 'Must be "One-Click" (RFC 8058).' }) })
  .meta({ id: 'OneClickUnsubscribe' });

/**
 * The preference page's form: `categories` the ids left ticked (a repeated field; none ticked means none), or
 * `unsubscribeAll=true` to withdraw email consent altogether. Nothing here grants consent: a page reached by a
 * forwarded mail must not sign anyone up.
 */
export const PreferencesForm = z
  .object({
    categories: z
      .union([CategoryId, z.array(CategoryId).max(MAX_SUBSCRIPTION_CATEGORIES)])
      .optional()
      .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])),
    unsubscribeAll: z.enum(['true']).optional(),
    /** The page's hidden field: categories and unsubscribeAll come from a submit of the whole form. */
    form: z.literal('preferences', { message: 'Post the preference page’s form.' }),
  })
  .meta({ id: 'PreferencesForm' });
export type PreferencesFormInput = z.output<typeof PreferencesForm>;
