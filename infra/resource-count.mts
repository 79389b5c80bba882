/**
 * Prints the CRM stack's CloudFormation resources by type and the total against the 500-per-stack limit:
 * `npx tsx infra/resource-count.mts [template-out.json]`. Synthesizes in-process without bundling and without the
 * CloudFormation schema check (cdk-nag still runs); the optional argument saves the template, e.g. to diff two
 * branches' templates.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthesize } from './synth.ts';

process.env.CDK_VALIDATION = 'false';
const outdir = mkdtempSync(join(tmpdir(), 'crm-resource-count-'));
try {
  const { template } = await synthesize({ outdir, bundle: false });
  const byType = new Map<string, number>();
  for (const resource of Object.values(template.Resources)) {
    byType.set(resource.Type, (byType.get(resource.Type) ?? 0) + 1);
  }
  for (const [type, count] of [...byType].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
    console.log(`${String(count).padStart(4)}  ${type}`);
  }
  console.log(`${String(Object.keys(template.Resources).length).padStart(4)}  total (CloudFormation allows 500)`);
  const save = process.argv[2];
  if (save) writeFileSync(save, `${JSON.stringify(template, null, 1)}\n`);
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
