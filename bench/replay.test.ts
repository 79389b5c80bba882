import { describe, expect, it } from 'vitest';
import { replayable, replayIds, substitute, ulidsIn } from './replay.ts';

const LEAD = '01JDX0ZQ8Y4T6V2M9K3H5N7P1R';
const PIPELINE = '01JDX0ZQ9A2B3C4D5E6F7G8H9J';

describe('replay', () => {
  const template = JSON.stringify({
    pk: { S: `$crm#tenantid_bench#leadid_${LEAD}` },
    email: { S: `grace.${LEAD.toLowerCase()}@navy.example` },
    pipelineId: { S: PIPELINE },
    hash: { S: `${'A'.repeat(30)}` },
  });

  it('finds ULIDs in keys and values, in either case, but not inside longer runs of letters and digits', () => {
    expect([...ulidsIn(template)].sort()).toEqual([LEAD, PIPELINE].sort());
  });

  it('replaces every id but the kept ones, with ids of the same length, keeping their case', () => {
    const ids = replayIds(template, new Set([PIPELINE]));
    expect([...ids.keys()]).toEqual([LEAD]);
    const fresh = ids.get(LEAD)!;
    expect(fresh).toHaveLength(26);
    const out = substitute(template, ids);
    expect(out).toHaveLength(template.length);
    expect(out).toContain(`leadid_${fresh}`);
    expect(out).toContain(`grace.${fresh.toLowerCase()}@`);
    expect(out).toContain(PIPELINE);
    expect(out).not.toContain(LEAD);
  });

  it('maps fixed ids to the given ones', () => {
    const target = '01JDX1AAAAAAAAAAAAAAAAAAAA';
    expect(substitute(template, replayIds(template, new Set(), new Map([[LEAD, target]])))).toContain(target);
  });

  it('drops the idempotency token the SDK generated, and refuses a missing body', () => {
    expect(JSON.parse(replayable({ ClientRequestToken: 'x', TransactItems: [] }))).toEqual({ TransactItems: [] });
    expect(() => replayable(undefined)).toThrow(/no request body/);
  });
});
