import { defineRoutes } from '../api/route.ts';
import { CompanyWritten, ContactWritten } from '../duplicates/schema.ts';
import { CompanyMerge, ContactMerge } from './schema.ts';

const mergeDescription = (entity: string, plural: string, children: string) =>
  `Merges loserId into winnerId in one transaction. The winner gets the merged fields (\`fields\` names the side ` +
  `each field is taken from; unlisted fields keep the winner's value, or the loser's where the winner has none; ` +
  `multi-valued fields are united). The loser becomes a redirect: off every list and lookup, \`GET /v1/${plural}/` +
  `{loserId}\` answers 301 to the winner, its history records \`${entity}.merged\`. ${children} move to the winner ` +
  `shortly after (a consumer of \`${entity}.merged\`). If-Match applies to the winner. Repeating a merge answers the ` +
  `winner again (200; with the same Idempotency-Key, the first response); merging into a merged ${entity}, or a ` +
  `${entity} merged elsewhere, is refused (409).`;

export const mergeRoutes = defineRoutes([
  {
    operationId: 'mergeContacts',
    method: 'POST',
    path: '/v1/contacts/merge',
    group: 'merge',
    permission: 'contacts:merge',
    tag: 'Duplicates',
    summary: 'Merge two contacts',
    description: mergeDescription('contact', 'contacts', 'Notes, timeline entries, deals and activities'),
    body: ContactMerge,
    response: { status: 200, schema: ContactWritten, description: 'The winner after the merge.' },
    idempotent: true,
    conditional: true,
  },
  {
    operationId: 'mergeCompanies',
    method: 'POST',
    path: '/v1/companies/merge',
    group: 'merge',
    permission: 'companies:merge',
    tag: 'Duplicates',
    summary: 'Merge two companies',
    description: mergeDescription('company', 'companies', 'Notes, timeline entries, contacts, deals and activities'),
    body: CompanyMerge,
    response: { status: 200, schema: CompanyWritten, description: 'The winner after the merge.' },
    idempotent: true,
    conditional: true,
  },
]);
