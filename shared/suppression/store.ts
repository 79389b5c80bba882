import { suppressionIndex } from '../db/keys.ts';
import { model } from '../db/store.ts';

/**
 * The tenant's suppression list (SuppressionEntity), as the senders and the tracking consumer use it. An address is
 * compared lower-cased.
 */
export type SuppressionReason = 'hard_bounce' | 'complaint' | 'manual';

/** The addresses among `emails` that are suppressed: BatchGetItem, 100 keys per request. */
export async function suppressedAmong(tenantId: string, emails: readonly string[]): Promise<Set<string>> {
  const unique = [...new Set(emails.map((e) => e.toLowerCase()))];
  const suppressed = new Set<string>();
  for (let i = 0; i < unique.length; i += 100) {
    const keys = unique.slice(i, i + 100).map((email) => ({ tenantId, email }));
    const { data, unprocessed } = await model.entities.suppression.get(keys).go({ attributes: ['email'] });
    if (unprocessed.length > 0) throw new Error(`suppression check: ${unprocessed.length} keys unprocessed`);
    for (const item of data) suppressed.add(item.email);
  }
  return suppressed;
}

export interface SuppressionEntry {
  email: string;
  reason: SuppressionReason;
  source?: string;
  detail?: string;
  createdBy?: string;
}

/** The item of a new entry (address lower-cased, bounded texts, the list's gsi4 keys: newest first). */
export function suppressionItem(tenantId: string, entry: SuppressionEntry, suppressedAt = new Date().toISOString()) {
  const email = entry.email.toLowerCase();
  return {
    tenantId,
    email,
    reason: entry.reason,
    suppressedAt,
    ...(entry.source ? { source: entry.source.slice(0, 200) } : {}),
    ...(entry.detail ? { detail: entry.detail.slice(0, 1000) } : {}),
    ...(entry.createdBy ? { createdBy: entry.createdBy } : {}),
    gsi4pk: suppressionIndex.list(tenantId),
    gsi4sk: suppressionIndex.sk(suppressedAt, email),
  };
}

/**
 * Puts an address on the list; the first entry stands (a later bounce of a complained address changes nothing), so a
 * redelivered event writes nothing. Returns whether it was new.
 */
export async function suppressAddress(tenantId: string, entry: SuppressionEntry): Promise<boolean> {
  try {
    await model.entities.suppression.create(suppressionItem(tenantId, entry)).go();
    return true;
  } catch (error) {
    if ((error as { cause?: { name?: string } }).cause?.name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}
