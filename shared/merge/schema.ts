import * as z from 'zod';
import { Id } from '../api/common-schemas.ts';
import { CompanyPatch } from '../companies/schema.ts';
import { ContactPatch } from '../contacts/schema.ts';

const Side = z.enum(['winner', 'loser']);

/** A merge request for a record kind whose editable fields are those of its patch schema. */
function mergeRequest(id: string, fieldNames: string[], multiValued: string) {
  return z
    .strictObject({
      winnerId: Id.meta({ description: 'The record that stays.' }),
      loserId: Id.meta({ description: 'The record merged into the winner; afterwards a redirect to it.' }),
      fields: z
        .partialRecord(z.enum(fieldNames as [string, ...string[]]), Side)
        .optional()
        .meta({
          description:
            'Which record each field is taken from. Unlisted fields: the winner’s value, or the loser’s when the ' +
            `winner has none. ${multiValued} are always united (the chosen side’s values first); customFields ` +
            'merge key by key (the chosen side winning where both have a key).',
        }),
    })
    .meta({ id });
}

export const ContactMerge = mergeRequest('ContactMerge', Object.keys(ContactPatch.shape), 'emails, phones and tags');
export const CompanyMerge = mergeRequest('CompanyMerge', Object.keys(CompanyPatch.shape), 'domains and tags');
export type MergeInput = z.output<typeof ContactMerge>;
