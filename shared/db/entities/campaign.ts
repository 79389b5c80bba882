import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * An email campaign: its audience (segments and lists, with exclusions), template, sender and schedule, and where
 * its send stands. What the send workflow needs to resume (`progress`) is here, never in the workflow's state.
 * Counters live apart (CampaignStatsEntity), so a counter update neither bumps the version nor publishes an event.
 * gsi2: the tenant's campaigns by status; gsi4: by name (and trash).
 */
export const CampaignEntity = new Entity(
  {
    model: { entity: 'campaign', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      campaignId: { type: 'string', required: true, readOnly: true },
      name: { type: 'string', required: true },
      /** The folded name the name index sorts by (shared/db/keys.ts sortableName). */
      sortName: { type: 'string' },
      /** draft | scheduled | sending | paused | sent | cancelled | failed */
      status: { type: 'string', required: true },
      /** { segmentIds, listIds, excludeSegmentIds, excludeListIds } */
      audience: { type: 'any', required: true },
      templateId: { type: 'string', required: true },
      /** The subscription category the mail is sent under (what an unsubscribe from it withdraws). */
      categoryId: { type: 'string' },
      /** { address, name? }: must be within the stack's sender identity. */
      from: { type: 'any', required: true },
      replyTo: { type: 'string' },
      /** { at: local date-time, timeZone } as asked, and the UTC instant it means. */
      schedule: { type: 'any' },
      sendAt: { type: 'string' },
      /** The template as it was when the send started: edits to the template do not change a running campaign. */
      content: { type: 'any' },
      /** The send's cursor: { source: index into the audience's sources, cursor?, done? } (the workflow's resume point). */
      progress: { type: 'any' },
      /** Incremented for each run (start, each resume), naming its Step Functions execution. */
      run: { type: 'number' },
      /**
       * The Step Functions execution that owns the send, and its run, written by its Start step. Only that execution
       * sends and moves `progress`; a duplicate start of the same run, or an older run after a resume, stops.
       */
      executionName: { type: 'string' },
      executionRun: { type: 'number' },
      startedAt: { type: 'string' },
      finishedAt: { type: 'string' },
      cancelledAt: { type: 'string' },
      failure: { type: 'string' },
      deletedAt: { type: 'string' },
      deletedBy: { type: 'string' },
      ...gsiKeyAttributes(['gsi2', 'gsi4']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'campaignId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi2', 'gsi4']),
    },
  },
  {},
);

/**
 * The per-recipient ledger of a campaign, keyed by the lower-cased address in the campaign's partition. It is
 * created (must be new) before the send, so no crash, retry or resumed run mails an address twice, and two contacts
 * sharing an address get one mail. `state`: claimed (being sent: at most once, so a claim whose send's answer was lost
 * stays in doubt until an SES event of its message names it) | sent | failed | skipped (with `reason`).
 * Tracking events (delivery, bounce, complaint, open, click) set their first time here, once.
 */
export const CampaignRecipientEntity = new Entity(
  {
    model: { entity: 'campaignRecipient', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      campaignId: { type: 'string', required: true, readOnly: true },
      email: { type: 'string', required: true, readOnly: true },
      contactId: { type: 'string', required: true },
      state: { type: 'string', required: true },
      /** Why a skipped recipient was not mailed: suppressed | unconsented | unsubscribed | excluded | no_email | deleted. */
      reason: { type: 'string' },
      /** The run that claimed it. */
      run: { type: 'number' },
      claimedAt: { type: 'string' },
      sentAt: { type: 'string' },
      sesMessageId: { type: 'string' },
      error: { type: 'string' },
      deliveredAt: { type: 'string' },
      bouncedAt: { type: 'string' },
      bounceType: { type: 'string' },
      complainedAt: { type: 'string' },
      openedAt: { type: 'string' },
      clickedAt: { type: 'string' },
      /** SES rejected the message (e.g. a virus) after accepting it: it was not delivered (tracking). */
      rejectedAt: { type: 'string' },
      openCount: { type: 'number' },
      clickCount: { type: 'number' },
    },
    indexes: {
      byRecipient: {
        pk: { field: 'pk', composite: ['tenantId', 'campaignId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: ['email'], casing: KEY_CASING },
      },
    },
  },
  {},
);

/** How many counter shards a campaign has: a send at hundreds per second spreads its ADDs over them. */
export const CAMPAIGN_STATS_SHARDS = 8;

/**
 * A campaign's counters, in CAMPAIGN_STATS_SHARDS items of its partition (shard = a hash of the address), each
 * updated with ADD only: reading them is one Query of the partition's stats items, summed.
 */
export const CampaignStatsEntity = new Entity(
  {
    model: { entity: 'campaignStats', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      campaignId: { type: 'string', required: true, readOnly: true },
      shard: { type: 'number', required: true, readOnly: true },
      /** { recipients, sent, failed, skipped_<reason>, delivered, bounced, complained, opened, clicked, ... } */
      counts: { type: 'any' },
    },
    indexes: {
      byShard: {
        pk: { field: 'pk', composite: ['tenantId', 'campaignId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: ['shard'], casing: KEY_CASING },
      },
    },
  },
  {},
);
