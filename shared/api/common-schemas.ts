import * as z from 'zod';

/** Ids we mint are ULIDs; references (owner, company) accept any safe id so external user ids work too. */
export const Id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'Use letters, digits, "_" or "-".');

export const Tag = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[^#\p{Cc}]+$/u, 'Tags cannot contain "#" or control characters.')
  .transform((t) => t.toLowerCase());

/** Tags are case-insensitive and unique per record: stored lower-cased, de-duplicated, in the order given. */
export const Tags = z
  .array(Tag)
  .max(20, 'At most 20 tags.')
  .transform((tags) => [...new Set(tags)]);

export const Address = z
  .strictObject({
    street: z.string().trim().max(200),
    city: z.string().trim().max(100),
    region: z.string().trim().max(100).meta({ description: 'State, province or region (used for territories).' }),
    postalCode: z.string().trim().max(20),
    country: z
      .string()
      .regex(/^[A-Za-z]{2}$/, 'Use an ISO 3166-1 alpha-2 country code, e.g. "DE".')
      .transform((c) => c.toUpperCase()),
  })
  .partial();

/** An address in a merge patch: any field may be null to clear it. */
export const AddressPatch = z
  .strictObject({
    street: z.string().trim().max(200).nullable(),
    city: z.string().trim().max(100).nullable(),
    region: z.string().trim().max(100).nullable(),
    postalCode: z.string().trim().max(20).nullable(),
    country: Address.shape.country.unwrap().nullable(),
  })
  .partial()
  .nullable();

/** Custom field values; their keys and types are checked against the tenant's declared fields. */
export const CustomFieldValues = z
  .record(
    z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,63}$/, 'Custom field keys are identifiers like "accountTier".'),
    z.union([z.string().max(2000), z.number(), z.boolean(), z.array(z.string().max(200)).max(50), z.null()]),
  )
  .refine((v) => Object.keys(v).length <= 100, 'At most 100 custom fields.');

export const Timestamp = z.iso.datetime({ offset: true });

export const PageQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(25).meta({ description: 'Page size (1-100).' }),
  cursor: z.string().max(2048).optional().meta({ description: 'The `nextCursor` of the previous page.' }),
};

/** The list filters every record type has: its trash, and the delta-sync feed (which includes deletions). */
export function trashAndSyncFilters(records: string) {
  return {
    inTrash: z
      .enum(['true', 'false'])
      .optional()
      .transform((v) => (v === 'true' ? true : undefined))
      .meta({ description: `true: the trash (soft-deleted ${records}), most recently deleted first.` }),
    updatedSince: Timestamp.optional().meta({
      description: `Delta sync: every one of the ${records} changed at or after this time, oldest first, including deleted ones.`,
    }),
  };
}

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null at the end.' }),
  });
}

export const Audit = {
  version: z.number().int().meta({ description: 'Increments on every change; sent as the ETag.' }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  createdBy: z.string().optional(),
  updatedBy: z.string().optional(),
  deletedAt: Timestamp.optional().meta({ description: 'Set while the record is in the trash (restorable).' }),
};

export const DeletedQuery = z.object({});
