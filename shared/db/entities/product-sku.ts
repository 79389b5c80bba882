import { Entity } from 'electrodb';
import { KEY_CASING, SERVICE } from './common.ts';

/**
 * The claim of a SKU by one product of a tenant: created (must be new) in the product's own transaction, so of two
 * concurrent creates with the same SKU exactly one wins; moved when the SKU changes, released when the product is
 * deleted. Also how a product is found by SKU (one GetItem).
 */
export const ProductSkuEntity = new Entity(
  {
    model: { entity: 'productSku', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      sku: { type: 'string', required: true, readOnly: true },
      productId: { type: 'string', required: true },
    },
    indexes: {
      bySku: {
        pk: { field: 'pk', composite: ['tenantId', 'sku'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);
