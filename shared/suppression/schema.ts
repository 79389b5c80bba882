import * as z from 'zod';
import { PageQuery, Timestamp } from '../api/common-schemas.ts';

export const SUPPRESSION_REASONS = ['hard_bounce', 'complaint', 'manual'] as const;

/** Compared and stored lower-cased, as the senders check it. */
const Email = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ message: 'Not a valid email address.' }))
  .transform((e) => e.toLowerCase());

export const Suppression = z
  .object({
    email: z.string(),
    reason: z.enum(SUPPRESSION_REASONS),
    suppressedAt: Timestamp,
    source: z.string().optional().meta({ description: 'What put it there: a campaign id, an SES message id.' }),
    detail: z.string().optional(),
    createdBy: z.string().optional().meta({ description: 'The user who added it by hand.' }),
  })
  .meta({ id: 'Suppression' });
export type SuppressionView = z.infer<typeof Suppression>;

export const SuppressionCreate = z
  .strictObject({
    email: Email,
    detail: z.string().trim().max(1000).optional().meta({ description: 'Why (kept with the entry).' }),
  })
  .meta({ id: 'SuppressionCreate' });
export type SuppressionCreateInput = z.output<typeof SuppressionCreate>;

export const SuppressionParams = z.object({ email: Email });

export const SuppressionListQuery = z.strictObject({ ...PageQuery }).meta({ id: 'SuppressionListQuery' });
