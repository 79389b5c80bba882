import * as z from 'zod';
import { Audit, Id, PageQuery } from '../api/common-schemas.ts';
import { isCurrency } from '../deals/money.ts';

/** An ISO 4217 currency code this service knows, e.g. "EUR", "JPY", "BHD". */
export const CurrencyCode = z
  .string()
  .refine(
    (code) => /^[A-Z]{3}$/.test(code) && isCurrency(code),
    'Use an ISO 4217 currency code in capitals, e.g. "EUR".',
  )
  .meta({ description: 'ISO 4217 currency code, e.g. "EUR", "JPY", "BHD".', example: 'EUR' });

/** Minor units of a currency: an integer (cents for EUR, yen for JPY, fils for BHD), never a float. */
export const MinorUnits = z
  .number()
  .int()
  .min(0)
  .max(Number.MAX_SAFE_INTEGER)
  .meta({ description: "An amount in the currency's minor units (e.g. 1999 = 19.99 EUR; 1999 = 1999 JPY)." });

export const Sku = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$/, 'Use 1-64 letters, digits, ".", "_", "-" or "/".')
  .transform((s) => s.toUpperCase())
  .meta({ description: 'Stock keeping unit, unique per organisation; case-insensitive (stored upper-cased).' });

export const MAX_PRODUCT_CURRENCIES = 50;

const Prices = z
  .record(CurrencyCode, MinorUnits)
  .refine((p) => Object.keys(p).length <= MAX_PRODUCT_CURRENCIES, `At most ${MAX_PRODUCT_CURRENCIES} currencies.`)
  .meta({ description: 'Unit price per currency: ISO 4217 code -> integer minor units, e.g. { "EUR": 1999 }.' });

const productFields = {
  sku: Sku,
  name: z.string().trim().min(1).max(200),
  description: z.string().trim().max(4000),
  prices: Prices,
  active: z.boolean(),
};

export const ProductCreate = z
  .strictObject(productFields)
  .partial({ description: true, prices: true, active: true })
  .meta({ id: 'ProductCreate', description: 'A new product; active defaults to true, prices to none.' });

export const ProductPatch = z
  .strictObject({
    sku: productFields.sku,
    name: productFields.name,
    description: productFields.description.nullable(),
    prices: z
      .record(CurrencyCode, MinorUnits.nullable())
      .refine((p) => Object.keys(p).length <= MAX_PRODUCT_CURRENCIES, `At most ${MAX_PRODUCT_CURRENCIES} currencies.`)
      .meta({ description: 'Merged into the prices: a currency set to null is removed.' }),
    active: productFields.active,
  })
  .partial()
  .meta({ id: 'ProductPatch', description: 'JSON merge patch: null clears a field; prices merge per currency.' });

export const Product = z
  .object({
    id: z.string(),
    sku: z.string(),
    name: z.string(),
    description: z.string().optional(),
    prices: z.record(z.string(), z.number().int()),
    active: z.boolean(),
    ...Audit,
  })
  .meta({ id: 'Product' });

export type ProductView = z.infer<typeof Product>;
export type ProductCreateInput = z.output<typeof ProductCreate>;
export type ProductPatchInput = z.output<typeof ProductPatch>;

export const ProductIdParams = z.object({ productId: Id });

export const ProductListQuery = z
  .strictObject({
    ...PageQuery,
    q: z.string().trim().min(1).max(100).optional().meta({ description: 'Name prefix.' }),
    active: z.enum(['true']).optional().meta({ description: 'true: only active products, by name.' }),
    sku: Sku.optional().meta({ description: 'Exact SKU (case-insensitive): a page of at most one product.' }),
    inTrash: z.enum(['true']).optional().meta({ description: 'true: deleted products, most recently deleted first.' }),
  })
  .meta({ id: 'ProductListQuery' });

export type ProductListFilters = z.output<typeof ProductListQuery>;
