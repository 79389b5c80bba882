import { pageOf } from '../api/common-schemas.ts';
import { defineRoutes } from '../api/route.ts';
import { DuplicateListQuery, DuplicatePair, DuplicatePairParams } from './schema.ts';

export const duplicatesRoutes = defineRoutes([
  {
    operationId: 'listDuplicates',
    method: 'GET',
    path: '/v1/duplicates',
    group: 'duplicates',
    permission: 'duplicates:read',
    tag: 'Duplicates',
    summary: 'Candidate duplicate pairs',
    description:
      'Pairs of live contacts (or companies) that share a match key: an email, a phone, a domain, or a name ' +
      'fingerprint (folded first + last name; folded company name without legal forms). Kept by a consumer of the ' +
      'change events, so a change shows up here a moment after it is written. One Query; merge a pair with ' +
      'POST /v1/contacts/merge or /v1/companies/merge, or dismiss it.',
    query: DuplicateListQuery,
    response: { status: 200, schema: pageOf(DuplicatePair), description: 'A page of pairs, by pair id.' },
  },
  {
    operationId: 'dismissDuplicate',
    method: 'POST',
    path: '/v1/duplicates/{pairId}/dismiss',
    group: 'duplicates',
    permission: 'contacts:merge',
    tag: 'Duplicates',
    summary: 'Dismiss a candidate pair (not the same)',
    description:
      'The pair leaves the list and stays dismissed while the two records still match; repeating it is harmless. ' +
      'Deciding about duplicates is for those who may merge them: contacts:merge, and companies:merge for a pair ' +
      'of companies.',
    params: DuplicatePairParams,
    response: { status: 200, schema: DuplicatePair, description: 'The dismissed pair.' },
  },
]);
