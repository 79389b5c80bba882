import { randomUUID } from 'node:crypto';
import { model } from '../db/store.ts';
import { logger } from '../observability.ts';
import { type Clock, realClock, type TokenBucket } from './rate.ts';

/** How often a sender renews its entry and looks again at how many senders share the rate. */
export const SHARE_RENEW_MS = 5_000;
/** How long a sender counts after its last renewal: a crashed sender's share goes back to the others after this. */
export const SHARE_LAPSE_MS = 15_000;
/** The pool of the SES rate: the deployment's account quota. */
const SES_POOL = 'ses';

export interface RateShareOptions {
  /** Whose send it is (kept on the entry for an operator). */
  owner?: { tenantId: string; campaignId: string };
  clock?: Clock;
  /** The pool's name (tests keep theirs apart). */
  pool?: string;
}

/**
 * A campaign sender's share of the account's SES rate. SES's sending quota is the AWS account's, so campaigns of any
 * tenants sending at once must keep to it together: while a sender sends, it has an entry in the pool
 * (SendRateShareEntity) and runs its token bucket at the account's rate ÷ the pool's live senders, looking again
 * every SHARE_RENEW_MS. Equal shares, so a second campaign halves the first's rate within seconds and gives it back
 * when it stops; a sender that crashed stops counting after SHARE_LAPSE_MS. Throttling that still happens in the
 * seconds before every sender has looked again is retried with backoff (shared/campaigns/rate.ts).
 */
export class RateShare {
  private timer: NodeJS.Timeout | undefined;
  private readonly senderId = randomUUID();
  private readonly pool: string;
  private readonly clock: Clock;

  private constructor(
    private readonly accountRate: number,
    private readonly bucket: TokenBucket,
    private readonly options: RateShareOptions,
  ) {
    this.pool = options.pool ?? SES_POOL;
    this.clock = options.clock ?? realClock;
  }

  /** Enters the pool, sets the bucket to its share, and keeps both up to date until `leave`. */
  static async join(accountRate: number, bucket: TokenBucket, options: RateShareOptions = {}): Promise<RateShare> {
    const share = new RateShare(accountRate, bucket, options);
    await share.renew();
    share.timer = setInterval(() => {
      share.renew().catch((error: Error) => logger.warn('rate share not renewed', { error: error.message }));
    }, SHARE_RENEW_MS);
    share.timer.unref();
    return share;
  }

  /** Renews this sender's entry, then sets the bucket to the rate ÷ the live senders; returns how many are live. */
  async renew(): Promise<number> {
    const now = this.clock.now();
    const until = now + SHARE_LAPSE_MS;
    await model.entities.sendRateShare
      .put({
        pool: this.pool,
        senderId: this.senderId,
        until,
        ...(this.options.owner ?? {}),
        // Lapsed entries are never counted; the TTL only tidies them away (an hour on).
        expiresAt: Math.ceil(until / 1000) + 3600,
      })
      .go({ response: 'none' });
    const { data } = await model.entities.sendRateShare.query
      .bySender({ pool: this.pool })
      .go({ pages: 'all', attributes: ['senderId', 'until'] });
    const live = Math.max(1, data.filter((sender) => sender.until > now).length);
    this.bucket.setRate(this.accountRate / live);
    return live;
  }

  async leave(): Promise<void> {
    clearInterval(this.timer);
    await model.entities.sendRateShare.delete({ pool: this.pool, senderId: this.senderId }).go({ response: 'none' });
  }
}
