import * as z from 'zod';
import { Company } from '../companies/schema.ts';
import { Contact } from '../contacts/schema.ts';

export const MatchKey = z.enum(['email', 'phone', 'domain', 'name']);

export const DuplicateCandidate = z
  .object({
    id: z.string().meta({ description: 'The other record.' }),
    matched: z.array(MatchKey).meta({ description: 'What the two share.' }),
  })
  .meta({ id: 'DuplicateCandidate' });

const duplicates = z
  .array(DuplicateCandidate)
  .optional()
  .meta({
    description:
      'Only when the tenant’s duplicate policy is `warn` and other live records share an email, phone or domain ' +
      'with this one: those records and what matched. Not stored: GET never shows it.',
  });

/** What a create, patch or restore answers: the record, plus the candidates under the `warn` policy. */
export const ContactWritten = Contact.extend({ duplicates }).meta({ id: 'ContactWritten' });
export const CompanyWritten = Company.extend({ duplicates }).meta({ id: 'CompanyWritten' });
