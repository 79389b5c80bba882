import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { syntheticAssignment, syntheticRun } from './fixtures.ts';
import { currentSection, END, README_FILE, readLatest, renderBench, replaceSection, START } from './readme.ts';
import { aggregate, type Goals, type Latest, verdicts } from './results.ts';

const GOALS: Goals = {
  apiVsRaw: 0.5,
  listAddedCostRatio: 1.5,
  bundleBytes: 300 * 1024,
  quotaNeighbourErrorRate: 0,
  assignmentMaxMinusMin: 0,
};

function latestOf(runs = [syntheticRun(1), syntheticRun(1.1), syntheticRun(0.9)], quick = false): Latest {
  const figures = aggregate(runs);
  return {
    schema: 2,
    commit: { sha: '0123456789abcdef0123456789abcdef01234567', dirty: false },
    date: '2026-11-30T18:00:00.000Z',
    machine: { cores: 2, model: 'AMD EPYC', memoryGiB: 23.5, node: 'v24.21.0', platform: 'linux' },
    runs: runs.length,
    quick,
    durationSeconds: 400,
    config: { concurrency: 8 },
    goals: GOALS,
    figures,
    verdicts: verdicts(figures, GOALS),
    notes: [],
    problems: [],
  };
}

describe('renderBench', () => {
  it('renders a given latest.json to the same text every time', () => {
    const latest = latestOf();
    const text = renderBench(latest);
    expect(renderBench(structuredClone(latest))).toBe(text);
    expect(text).toContain('3 runs of commit `0123456789ab` on 2026-11-30 18:00 UTC, 2 × AMD EPYC, 23.5 GiB');
  });

  it('shows each figure as the median with the min–max of the runs, or one value when they agree', () => {
    const text = renderBench(latestOf());
    // create: API req/s 100 × (1, 1.1, 0.9); raw 110 in every run; ratio 0.91 × the same.
    expect(text).toMatch(/\| create \| +100 \(90–110\) \| +72 \| +110 \| +74 \| +0\.91 \(0\.82–1\) \| met +\|/);
    // The middle page: API p50 20 × scale at 50k, added 4 ms; the ratio 0.85 / scale.
    expect(text).toMatch(
      /\| +\| +50,000 \| +20 \(18–22\) \/ 40 \(36–44\) \| +16 \/ 32 \| +4 \| +0\.85 \(0\.77–0\.94\)× \| met +\|/,
    );
    expect(text).toMatch(
      /\| patch +\| GetItem \+ TransactWriteItems \| +2 \| GetItem 1, TransactWriteItems 1 \| +0 \| met +\|/,
    );
    expect(text).toMatch(/\| ApiContacts \| +517\.2 \| +137\.7 \| +360 \(324–396\) \| +145 \| \*\*missed\*\* \|/);
    expect(text).toContain('**Tenant quota**: not measured in this run.');
    expect(text).not.toContain('--quick');
  });

  it('says when the figures come from a quick run, and shows the tenant quota when measured', () => {
    const runs = [syntheticRun(1)];
    runs[0]!.tenantQuota = { tenantAErrorRate: 0.85, tenantBErrorRate: 0 };
    const text = renderBench(latestOf(runs, true));
    expect(text).toContain('come from a `--quick` development run');
    expect(text).toContain("tenant B's error rate is 0% (goal 0%: met); tenant A's is 85%.");
  });
});

describe('renderBench: sales and assignment', () => {
  it('renders the sales writes beside raw and the board with its requests per read', () => {
    const text = renderBench(latestOf());
    // convert: API 30 × (1, 1.1, 0.9) per second, p50 120 / p99 360; raw 50; ratio 0.6 × scale.
    expect(text).toMatch(
      /\| convert lead \| +30 \(27–33\) \| +120 \/ 360 \| +95 \| +50 \| +60 \/ 180 \| +0\.6 \(0\.54–0\.66\) \| +15 \| GetItem \+ GetItem \+ TransactWriteItems \| met +\|/,
    );
    expect(text).toMatch(/\| move stage +\| +60 \| +60 \/ 180 \| +45 \| +80 \| +40 \/ 120 \| +0\.75 \| +3 \|/);
    expect(text).toContain('**The deal board** at 10,000 deals in one pipeline of 6 stages (10 deals per stage page');
    expect(text).toContain("the pipeline's GetItem and one Query per stage (7 requests)");
    expect(text).toMatch(
      /\| `GET \/v1\/pipelines\/\{id\}\/board` \| +30 \(27–33\) \/ 120 \(108–132\) \| +20 \/ 80 \| +7 \| GetItem 1, Query 6 \| met +\|/,
    );
    expect(text).toMatch(/\| next page of one stage +\| +8 \/ 32 \| +4 \/ 16 \| +1 \| Query 1 +\| met +\|/);
    expect(text).toContain('as the API writes them: checked; the same deals through the API and raw: checked.');
    expect(text).toContain('**Assignment fairness**: not measured in this run.');
  });

  it('says when sales were not measured, and shows assignment fairness when it was', () => {
    const runs = [syntheticRun(1), syntheticRun(1)];
    for (const r of runs) {
      delete r.sales;
      r.assignmentFairness = syntheticAssignment(0);
    }
    runs[1]!.assignmentFairness!.maxMinusMin = 2;
    const text = renderBench(latestOf(runs));
    expect(text).toContain('**Sales** (lead conversion, stage moves, the deal board): not measured in this run.');
    expect(text).toContain(
      '**Assignment fairness**: 1,000 contacts created at once without an owner, round-robin over 8 available ' +
        'members: max − min per member 1 (0–2) from the responses, 0 from the stored owner lists (goal 0: **missed**); 0 failed.',
    );
  });
});

describe('replaceSection', () => {
  const readme = `# Title\n\nBefore.\n\n${START}\nold figures\n${END}\n\nAfter.\n`;

  it('replaces only the text between the markers, and reads back what it wrote', () => {
    const updated = replaceSection(readme, 'new figures');
    expect(updated).toBe(`# Title\n\nBefore.\n\n${START}\nnew figures\n${END}\n\nAfter.\n`);
    expect(currentSection(updated)).toBe('new figures');
    expect(replaceSection(updated, 'new figures')).toBe(updated);
  });

  it('refuses a README without the markers', () => {
    expect(() => replaceSection('# Title\n', 'x')).toThrow(/bench:start/);
  });
});

describe('the committed README', () => {
  it('shows exactly the figures of the committed bench/results/latest.json', () => {
    const readme = readFileSync(README_FILE, 'utf8');
    expect(currentSection(readme)).toBe(renderBench(readLatest()));
  });
});
