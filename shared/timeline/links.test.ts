import { describe, expect, it } from 'vitest';
import { timelineLinkWrites } from './links.ts';

const at = '2026-11-30T10:00:00.000Z';
const place = (ids: string[], summary: Record<string, unknown> = { name: 'Renewal' }, occurredAt = at) => ({
  subjects: ids.map((id) => ({ type: 'contact', id })),
  occurredAt,
  summary,
});
const kinds = (writes: ReturnType<typeof timelineLinkWrites>) =>
  writes.map((w) => ('put' in w ? `put ${w.item.subjectId}` : 'delete' in w ? `delete ${w.key.subjectId}` : 'check'));

describe('timelineLinkWrites', () => {
  it('puts one link per subject on a create, keyed on the subject timeline', () => {
    const writes = timelineLinkWrites('acme', 'deal', 'd1', place(['c1', 'c2']), undefined);
    expect(kinds(writes)).toEqual(['put c1', 'put c2']);
    const first = writes[0] as { item: Record<string, unknown> };
    expect(first.item.gsi6pk).toBe('acme#contact#c1#timeline');
    expect(first.item.gsi6sk).toBe(`${at}#deal#d1`);
  });

  it('touches only added and removed subjects when the summary and time are unchanged', () => {
    expect(kinds(timelineLinkWrites('acme', 'deal', 'd1', place(['c2', 'c3']), place(['c1', 'c2'])))).toEqual([
      'put c3',
      'delete c1',
    ]);
    expect(timelineLinkWrites('acme', 'deal', 'd1', place(['c1']), place(['c1']))).toEqual([]);
  });

  it('rewrites every link when the summary or the time changes', () => {
    expect(
      kinds(timelineLinkWrites('acme', 'deal', 'd1', place(['c1', 'c2'], { name: 'X' }), place(['c1', 'c2']))),
    ).toEqual(['put c1', 'put c2']);
    const moved = place(['c1'], { name: 'Renewal' }, '2026-12-01T00:00:00.000Z');
    expect(kinds(timelineLinkWrites('acme', 'deal', 'd1', moved, place(['c1'])))).toEqual(['put c1']);
  });

  it('removes every link on a delete', () => {
    expect(kinds(timelineLinkWrites('acme', 'deal', 'd1', undefined, place(['c1', 'c2'])))).toEqual([
      'delete c1',
      'delete c2',
    ]);
  });
});
