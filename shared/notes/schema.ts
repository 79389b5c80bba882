import * as z from 'zod';
import { Audit, Id, PageQuery, Timestamp } from '../api/common-schemas.ts';

export const NOTE_SUBJECTS = ['contact', 'company'] as const;
export type NoteSubjectType = (typeof NOTE_SUBJECTS)[number];

export const NoteCreate = z
  .strictObject({
    body: z.string().trim().min(1).max(10_000),
    pinned: z.boolean().optional(),
    occurredAt: Timestamp.optional().meta({ description: 'When it happened; defaults to now. Orders the timeline.' }),
  })
  .meta({ id: 'NoteCreate' });

export const NotePatch = z
  .strictObject({ body: z.string().trim().min(1).max(10_000), pinned: z.boolean(), occurredAt: Timestamp })
  .partial()
  .meta({ id: 'NotePatch' });

export const Note = z
  .object({
    id: z.string(),
    subjectType: z.enum(NOTE_SUBJECTS),
    subjectId: z.string(),
    body: z.string(),
    pinned: z.boolean(),
    occurredAt: Timestamp,
    authorId: z.string(),
    ...Audit,
  })
  .meta({ id: 'Note' });

export type NoteView = z.infer<typeof Note>;
export type NoteCreateInput = z.output<typeof NoteCreate>;
export type NotePatchInput = z.output<typeof NotePatch>;

export const NoteIdParams = z.object({ noteId: Id });
export const PageOnlyQuery = z.strictObject({ ...PageQuery });

export const TimelineEntry = z
  .object({
    type: z.string().meta({ description: 'The kind of entry: "note" now; activities, deals, tickets, emails later.' }),
    id: z.string(),
    occurredAt: Timestamp,
    data: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'TimelineEntry' });
export type TimelineEntryView = z.infer<typeof TimelineEntry>;
