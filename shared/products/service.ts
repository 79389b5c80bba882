import { ulid } from 'ulid';
import type { Principal } from '../auth/principal.ts';
import { restoredVersion, type StoredAudit, trashedVersion } from '../db/documents.ts';
import { itemView } from '../db/item-view.ts';
import { productIndex, productKeys, sortableName } from '../db/keys.ts';
import { type ItemWrite, model, versionCondition, writeRecord } from '../db/store.ts';
import { ConflictError, DomainError, NotFoundError, PreconditionFailedError } from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import { type Page, queryIndex, singleFilter } from '../records/lists.ts';
import { mergePatch } from '../records/merge-patch.ts';
import type { ProductCreateInput, ProductListFilters, ProductPatchInput, ProductView } from './schema.ts';

export interface StoredProduct extends StoredAudit {
  tenantId: string;
  productId: string;
  sku: string;
  name: string;
  sortName: string;
  description?: string;
  prices: Record<string, number>;
  active: boolean;
}

export const productView = (stored: Record<string, unknown>): ProductView =>
  ({ prices: {}, ...itemView(stored, 'productId') }) as ProductView;

/** One GetItem; deleted products too (callers decide). */
export async function readProduct(tenantId: string, productId: string): Promise<StoredProduct | undefined> {
  const { data } = await model.entities.product.get({ tenantId, productId }).go();
  return (data as StoredProduct | null) ?? undefined;
}

async function readLive(tenantId: string, productId: string): Promise<StoredProduct> {
  const stored = await readProduct(tenantId, productId);
  if (!stored || stored.deletedAt) throw new NotFoundError('product', productId);
  return stored;
}

const skuTaken = (sku: string) =>
  new ConflictError('product.sku_taken', `Another product already has SKU ${sku}.`, { sku });

/**
 * The SKU claim moves with the product: claimed (must be new) when a live product gets a SKU, released when it gives
 * it up (a SKU change or a delete). The same transaction as the product, so two products never share a SKU.
 */
function skuClaimWrites(next: StoredProduct, previous: StoredProduct | undefined): ItemWrite[] {
  const heldBefore = previous && !previous.deletedAt ? previous.sku : undefined;
  const heldAfter = next.deletedAt ? undefined : next.sku;
  if (heldBefore === heldAfter) return [];
  const writes: ItemWrite[] = [];
  if (heldAfter !== undefined) {
    writes.push({
      put: 'productSku',
      item: { tenantId: next.tenantId, sku: heldAfter, productId: next.productId },
      mustBeNew: true,
      onConflict: () => skuTaken(heldAfter),
    });
  }
  if (heldBefore !== undefined) {
    writes.push({ delete: 'productSku', key: { tenantId: next.tenantId, sku: heldBefore } });
  }
  return writes;
}

/** Writes the product and its SKU claim in one request; a taken SKU answers 409 with the holder's id. */
async function writeProduct(
  principal: Principal,
  next: StoredProduct,
  previous: StoredProduct | undefined,
  idempotency?: ApiRequest['idempotency'],
): Promise<ProductView> {
  const view = productView(next as unknown as Record<string, unknown>);
  try {
    await writeRecord({
      entity: 'product',
      item: { ...next, ...productKeys(next) },
      ...versionCondition('product', next.productId, previous),
      items: skuClaimWrites(next, previous),
      ...(idempotency
        ? { idempotency: { tenantId: principal.tenantId, ...idempotency, statusCode: 201, response: view } }
        : {}),
    });
  } catch (error) {
    if (error instanceof DomainError && error.code === 'product.sku_taken') {
      const holder = await model.entities.productSku.get({ tenantId: principal.tenantId, sku: next.sku }).go();
      throw new ConflictError(error.code, error.message, {
        sku: next.sku,
        ...(holder.data ? { existingId: holder.data.productId } : {}),
      });
    }
    throw error;
  }
  return view;
}

function withoutEmpty<T extends Record<string, unknown>>(fields: T): T {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== '')) as T;
}

