import type { Principal } from '../auth/principal.ts';
import { itemView } from '../db/item-view.ts';
import { suppressionIndex } from '../db/keys.ts';
import { model, writeRecords } from '../db/store.ts';
import { DomainError, NotFoundError } from '../errors.ts';
import type { ApiRequest } from '../http/request.ts';
import { type Page, type PageRequest, queryIndex } from '../records/lists.ts';
import type { SuppressionCreateInput, SuppressionView } from './schema.ts';
import { suppressionItem } from './store.ts';

/** What the API shows of an entry: its fields without keys or the tenant. */
function toView(stored: Record<string, unknown>): SuppressionView {
  const { id, ...fields } = itemView(stored, 'email');
  return { email: String(id), ...fields } as SuppressionView;
}

/** One GetItem. */
export async function getSuppression(tenantId: string, email: string): Promise<SuppressionView> {
  const { data } = await model.entities.suppression.get({ tenantId, email: email.toLowerCase() }).go();
  if (!data) throw new NotFoundError('suppression', email);
  return toView(data);
}

/** The list, newest first: one Query on gsi4 in descending order. */
export async function listSuppressions(tenantId: string, page: PageRequest): Promise<Page<SuppressionView>> {
  const result = await queryIndex<Record<string, unknown>>(
    'suppression',
    'gsi4',
    suppressionIndex.list(tenantId),
    page,
    {
      order: 'desc',
    },
  );
  return { items: result.items.map(toView), nextCursor: result.nextCursor };
}

const exists = () => new DomainError(409, 'suppression.exists', 'Already on the list.');

/**
 * Adds an address by hand. The first entry stands: an address already listed (for a bounce, a complaint or by hand)
 * keeps its entry, which is answered with `created: false` (200), so a repeated request changes nothing. With an
 * Idempotency-Key the first answer is replayed as it was.
 */
export async function addSuppression(
  principal: Principal,
  input: SuppressionCreateInput,
  idempotency?: ApiRequest['idempotency'],
): Promise<{ created: boolean; entry: SuppressionView }> {
  const item = suppressionItem(principal.tenantId, {
    email: input.email,
    reason: 'manual',
    createdBy: principal.userId,
    ...(input.detail ? { detail: input.detail } : {}),
  });
  const entry = toView(item);
  try {
    await writeRecords([
      {
        entity: 'suppression',
        item,
        onVersionConflict: exists,
        ...(idempotency
          ? { idempotency: { tenantId: principal.tenantId, ...idempotency, statusCode: 201, response: entry } }
          : {}),
      },
    ]);
    return { created: true, entry };
  } catch (error) {
    if (!(error instanceof DomainError && error.code === 'suppression.exists')) throw error;
    return { created: false, entry: await getSuppression(principal.tenantId, input.email) };
  }
}

/** Takes an address off the list (404 when it is not on it): campaigns may mail it again. */
export async function removeSuppression(tenantId: string, email: string): Promise<void> {
  const { data } = await model.entities.suppression
    .delete({ tenantId, email: email.toLowerCase() })
    .go({ response: 'all_old' });
  if (!data) throw new NotFoundError('suppression', email);
}
