import { model } from '../db/store.ts';

/**
 * A campaign's counters (CampaignStatsEntity): CAMPAIGN_STATS_SHARDS items, each changed only by ADD, so concurrent
 * senders and tracking events do not contend on one item. The sender and tracking ADD on the address's shard
 * (`campaignStatsShard`, shared/tracking/ses-events.ts); reading sums them.
 */

/** The counters summed over the shards: one Query of the campaign partition's stats items. */
export async function sumStats(tenantId: string, campaignId: string): Promise<Record<string, number>> {
  const { data } = await model.entities.campaignStats.query
    .byShard({ tenantId, campaignId })
    .go({ pages: 'all', consistent: true });
  const totals: Record<string, number> = {};
  for (const shard of data) {
    for (const [name, value] of Object.entries((shard.counts ?? {}) as Record<string, number>)) {
      totals[name] = (totals[name] ?? 0) + Number(value);
    }
  }
  return totals;
}
