import * as z from 'zod';
import { Audit } from '../api/common-schemas.ts';

export const CUSTOM_FIELD_TYPES = ['text', 'number', 'boolean', 'date', 'select', 'multiselect'] as const;
export const CustomFieldEntityType = z.enum(['contact', 'company', 'lead', 'ticket']);
export type CustomFieldEntityType = z.infer<typeof CustomFieldEntityType>;

export const CustomFieldDefinition = z
  .strictObject({
    key: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,63}$/, 'Keys are identifiers like "accountTier".'),
    label: z.string().trim().min(1).max(100),
    type: z.enum(CUSTOM_FIELD_TYPES),
    options: z.array(z.string().trim().min(1).max(100)).min(1).max(200).optional(),
    description: z.string().max(500).optional(),
  })
  .refine((d) => (d.type === 'select' || d.type === 'multiselect') === (d.options !== undefined), {
    message: 'select and multiselect fields need options; other types take none.',
    path: ['options'],
  });
export type CustomFieldDefinition = z.infer<typeof CustomFieldDefinition>;

/**
 * Up to 100 definitions, replaced as a whole. The stored schema is bounded by the 64 KiB request body (far under
 * DynamoDB's 400 KB, which writeRecord guards as well). Values have per-field limits (text up to 2000 characters,
 * at most 6000 bytes: any one value fits a record) and count toward the record's 64 KiB cap together
 * (shared/records/lifecycle.ts), so 100 long texts are refused with 413 `record.too_large`, not stored.
 */
export const CustomFieldSchemaPut = z
  .strictObject({
    fields: z
      .array(CustomFieldDefinition)
      .max(100)
      .refine((fields) => new Set(fields.map((f) => f.key)).size === fields.length, 'Field keys must be unique.'),
  })
  .meta({ id: 'CustomFieldSchemaPut' });

export const CustomFieldSchema = z
  .object({ entityType: CustomFieldEntityType, fields: z.array(CustomFieldDefinition), ...Audit })
  .meta({ id: 'CustomFieldSchema' });
export type CustomFieldSchemaView = z.infer<typeof CustomFieldSchema>;

export const CustomFieldParams = z.object({ entityType: CustomFieldEntityType });
