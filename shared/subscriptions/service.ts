import type { Principal } from '../auth/principal.ts';
import { replaceDocument } from '../db/documents.ts';
import { model } from '../db/store.ts';
import { PreconditionFailedError, ValidationError } from '../errors.ts';
import type { VersionPrecondition } from '../http/request.ts';
import { type UnsubscribeLinks, unsubscribeLinks } from './links.ts';
import type { SubscriptionCategoriesPutInput, SubscriptionCategoriesView } from './schema.ts';

/** The tenant's categories (none, version 0, when never set): one GetItem. */
export async function getSubscriptionCategories(tenantId: string): Promise<SubscriptionCategoriesView> {
  const { data } = await model.entities.subscriptionCategories.get({ tenantId }).go();
  if (!data) {
    const epoch = new Date(0).toISOString();
    return { categories: [], version: 0, createdAt: epoch, updatedAt: epoch };
  }
  const { tenantId: _t, ...view } = data;
  return view as SubscriptionCategoriesView;
}

/**
 * Replaces the whole list, conditioned on the version read (If-Match makes it explicit). A category removed here
 * leaves contacts' choices for it as they are (history), but no page shows it and no new choice may name it.
 */
export async function putSubscriptionCategories(
  principal: Principal,
  input: SubscriptionCategoriesPutInput,
  ifMatch: VersionPrecondition | undefined,
): Promise<SubscriptionCategoriesView> {
  const { tenantId } = principal;
  const current = await getSubscriptionCategories(tenantId);
  if (ifMatch && !ifMatch.matches(current.version)) {
    throw new PreconditionFailedError('subscriptionCategories', tenantId);
  }
  return replaceDocument({
    entity: 'subscriptionCategories',
    tenantId,
    current,
    values: { categories: input.categories },
    actorId: principal.userId,
    conflict: () => new PreconditionFailedError('subscriptionCategories', tenantId),
  });
}

/** Refuses choices for categories the tenant does not have (400 naming each), so a typo is not stored silently. */
export async function checkCategoryIds(
  tenantId: string,
  ids: readonly string[],
  fieldOf: (id: string) => string,
): Promise<void> {
  if (ids.length === 0) return;
  const known = new Set((await getSubscriptionCategories(tenantId)).categories.map((c) => c.id));
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new ValidationError(
      'Unknown subscription category.',
      unknown.map((id) => ({
        field: fieldOf(id),
        message: `No subscription category "${id}" (GET /v1/subscription-categories).`,
      })),
    );
  }
}

/** A live contact's signed links, optionally under a category the tenant has. */
export async function preferenceLinks(
  tenantId: string,
  contactId: string,
  categoryId: string | undefined,
): Promise<UnsubscribeLinks> {
  if (categoryId) await checkCategoryIds(tenantId, [categoryId], () => 'query.categoryId');
  return unsubscribeLinks({ tenantId, contactId, ...(categoryId ? { categoryId } : {}) });
}
