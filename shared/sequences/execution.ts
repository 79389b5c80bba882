import { createHash } from 'node:crypto';

/**
 * The Step Functions execution name of an enrolment's run: deterministic (so starting it twice is refused as
 * ExecutionAlreadyExists), within the 80 characters and alphabet names allow, and naming no tenant or contact id
 * (execution names are visible in the console and logs).
 */
export function executionName(run: { tenantId: string; sequenceId: string; contactId: string; run: number }): string {
  const digest = createHash('sha256')
    .update(`${run.tenantId}\n${run.sequenceId}\n${run.contactId}\n${run.run}`)
    .digest('base64url')
    .slice(0, 43);
  return `seq-${digest}-r${run.run}`;
}
