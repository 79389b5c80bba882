import { entities } from './model.ts';

/**
 * The table design, derived from the ElectroDB entities so it is written once: the CDK stack, the local cloud and
 * the tests all create the same table from this.
 */
export interface TableDesign {
  partitionKey: string;
  sortKey: string;
  /** GSIs by name, each with string hash and range keys and ALL projection. */
  globalIndexes: Array<{ indexName: string; partitionKey: string; sortKey: string }>;
  /** The TTL attribute; code that depends on expiry checks it too, since DynamoDB deletes late. */
  timeToLiveAttribute: string;
}

interface IndexSchema {
  index?: string;
  pk: { field?: string };
  sk?: { field?: string };
}

export function deriveTableDesign(): TableDesign {
  const primary = new Set<string>();
  const gsis = new Map<string, { partitionKey: string; sortKey: string }>();
  for (const entity of Object.values(entities)) {
    const indexes = entity.schema.indexes as unknown as Record<string, IndexSchema>;
    for (const [accessPattern, index] of Object.entries(indexes)) {
      const pk = index.pk.field;
      const sk = index.sk?.field;
      if (!pk || !sk)
        throw new Error(`${entity.schema.model.entity}.${accessPattern}: every index names pk and sk fields`);
      if (!index.index) {
        primary.add(`${pk}/${sk}`);
        continue;
      }
      const existing = gsis.get(index.index);
      if (existing && (existing.partitionKey !== pk || existing.sortKey !== sk)) {
        throw new Error(`index ${index.index} is declared with different key fields by different entities`);
      }
      gsis.set(index.index, { partitionKey: pk, sortKey: sk });
    }
  }
  if (primary.size !== 1) throw new Error(`entities disagree on the primary key: ${[...primary].join(', ')}`);
  const [partitionKey, sortKey] = [...primary][0]!.split('/') as [string, string];
  return {
    partitionKey,
    sortKey,
    globalIndexes: [...gsis.entries()]
      .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
      .map(([indexName, keys]) => ({ indexName, ...keys })),
    timeToLiveAttribute: 'ttl',
  };
}
