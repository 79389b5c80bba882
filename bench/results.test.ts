import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from './args.ts';
import { syntheticAssignment, syntheticRun } from './fixtures.ts';
import { addedRatio, aggregate, type Goals, medianOf, verdicts } from './results.ts';

const GOALS: Goals = {
  apiVsRaw: 0.5,
  listAddedCostRatio: 1.5,
  bundleBytes: 300 * 1024,
  quotaNeighbourErrorRate: 0,
  assignmentMaxMinusMin: 0,
};

describe('aggregate', () => {
  it('turns every number into its median and min/max over the runs, keeping each run value', () => {
    const folded = aggregate([
      { a: 3, b: { c: 10 } },
      { a: 1, b: { c: 30 } },
      { a: 2, b: { c: 20 } },
    ]);
    expect(folded).toEqual({
      a: { median: 2, min: 1, max: 3, values: [3, 1, 2] },
      b: { c: { median: 20, min: 10, max: 30, values: [10, 30, 20] } },
    });
  });

  it('takes the mean of the middle two for an even number of runs', () => {
    expect(medianOf([4, 1, 3, 2])).toBe(2.5);
    expect(aggregate([1, 4])).toMatchObject({ median: 2.5, min: 1, max: 4 });
  });

  it('holds a boolean only if it held in every run, and keeps strings and string lists', () => {
    expect(aggregate([true, true])).toBe(true);
    expect(aggregate([true, false, true])).toBe(false);
    expect(aggregate([{ e: ['GetItem', 'Query'] }, { e: ['GetItem', 'Query'] }])).toEqual({ e: ['GetItem', 'Query'] });
    expect(aggregate(['x', 'y'])).toBe('x | y');
  });

  it('folds a key over the runs that have it, and leaves out non-finite numbers', () => {
    expect(aggregate<Record<string, number>>([{ a: 1 }, { a: 3, b: 5 }])).toEqual({
      a: { median: 2, min: 1, max: 3, values: [1, 3] },
      b: { median: 5, min: 5, max: 5, values: [5] },
    });
    expect(aggregate([Number.NaN, 2, Number.POSITIVE_INFINITY])).toMatchObject({ median: 2, values: [2] });
    expect(aggregate([Number.NaN, Number.NaN])).toBeNull();
    expect(aggregate<number | null>([null, 2])).toMatchObject({ median: 2 });
  });
});

describe('addedRatio', () => {
  it('divides the large tenant added cost by the small one', () => {
    expect(addedRatio(4, 5)).toBe(1.25);
  });

  it('gives no ratio when the small tenant added cost is too small to divide by', () => {
    expect(addedRatio(0.01, 5)).toBeNull();
    expect(addedRatio(-1, 5)).toBeNull();
  });
});

describe('verdicts', () => {
  const figures = () => aggregate([syntheticRun(1), syntheticRun(1.1), syntheticRun(0.9)]);

  it('judges the list goal per page kind on the median of the runs', () => {
    const f = figures();
    const byGoal = Object.fromEntries(verdicts(f, GOALS).map((v) => [v.goal, v]));
    expect(byGoal['list middle page: API added cost large/small <= 1.5']).toMatchObject({ pass: true });
    f.listScaling.addedRatio.next = { median: 1.6, min: 1.2, max: 2, values: [1.2, 1.6, 2] };
    f.listScaling.addedRatio.first = null;
    const after = Object.fromEntries(verdicts(f, GOALS).map((v) => [v.goal, v]));
    expect(after['list next page: API added cost large/small <= 1.5']).toMatchObject({ pass: false, value: '1.6' });
    expect(after['list first page: API added cost large/small <= 1.5']).toMatchObject({ pass: false, value: 'n/a' });
  });

  it('misses a request-count goal when any call sent other requests than expected', () => {
    const runs = [syntheticRun(1), syntheticRun(1)];
    runs[1]!.requestsPerCall.patch!.asExpected = false;
    const v = verdicts(aggregate(runs), GOALS).find((x) => x.goal.startsWith('patch:'));
    expect(v).toMatchObject({ goal: 'patch: DynamoDB requests = GetItem + TransactWriteItems', pass: false });
  });

  it('judges bundles on size and the tenant quota on its worst run', () => {
    const runs = [syntheticRun(1), syntheticRun(1), syntheticRun(1)];
    runs.forEach((r, i) => {
      r.tenantQuota = { tenantAErrorRate: 0.9, tenantBErrorRate: i === 2 ? 0.001 : 0 };
    });
    const v = verdicts(aggregate(runs), GOALS);
    expect(v.find((x) => x.goal.startsWith('ApiContacts:'))).toMatchObject({ pass: false });
    expect(v.find((x) => x.goal.startsWith('ApiDocs:'))).toMatchObject({ pass: true });
    // The median run saw no error, but one run did: missed.
    expect(v.find((x) => x.goal.startsWith('tenant B'))).toMatchObject({ value: '0', pass: false });
    expect(verdicts(aggregate([syntheticRun(1)]), GOALS).some((x) => x.goal.startsWith('tenant B'))).toBe(false);
  });
});

