import * as z from 'zod';
import { Timestamp } from '../api/common-schemas.ts';

export const AuditEntry = z
  .object({
    version: z.number().int().meta({ description: 'The record version this change produced.' }),
    action: z.enum(['created', 'updated', 'deleted', 'restored']),
    actorId: z.string().optional(),
    occurredAt: Timestamp,
    changes: z.record(z.string(), z.object({ old: z.unknown().optional(), new: z.unknown().optional() })),
  })
  .meta({ id: 'AuditEntry' });
export type AuditEntryView = z.infer<typeof AuditEntry>;
