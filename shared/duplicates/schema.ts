import * as z from 'zod';
import { PageQuery } from '../api/common-schemas.ts';
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

export const DuplicateListQuery = z
  .strictObject({
    entity: z.enum(['contact', 'company']).meta({ description: 'Which record kind’s candidate pairs to list.' }),
    ...PageQuery,
  })
  .meta({ id: 'DuplicateListQuery' });

export const DuplicatePairParams = z.object({
  pairId: z
    .string()
    .max(140)
    .regex(
      /^(contact|company)\.[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}$/,
      'Use the id of a pair from GET /v1/duplicates.',
    ),
});

export const DuplicatePair = z
  .object({
    id: z.string().meta({ description: '`<entity>.<id>.<id>`: the same whichever record you start from.' }),
    entity: z.enum(['contact', 'company']),
    recordIds: z.array(z.string()).length(2),
    matched: z.array(MatchKey).meta({ description: 'The match keys the two share.' }),
    detectedAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'DuplicatePair' });
