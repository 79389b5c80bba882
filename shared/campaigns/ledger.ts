import { model } from '../db/store.ts';
import { statsAdd } from '../tracking/apply.ts';
import { campaignStatsShard } from '../tracking/ses-events.ts';

/**
 * The per-recipient ledger (CampaignRecipientEntity) as every marketing sender writes it: campaigns and sequence
 * steps alike (a step's ledger is campaign id `seq-<sequenceId>-<stepId>`). Each write goes in one transaction with
 * its counters on the address's stats shard, so a count is added exactly once per address however often a page or a
 * step is redone. The rule shared with the tracking consumer: whoever moves an item out of `claimed` counts it.
 * The shard must exist first (ensureStatsShard): counters are ADDs into its `counts` map.
 */
export type LedgerKey = {
  tenantId: string;
  campaignId: string;
  /** Lower-cased. */
  email: string;
};

type Op = { commit: () => unknown };
type Where = (fn: (attr: Record<string, unknown>, op: Record<string, (...args: unknown[]) => string>) => string) => Op;
type TransactionResult = { canceled: boolean; data: Array<{ code: string }> };

const transact = (items: unknown[]): Promise<TransactionResult> =>
  (model.transaction.write as unknown as (fn: () => unknown[]) => { go: () => Promise<TransactionResult> })(
    () => items,
  ).go();
const ledgerOps = () =>
  model.entities.campaignRecipient as unknown as {
    create: (item: Record<string, unknown>) => Op;
    patch: (key: Record<string, unknown>) => { set: (values: Record<string, unknown>) => { where: Where } };
    delete: (key: Record<string, unknown>) => { where: Where };
  };
const stats = (key: LedgerKey, counts: Record<string, number>) =>
  statsAdd(key.tenantId, key.campaignId, campaignStatsShard(key.email), counts);

const conditionFailed = (result: TransactionResult) =>
  result.canceled && result.data.some((d) => d.code === 'ConditionalCheckFailed');
function assertCommitted(result: TransactionResult, what: string): void {
  if (result.canceled) throw new Error(`${what}: transaction cancelled (${result.data.map((d) => d.code).join(', ')})`);
}

/**
 * Creates the address's ledger item (it must be new) with `recipients` + `counts`: a claim before a send, or the
 * final record of a skip or a failure. False when the address already has one (a redone page, a restarted run,
 * another contact sharing the address): it is never processed twice.
 */
export async function recordRecipient(
  key: LedgerKey,
  item: Record<string, unknown> & { contactId: string; state: string },
  counts: Record<string, number> = {},
): Promise<boolean> {
  const result = await transact([
    ledgerOps()
      .create({ ...key, ...item })
      .commit(),
    stats(key, { recipients: 1, ...counts }),
  ]);
  if (conditionFailed(result)) return false;
  assertCommitted(result, 'ledger entry');
  return true;
}

/** Moves a claim on (to sent or failed) with its counters, if it is still claimed (tracking may have moved it). */
export async function settleRecipient(
  key: LedgerKey,
  set: Record<string, unknown> & { state: 'sent' | 'failed' },
  counts: Record<string, number>,
): Promise<void> {
  const result = await transact([
    ledgerOps()
      .patch(key)
      .set(set)
      .where((attr, op) => op.eq!(attr.state, 'claimed'))
      .commit(),
    stats(key, counts),
  ]);
  if (!conditionFailed(result)) assertCommitted(result, 'ledger settle');
}

/** Gives a claim of this run back (SES surely did not send: it throttled), so the redone page or step sends it. */
export async function releaseRecipient(key: LedgerKey, run: number): Promise<void> {
  const result = await transact([
    ledgerOps()
      .delete(key)
      .where((attr, op) => `${op.eq!(attr.state, 'claimed')} AND ${op.eq!(attr.run, run)}`)
      .commit(),
    stats(key, { recipients: -1 }),
  ]);
  if (!conditionFailed(result)) assertCommitted(result, 'ledger release');
}
