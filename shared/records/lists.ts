import type { LookupKind } from '../db/entities/lookup.ts';
import { checkCursor, model } from '../db/store.ts';
import { ValidationError } from '../errors.ts';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

type GsiName = 'gsi1' | 'gsi2' | 'gsi3' | 'gsi4' | 'gsi5';

/** Exactly one index per list: several filters at once would need a scan or a join, so they are refused. */
export function singleFilter<F extends Record<string, unknown>>(filters: F, names: readonly (keyof F & string)[]) {
  const given = names.filter((n) => filters[n] !== undefined);
  if (given.length > 1) {
    throw new ValidationError(
      'Use one filter at a time: each filter is served by its own index.',
      given.map((field) => ({ field: `query.${field}`, message: `Cannot be combined with ${given.join(', ')}.` })),
    );
  }
  return given[0];
}

type IndexQuery = {
  go: (o: {
    limit: number;
    cursor?: string | null;
    order?: 'asc' | 'desc';
  }) => Promise<{ data: unknown[]; cursor: string | null }>;
};
type IndexQueryBuilder = IndexQuery & {
  begins: (sk: Record<string, string>) => IndexQuery;
  gte: (sk: Record<string, string>) => IndexQuery;
};

/** One Query on a GSI partition, optionally narrowed by a sort-key prefix or lower bound. */
export async function queryIndex<T>(
  entity: 'contact' | 'company' | 'lead' | 'form',
  index: GsiName,
  partition: string,
  page: PageRequest,
  range?: { begins?: string; gte?: string; order?: 'asc' | 'desc' },
): Promise<Page<T>> {
  checkCursor(page.cursor, `${index}pk`, partition, (sortKey) =>
    range?.begins !== undefined
      ? sortKey.startsWith(range.begins)
      : range?.gte !== undefined
        ? Buffer.compare(Buffer.from(sortKey), Buffer.from(range.gte)) >= 0 // DynamoDB orders by UTF-8 bytes
        : true,
  );
  const queries = model.entities[entity].query as unknown as Record<
    string,
    (pk: Record<string, string>) => IndexQueryBuilder
  >;
  const builder = queries[index]!({ [`${index}pk`]: partition });
  const query =
    range?.begins !== undefined
      ? builder.begins({ [`${index}sk`]: range.begins })
      : range?.gte !== undefined
        ? builder.gte({ [`${index}sk`]: range.gte })
        : builder;
  const result = await query.go({ limit: page.limit, cursor: page.cursor ?? null, order: range?.order ?? 'asc' });
  return { items: result.data as T[], nextCursor: result.cursor ?? null };
}

/**
 * One Query on the lookup items of a value (an email, a phone, a tag, a domain). Each carries its record's summary
 * (the record kind's `summary` projection), which is what these lists return: GET the record for all of it.
 */
export async function queryLookup<T>(
  tenantId: string,
  kind: LookupKind,
  value: string,
  page: PageRequest,
): Promise<Page<T>> {
  const partition = model.entities.lookup.get({ tenantId, kind, value, targetId: '-' }).params().Key.pk as string;
  checkCursor(page.cursor, 'pk', partition);
  const result = await model.entities.lookup.query
    .byValue({ tenantId, kind, value })
    .go({ limit: page.limit, cursor: page.cursor ?? null });
  return { items: result.data.map((l) => l.summary as T), nextCursor: result.cursor ?? null };
}
