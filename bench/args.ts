/**
 * `npm run bench -- [--runs N] [--quick] [--only campaign]`: how many runs of the suite, full or small sizes, and
 * whether to run only one section (the campaign benchmark, bench/campaign.ts, otherwise run once after the suite).
 */
export interface BenchArgs {
  runs: number;
  quick: boolean;
  only?: 'campaign';
}

export const ONLY_SECTIONS = ['campaign'] as const;

export const DEFAULT_RUNS = 3;

export function parseBenchArgs(argv: string[]): BenchArgs {
  const args: BenchArgs = { runs: DEFAULT_RUNS, quick: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') args.quick = true;
    else if (arg === '--runs' || arg.startsWith('--runs=')) {
      const value = arg.includes('=') ? arg.slice('--runs='.length) : argv[++i];
      const runs = Number(value);
      if (!Number.isInteger(runs) || runs < 1 || runs > 20) {
        throw new Error(`--runs takes a whole number from 1 to 20, not ${value ?? 'nothing'}`);
      }
      args.runs = runs;
    } else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg.includes('=') ? arg.slice('--only='.length) : argv[++i];
      if (!ONLY_SECTIONS.includes(value as never)) {
        throw new Error(`--only takes one of ${ONLY_SECTIONS.join(', ')}, not ${value ?? 'nothing'}`);
      }
      args.only = value as BenchArgs['only'];
    } else throw new Error(`unknown option ${arg} (usage: npm run bench -- [--runs N] [--quick] [--only campaign])`);
  }
  return args;
}
