/** `npm run bench -- [--runs N] [--quick]`: how many runs of the suite, and full or small sizes. */
export interface BenchArgs {
  runs: number;
  quick: boolean;
}

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
    } else throw new Error(`unknown option ${arg} (usage: npm run bench -- [--runs N] [--quick])`);
  }
  return args;
}
