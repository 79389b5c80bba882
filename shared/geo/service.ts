import { GEO_PARTITION_PRECISION, geoIndex } from '../db/keys.ts';
import { checkCursor, model } from '../db/store.ts';
import { ValidationError } from '../errors.ts';
import type { Page, PageRequest } from '../records/lists.ts';
import { coverCircle, haversineKm, type LatLon } from './geohash.ts';

/** The finest cells a cover uses (about 1.2 x 0.6 km): below that, more queries would not read fewer records. */
const FINEST_COVER_PRECISION = 6;
/** Queries one page may make, so a page over many empty cells still answers quickly (it continues by cursor). */
export const MAX_QUERIES_PER_PAGE = 12;

interface NearCursor {
  /** The cover cell the next page starts in. */
  cell: string;
  /** ElectroDB's cursor inside that cell, or null to start at its beginning. */
  key: string | null;
}

const badCursor = () =>
  new ValidationError('The cursor does not belong to this list.', [
    { field: 'query.cursor', message: 'Pass the nextCursor returned with the same near and radiusKm.' },
  ]);

function decodeCursor(cursor: string, cells: string[]): NearCursor {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  const { cell, key } = (typeof decoded === 'object' && decoded !== null ? decoded : {}) as Record<string, unknown>;
  if (typeof cell !== 'string' || !cells.includes(cell) || !(key === null || typeof key === 'string'))
    throw badCursor();
  return { cell, key };
}

const encodeCursor = (c: NearCursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

type CellQuery = {
  begins: (sk: { gsi7sk: string }) => {
    go: (o: { limit: number; cursor: string | null }) => Promise<{ data: unknown[]; cursor: string | null }>;
  };
};

/** Both near and radiusKm, or neither. */
export function nearSearch(filters: { near?: LatLon | undefined; radiusKm?: number | undefined }) {
  if (filters.near === undefined && filters.radiusKm === undefined) return undefined;
  if (filters.near === undefined || filters.radiusKm === undefined) {
    const missing = filters.near === undefined ? 'near' : 'radiusKm';
    throw new ValidationError('near and radiusKm go together.', [
      { field: `query.${missing}`, message: `Required with ${missing === 'near' ? 'radiusKm' : 'near'}.` },
    ]);
  }
  return { center: filters.near, radiusKm: filters.radiusKm };
}

/**
 * Live records with a location within `radiusKm` of `center`: one Query per geohash cell covering the circle (a cell
 * of the partition precision is a whole partition; a finer one is a sort-key prefix in it), each record's exact
 * haversine distance checked, pages continued across cells by a cursor naming the cell and ElectroDB's key in it.
 * No Scan; at most MAX_QUERIES_PER_PAGE queries per page.
 */
export async function queryNear(
  entity: 'contact' | 'company',
  tenantId: string,
  center: LatLon,
  radiusKm: number,
  page: PageRequest,
): Promise<Page<Record<string, unknown>>> {
  const cells = coverCircle(center, radiusKm, GEO_PARTITION_PRECISION, FINEST_COVER_PRECISION);
  let position: NearCursor = page.cursor ? decodeCursor(page.cursor, cells) : { cell: cells[0]!, key: null };
  const partitionOf = (cell: string) => geoIndex.cell(tenantId, entity, cell.slice(0, GEO_PARTITION_PRECISION));
  if (position.key !== null) {
    const cell = position.cell;
    checkCursor(position.key, 'gsi7pk', partitionOf(cell), (sortKey) => sortKey.startsWith(cell));
  }
  const queries = model.entities[entity].query as unknown as { gsi7: (pk: { gsi7pk: string }) => CellQuery };
  const items: Record<string, unknown>[] = [];
  let index = cells.indexOf(position.cell);
  for (let sent = 0; sent < MAX_QUERIES_PER_PAGE && items.length < page.limit && index < cells.length; sent++) {
    const cell = cells[index]!;
    const result = await queries
      .gsi7({ gsi7pk: partitionOf(cell) })
      .begins({ gsi7sk: cell })
      .go({ limit: page.limit - items.length, cursor: position.key });
    for (const record of result.data as Record<string, unknown>[]) {
      const location = record.location as LatLon | undefined;
      if (location && !record.deletedAt && haversineKm(center, location) <= radiusKm) items.push(record);
    }
    if (result.cursor) {
      position = { cell, key: result.cursor };
    } else {
      index += 1;
      position = { cell: cells[index] ?? cell, key: null };
    }
  }
  return { items, nextCursor: index < cells.length ? encodeCursor(position) : null };
}
