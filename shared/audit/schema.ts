import * as z from 'zod';
import { Timestamp } from '../api/common-schemas.ts';

/**
 * What the changes of one history entry may take, as DynamoDB counts item sizes: items end at 400 KB, and the
 * entry's other attributes (keys, version, action, actor, time) need well under the rest.
 */
export const HISTORY_CHANGES_BUDGET_BYTES = 380 * 1024;

export const AuditEntry = z
  .object({
    version: z.number().int().meta({ description: 'The record version this change produced.' }),
    action: z.enum(['created', 'updated', 'deleted', 'restored', 'merged']),
    actorId: z.string().optional(),
    occurredAt: Timestamp,
    changes: z.record(z.string(), z.object({ old: z.unknown().optional(), new: z.unknown().optional() })).meta({
      description:
        'Changed fields with their full old and new values. A value too large for the history entry itself (over ' +
        'about 380 KB with the rest of the change) is shown as a reference instead: ' +
        '`{ "$claimCheck": { "schemaVersion": 1, "key": "...", "bytes": 123456, "sha256": "...", "pointer": "/..." } }` ' +
        '(an object no record value can be), naming the stored copy an operator can retrieve. If a change has so ' +
        'many fields that even their references would not fit, `changes` itself is such a reference.',
    }),
  })
  .meta({ id: 'AuditEntry' });
export type AuditEntryView = z.infer<typeof AuditEntry>;