describe('verdicts: sales and assignment', () => {
  const byGoal = (runs: ReturnType<typeof syntheticRun>[]) =>
    Object.fromEntries(verdicts(aggregate(runs), GOALS).map((v) => [v.goal, v]));

  it('judges convert-lead and move-stage against the raw TransactWriteItems on the median run, errors missing', () => {
    const v = byGoal([syntheticRun(1), syntheticRun(0.8), syntheticRun(0.7)]);
    // convert ratios 0.6, 0.48, 0.42: the median 0.48 misses; move stays at 0.75.
    expect(v['convert lead: API throughput >= 0.5 x raw TransactWriteItems']).toMatchObject({
      value: '0.48',
      pass: false,
    });
    expect(v['move stage: API throughput >= 0.5 x raw TransactWriteItems']).toMatchObject({ pass: true });
    const failing = [syntheticRun(1)];
    failing[0]!.sales!.moveStage.api.errors = 3;
    expect(byGoal(failing)['move stage: API throughput >= 0.5 x raw TransactWriteItems']).toMatchObject({
      pass: false,
    });
  });

  it('holds the board to GetItem + one Query per stage and the next page to one Query, in every run', () => {
    const ok = byGoal([syntheticRun(1), syntheticRun(1)]);
    expect(ok['board: DynamoDB requests = GetItem + one Query per stage (6)']).toMatchObject({
      value: '7',
      pass: true,
    });
    expect(ok['board next page: DynamoDB requests = Query']).toMatchObject({ pass: true });
    const runs = [syntheticRun(1), syntheticRun(1)];
    runs[1]!.sales!.board.boardRequests.asExpected = false;
    runs[0]!.sales!.board.seededAsApi = false;
    const v = byGoal(runs);
    expect(v['board: DynamoDB requests = GetItem + one Query per stage (6)']).toMatchObject({ pass: false });
    expect(
      v['board: the API read the deals the raw Queries did, from deals seeded as the API writes them'],
    ).toMatchObject({ pass: false });
  });

  it('has no sales or assignment goals when they were not measured', () => {
    const run = syntheticRun(1);
    delete run.sales;
    const goals = verdicts(aggregate([run]), GOALS).map((v) => v.goal);
    expect(goals.some((g) => /convert lead|move stage|board|assignment/.test(g))).toBe(false);
  });

  it('judges assignment fairness on its worst run, both counts, with no failed create', () => {
    const goal = 'assignment: max - min per member after 1000 concurrent creates = 0';
    const runs = [syntheticRun(1), syntheticRun(1), syntheticRun(1)];
    runs.forEach((r) => {
      r.assignmentFairness = syntheticAssignment(0);
    });
    expect(byGoal(runs)[goal]).toMatchObject({ value: '0', pass: true });
    runs[2]!.assignmentFairness!.storedMaxMinusMin = 1;
    expect(byGoal(runs)[goal]).toMatchObject({ pass: false });
    runs[2]!.assignmentFairness = { ...syntheticAssignment(0), failed: 1, assigned: 999 };
    expect(byGoal(runs)[goal]).toMatchObject({ pass: false });
    // A create that succeeded but got no member as its owner is a miss too.
    runs[2]!.assignmentFairness = { ...syntheticAssignment(0), assigned: 999 };
    expect(byGoal(runs)[goal]).toMatchObject({ pass: false });
  });
});

describe('parseBenchArgs', () => {
  it('runs the full suite three times by default', () => {
    expect(parseBenchArgs([])).toEqual({ runs: 3, quick: false });
  });

  it('reads --runs N, --runs=N and --quick', () => {
    expect(parseBenchArgs(['--runs', '5'])).toEqual({ runs: 5, quick: false });
    expect(parseBenchArgs(['--quick', '--runs=1'])).toEqual({ runs: 1, quick: true });
  });

  it('refuses a bad run count and unknown options', () => {
    expect(() => parseBenchArgs(['--runs'])).toThrow(/whole number/);
    expect(() => parseBenchArgs(['--runs', '0'])).toThrow(/whole number/);
    expect(() => parseBenchArgs(['--runs', '2.5'])).toThrow(/whole number/);
    expect(() => parseBenchArgs(['--fast'])).toThrow(/unknown option --fast/);
  });

  it('reads --only campaign (and --only=campaign), refusing other sections', () => {
    expect(parseBenchArgs(['--only', 'campaign'])).toEqual({ runs: 3, quick: false, only: 'campaign' });
    expect(parseBenchArgs(['--quick', '--only=campaign'])).toEqual({ runs: 3, quick: true, only: 'campaign' });
    expect(() => parseBenchArgs(['--only'])).toThrow(/--only takes one of campaign/);
    expect(() => parseBenchArgs(['--only', 'sales'])).toThrow(/not sales/);
  });
});