export async function createProduct(
  principal: Principal,
  input: ProductCreateInput,
  idempotency?: ApiRequest['idempotency'],
): Promise<ProductView> {
  const now = new Date().toISOString();
  const product: StoredProduct = withoutEmpty({
    tenantId: principal.tenantId,
    productId: ulid(),
    sku: input.sku,
    name: input.name,
    sortName: sortableName(input.name),
    description: input.description,
    prices: input.prices ?? {},
    active: input.active ?? true,
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: principal.userId,
    updatedBy: principal.userId,
  });
  return writeProduct(principal, product, undefined, idempotency);
}

export async function getProduct(principal: Principal, productId: string): Promise<ProductView> {
  return productView((await readLive(principal.tenantId, productId)) as unknown as Record<string, unknown>);
}

export async function patchProduct(
  principal: Principal,
  productId: string,
  patch: ProductPatchInput,
  ifMatch?: VersionPrecondition,
): Promise<ProductView> {
  const previous = await readLive(principal.tenantId, productId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('product', productId);
  const merged = mergePatch(
    { ...previous, prices: { ...previous.prices } } as unknown as Record<string, unknown>,
    patch,
  ) as unknown as StoredProduct;
  const unchanged =
    JSON.stringify(productView(merged as unknown as Record<string, unknown>)) ===
    JSON.stringify(productView(previous as unknown as Record<string, unknown>));
  if (unchanged) return productView(previous as unknown as Record<string, unknown>);
  const next: StoredProduct = {
    ...merged,
    prices: merged.prices ?? {},
    sortName: sortableName(merged.name),
    version: previous.version + 1,
    updatedAt: new Date().toISOString(),
    updatedBy: principal.userId,
  };
  return writeProduct(principal, next, previous);
}

/** Soft delete: the product leaves the lists and gives up its SKU; deals keep their line-item snapshots. */
export async function deleteProduct(principal: Principal, productId: string, ifMatch?: VersionPrecondition) {
  const previous = await readLive(principal.tenantId, productId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('product', productId);
  await writeProduct(principal, trashedVersion(previous, principal.userId), previous);
}

/** Back from the trash, claiming its SKU again (409 if another product took it meanwhile). */
export async function restoreProduct(
  principal: Principal,
  productId: string,
  ifMatch?: VersionPrecondition,
): Promise<ProductView> {
  const previous = await readProduct(principal.tenantId, productId);
  if (!previous) throw new NotFoundError('product', productId);
  if (!previous.deletedAt)
    throw new DomainError(409, 'product.not_deleted', `product ${productId} is not in the trash.`);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('product', productId);
  return writeProduct(principal, restoredVersion(previous, principal.userId), previous);
}

const FILTERS = ['q', 'active', 'sku', 'inTrash'] as const;

/** One request per list: a Query on the name, active or trash partition, or the SKU claim's GetItem (+ the product). */
export async function listProducts(principal: Principal, filters: ProductListFilters): Promise<Page<ProductView>> {
  const t = principal.tenantId;
  const page = { limit: filters.limit, cursor: filters.cursor };
  const asViews = (result: Page<Record<string, unknown>>) => ({
    items: result.items.map(productView),
    nextCursor: result.nextCursor,
  });
  switch (singleFilter(filters, FILTERS)) {
    case 'q':
      return asViews(
        await queryIndex('product', 'gsi4', productIndex.name(t), page, { begins: sortableName(filters.q) }),
      );
    case 'active':
      return asViews(await queryIndex('product', 'gsi2', productIndex.active(t), page));
    case 'sku': {
      const claim = await model.entities.productSku.get({ tenantId: t, sku: filters.sku! }).go();
      const product = claim.data ? await readProduct(t, claim.data.productId) : undefined;
      const items = product && !product.deletedAt ? [product as unknown as Record<string, unknown>] : [];
      return { items: items.map(productView), nextCursor: null };
    }
    case 'inTrash':
      return asViews(await queryIndex('product', 'gsi4', productIndex.trash(t), page, { order: 'desc' }));
    default:
      return asViews(await queryIndex('product', 'gsi4', productIndex.name(t), page));
  }
}
