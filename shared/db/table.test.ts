import { describe, expect, it } from 'vitest';
import { entities } from './model.ts';
import { deriveTableDesign } from './table.ts';

describe('deriveTableDesign', () => {
  const design = deriveTableDesign();

  it('uses pk/sk as the primary key and ttl for expiry', () => {
    expect(design.partitionKey).toBe('pk');
    expect(design.sortKey).toBe('sk');
    expect(design.timeToLiveAttribute).toBe('ttl');
  });

  it('declares gsi1..gsi7, in numeric order, each keyed by its own pk/sk fields', () => {
    expect(design.globalIndexes).toEqual(
      [1, 2, 3, 4, 5, 6, 7].map((n) => ({ indexName: `gsi${n}`, partitionKey: `gsi${n}pk`, sortKey: `gsi${n}sk` })),
    );
  });

  it('covers every index any entity declares, and nothing more', () => {
    const declared = new Set<string>();
    for (const entity of Object.values(entities)) {
      const indexes = entity.schema.indexes as unknown as Record<string, { index?: string }>;
      for (const index of Object.values(indexes)) if (index.index) declared.add(index.index);
    }
    expect(design.globalIndexes.map((g) => g.indexName).sort()).toEqual([...declared].sort());
  });

  it('is deterministic', () => {
    expect(deriveTableDesign()).toEqual(design);
  });

  it('stores the idempotency expiry in the TTL attribute', () => {
    const attributes = entities.idempotency.schema.attributes as unknown as Record<string, { field?: string }>;
    expect(attributes.expiresAt?.field).toBe(design.timeToLiveAttribute);
  });
});
