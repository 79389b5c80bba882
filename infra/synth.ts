import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildCrmApp, withoutBundlingNotices } from './app.ts';
import { PROJECT_ROOT } from './constructs/crm-function.ts';
import type { CrmStack } from './crm-stack.ts';
import type { CfnTemplate } from './local/types.ts';

export interface SynthesizeOptions {
  /** The cloud assembly directory (cdk.out). */
  outdir: string;
  /** false skips esbuild bundling (assets are then empty placeholders): for tests that only read the template. */
  bundle: boolean;
  /** Extra context on top of cdk.json's, e.g. { allowedOrigins: 'https://app.example.com' }. */
  context?: Record<string, unknown>;
}

export interface SynthesizedStack {
  template: CfnTemplate;
  /** Where the assembly was written; the template's `aws:asset:path` metadata is relative to it. */
  assemblyDir: string;
  stackName: string;
  /** The stack's template file. */
  templatePath: string;
}

/** cdk.json's context block: the same feature flags `cdk synth` uses, typed nowhere else. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context?: object };
  return { ...cdkJson.context };
}

/**
 * Builds the CRM app as `cdk synth` does (same stack, same context as cdk.json, same cdk-nag checks) without
 * synthesizing it yet. Bundling (bundle=true) runs the local esbuild while the functions are constructed.
 */
export function createCrmApp(opts: SynthesizeOptions): { app: App; stack: CrmStack } {
  const app = new App({
    outdir: opts.outdir,
    autoSynth: false,
    // The built-in CloudFormation schema check costs seconds per start and only warns; `cdk synth` still runs it.
    builtinCloudFormationValidation: false,
    context: {
      ...cdkJsonContext(),
      // What the CLI turns on: the local cloud finds each function's bundle through `aws:asset:path`.
      'aws:cdk:enable-asset-metadata': true,
      ...(opts.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...opts.context,
    },
  });
  return { app, stack: buildCrmApp(app) };
}

/**
 * Synthesizes the CRM app in-process, silently and offline, and returns the stack's template. The local cloud,
 * whole-stack tests and benchmarks use this. cdk-nag runs as in `cdk synth`: an unacknowledged finding throws.
 */
export async function synthesize(opts: SynthesizeOptions): Promise<SynthesizedStack> {
  process.env.CDK_DISABLE_VERSION_CHECK = '1';
  process.env.CDK_DISABLE_CLI_TELEMETRY = 'true';
  // Assets are bundled while the constructs are built, so both steps run muted.
  const { stack, assembly } = withoutBundlingNotices(() => {
    const built = createCrmApp(opts);
    return { stack: built.stack, assembly: built.app.synth() };
  });
  const artifact = assembly.getStackByName(stack.stackName);
  const template = JSON.parse(readFileSync(artifact.templateFullPath, 'utf8')) as CfnTemplate;
  return {
    template,
    assemblyDir: assembly.directory,
    stackName: stack.stackName,
    templatePath: artifact.templateFullPath,
  };
}
