import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A product of the tenant's catalogue. GSIs (keys in ../keys.ts `productKeys`): gsi2 active products by name
 * (sparse), gsi4 by name and the trash. The SKU is unique per tenant through a `productSku` claim item written in the
 * same transaction.
 */
export const ProductEntity = new Entity(
  {
    model: { entity: 'product', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      productId: { type: 'string', required: true, readOnly: true },
      /** Upper-cased; unique per tenant. */
      sku: { type: 'string', required: true },
      name: { type: 'string', required: true },
      sortName: { type: 'string', required: true },
      description: { type: 'string' },
      /** ISO 4217 code -> unit price in the currency's minor units (integer). */
      prices: { type: 'any', required: true },
      active: { type: 'boolean', required: true },
      deletedAt: { type: 'string' },
      deletedBy: { type: 'string' },
      ...gsiKeyAttributes(['gsi2', 'gsi4']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'productId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi2', 'gsi4']),
    },
  },
  {},
);
