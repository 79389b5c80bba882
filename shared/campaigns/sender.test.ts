import type { SendEmailCommand } from '@aws-sdk/client-sesv2';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type MarketingContactFixture,
  putContacts,
  putSegment,
  putSubscriptionCategories,
  putTemplate,
} from '../../test/support/campaigns.ts';
import { uniqueTenant } from '../../test/support/factories.ts';
import { useFreshTable } from '../../test/support/table.ts';
import { TokenBucket } from './rate.ts';

type Sender = typeof import('./sender.ts');
let sender: Sender;
let model: typeof import('../db/store.ts').model;
let campaignKeys: typeof import('../db/keys.ts').campaignKeys;
let suppressAddress: typeof import('../suppression/store.ts').suppressAddress;
let readCampaign: typeof import('./service.ts').readCampaign;
let sumStats: typeof import('./stats.ts').sumStats;

beforeAll(async () => {
  await useFreshTable();
  process.env.PUBLIC_API_URL = 'https://public.crm.example';
  process.env.MARKETING_MAIL_DOMAIN = 'crm.local';
  process.env.MARKETING_CONFIGURATION_SET = 'crm-marketing';
  sender = await import('./sender.ts');
  ({ model } = await import('../db/store.ts'));
  ({ campaignKeys } = await import('../db/keys.ts'));
  ({ suppressAddress } = await import('../suppression/store.ts'));
  ({ readCampaign } = await import('./service.ts'));
  ({ sumStats } = await import('./stats.ts'));
});

interface Sent {
  to: string;
  command: SendEmailCommand['input'];
}

/** SES as the sender sees it: records each message; `fail` decides per call to throw instead. */
function fakeSes(fail?: (to: string, attempt: number) => Error | undefined) {
  const sent: Sent[] = [];
  const attempts = new Map<string, number>();
  let n = 0;
  return {
    sent,
    send: async (command: SendEmailCommand) => {
      const to = command.input.Destination!.ToAddresses![0]!;
      const attempt = (attempts.get(to) ?? 0) + 1;
      attempts.set(to, attempt);
      const error = fail?.(to, attempt);
      if (error) throw error;
      sent.push({ to, command: command.input });
      return { MessageId: `ses-${++n}` };
    },
  };
}

const throttle = () =>
  Object.assign(new Error('Maximum sending rate exceeded.'), {
    name: 'TooManyRequestsException',
    $fault: 'client',
    $metadata: { httpStatusCode: 429 },
  });

function deps(ses: ReturnType<typeof fakeSes>, extra: Partial<import('./sender.ts').SendDeps> = {}) {
  return {
    ses,
    bucket: new TokenBucket(1000),
    concurrency: 4,
    backoff: { attempts: 3, baseMs: 1, maxMs: 5 },
    ...extra,
  };
}

/** A campaign as the API would leave it scheduled for `run`. */
async function putCampaign(
  tenantId: string,
  campaignId: string,
  audience: Partial<Record<'segmentIds' | 'listIds' | 'excludeSegmentIds' | 'excludeListIds', string[]>>,
  extra: Record<string, unknown> = {},
) {
  const now = new Date().toISOString();
  const item = {
    tenantId,
    campaignId,
    name: 'Newsletter',
    sortName: 'newsletter',
    status: 'scheduled',
    audience: { segmentIds: [], listIds: [], excludeSegmentIds: [], excludeListIds: [], ...audience },
    templateId: 'tpl',
    categoryId: 'news',
    from: { address: 'news@crm.local', name: 'Acme News' },
    replyTo: 'hello@crm.local',
    run: 1,
    sendAt: now,
    version: 1,
    createdAt: now,
    updatedAt: now,
    ...extra,
  };
  await model.entities.campaign.put({ ...item, ...campaignKeys(item) } as never).go();
}

async function setStatus(tenantId: string, campaignId: string, changes: Record<string, unknown>) {
  const c = (await readCampaign(tenantId, campaignId))!;
  const next = { ...c, ...changes, version: c.version + 1 };
  await model.entities.campaign.put({ ...next, ...campaignKeys(next as never) } as never).go();
}

async function ledger(tenantId: string, campaignId: string) {
  const { data } = await model.entities.campaignRecipient.query
    .byRecipient({ tenantId, campaignId })
    .go({ pages: 'all' });
  return Object.fromEntries(data.map((r) => [r.email, r]));
}

/** The audience of most tests: who should get mail and why the others do not. */
const AUDIENCE: MarketingContactFixture[] = [
  { contactId: 'c01', email: 'Ann@Example.com', firstName: 'Ann', consent: 'granted' },
  { contactId: 'c02', email: 'bob@example.com', firstName: 'Bob', consent: 'granted' },
  { contactId: 'c03', email: 'cat@example.com', consent: 'pending' },
  { contactId: 'c04', email: 'dan@example.com', consent: 'withdrawn' },
  {
    contactId: 'c05',
    email: 'eve@example.com',
    consent: 'granted',
    subscriptions: { news: { status: 'unsubscribed' } },
  },
  { contactId: 'c06', email: 'fay@example.com', consent: 'granted' }, // suppressed
  { contactId: 'c07', email: 'gus@example.com', consent: 'granted' }, // excluded
  { contactId: 'c08', email: 'ann@example.com', firstName: 'Annie', consent: 'granted' }, // Ann's address
  { contactId: 'c09', consent: 'granted' }, // no address
  { contactId: 'c10', email: 'ida@example.com', consent: 'granted', deletedAt: '2026-01-01T00:00:00.000Z' },
  { contactId: 'c12', email: 'jo@example.com', firstName: 'Jo', consent: 'granted' },
];
const MEMBERS = [...AUDIENCE.map((c) => c.contactId), 'c11-missing'];
const MAILED = ['ann@example.com', 'bob@example.com', 'jo@example.com'];

async function audienceTenant() {
  const t = uniqueTenant('send');
  await putContacts(t, AUDIENCE);
  await putSegment(t, 'seg', 'dynamic', MEMBERS.slice(0, 6));
  await putSegment(t, 'list', 'static', MEMBERS.slice(4)); // c05, c06 in both
  await putSegment(t, 'vip-out', 'static', ['c07']);
  await putSubscriptionCategories(t, ['news']);
  await putTemplate(t, 'tpl', {
    subject: 'News for {{ contact.firstName | default: "you" }}',
    html: '<p>Hello {{ contact.firstName | default: "there" }}</p><a href="{{ unsubscribeUrl }}">unsubscribe</a>',
    text: 'Hello {{ contact.firstName | default: "there" }}',
  });
  await suppressAddress(t, { email: 'FAY@example.com', reason: 'hard_bounce' });
  return t;
}

/** Runs the workflow's steps as the state machine would, for one execution. */
async function runToEnd(state: import('./sender.ts').RunInput, d: ReturnType<typeof deps>, budget = { maxMs: 60_000 }) {
  const started = await sender.startRun(state);
  if (!started.proceed) return started;
  let s = started;
  for (let i = 0; i < 100 && !s.done; i++) s = await sender.sendBatch(s, d, budget);
  return s.outcome === 'finished' ? sender.finishRun(s) : s;
}

describe('campaign sender', () => {
  it('mails each eligible address once and records everyone else in the ledger with the reason', async () => {
    const t = await audienceTenant();
    await putCampaign(t, 'cmp', { segmentIds: ['seg'], listIds: ['list'], excludeListIds: ['vip-out'] });
    const ses = fakeSes();
    const end = await runToEnd({ tenantId: t, campaignId: 'cmp', run: 1, execution: 'e1' }, deps(ses));
    expect(end.outcome).toBe('sent');

    expect(ses.sent.map((s) => s.to).sort()).toEqual(MAILED);
    const ann = ses.sent.find((s) => s.to === 'ann@example.com')!.command;
    expect(ann.FromEmailAddress).toBe('"Acme News" <news@crm.local>');
    expect(ann.ReplyToAddresses).toEqual(['hello@crm.local']);
    expect(ann.ConfigurationSetName).toBe('crm-marketing');
    expect(ann.Content?.Simple?.Subject?.Data).toBe('News for Ann');
    expect(ann.Content?.Simple?.Body?.Html?.Data).toContain('<p>Hello Ann</p>');
    const headers = Object.fromEntries(ann.Content!.Simple!.Headers!.map((h) => [h.Name, h.Value]));
    expect(headers['List-Unsubscribe']).toMatch(/^<https:\/\/public\.crm\.example\/v1\/unsubscribe\/[\w-]+\.[\w-]+>$/);
    expect(headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    expect(ann.Content?.Simple?.Body?.Html?.Data).toContain(headers['List-Unsubscribe']!.slice(1, -1));
    expect(Object.fromEntries(ann.EmailTags!.map((tag) => [tag.Name, tag.Value]))).toEqual({
      tenantId: t,
      campaignId: 'cmp',
      contactId: 'c01',
      recipient: Buffer.from('ann@example.com').toString('base64url'),
    });

    const entries = await ledger(t, 'cmp');
    const view = Object.fromEntries(
      Object.values(entries).map((r) => [r.email, r.state === 'skipped' ? `skipped:${r.reason}` : r.state]),
    );
    expect(view).toEqual({
      'ann@example.com': 'sent',
      'bob@example.com': 'sent',
      'jo@example.com': 'sent',
      'cat@example.com': 'skipped:unconsented',
      'dan@example.com': 'skipped:unsubscribed',
      'eve@example.com': 'skipped:unsubscribed',
      'fay@example.com': 'skipped:suppressed',
      'gus@example.com': 'skipped:excluded',
      'ida@example.com': 'skipped:deleted',
      'contact:c09': 'skipped:no_email',
      'contact:c11-missing': 'skipped:deleted',
    });
    expect(entries['ann@example.com']).toMatchObject({ contactId: 'c01', run: 1, sesMessageId: expect.any(String) });
    expect(await sumStats(t, 'cmp')).toEqual({
      recipients: 11,
      sent: 3,
      skipped_unconsented: 1,
      skipped_unsubscribed: 2,
      skipped_suppressed: 1,
      skipped_excluded: 1,
      skipped_deleted: 2,
      skipped_no_email: 1,
    });
    const campaign = (await readCampaign(t, 'cmp'))!;
    expect(campaign).toMatchObject({ status: 'sent', executionName: 'e1', progress: { done: true } });
    expect(campaign.content).toMatchObject({ subject: 'News for {{ contact.firstName | default: "you" }}' });
  });

  it('a retried page and a redelivered start send nobody twice and count nothing twice', async () => {
    const t = await audienceTenant();
    await putCampaign(t, 'cmp', { segmentIds: ['seg'], listIds: ['list'], excludeListIds: ['vip-out'] });
    const ses = fakeSes();
    const state = { tenantId: t, campaignId: 'cmp', run: 1, execution: 'e1' };
    expect((await sender.startRun(state)).proceed).toBe(true);
    // A retried Start of the same execution owns it still; another execution of the same run does not.
    expect((await sender.startRun(state)).proceed).toBe(true);
    expect(await sender.startRun({ ...state, execution: 'e-dup' })).toMatchObject({ proceed: false });
    const campaign = (await readCampaign(t, 'cmp'))!;
    const first = await sender.sendPage(campaign, MEMBERS, deps(ses), 1);
    expect(first).toMatchObject({ sent: 3, skipped: 8, repeated: 1 }); // ann twice (c01, c08)
    const again = await sender.sendPage(campaign, MEMBERS, deps(ses), 1);
    expect(again).toEqual({ sent: 0, failed: 0, skipped: 0, repeated: 12 });
    expect(ses.sent).toHaveLength(3);
    expect((await sumStats(t, 'cmp')).recipients).toBe(11);
  });

  it('pauses between pages and resumes as a new run from where it stopped, mailing nobody twice', async () => {
    const t = uniqueTenant('send');
    const contacts = Array.from({ length: 12 }, (_, i) => ({
      contactId: `p${String(i).padStart(2, '0')}`,
      email: `p${i}@example.com`,
      consent: 'granted' as const,
    }));
    await putContacts(t, contacts);
    await putSegment(
      t,
      'seg',
      'dynamic',
      contacts.map((c) => c.contactId),
    );
    await putTemplate(t, 'tpl');
    await putCampaign(t, 'cmp', { segmentIds: ['seg'] }, { categoryId: undefined });
    const ses = fakeSes();
    const d = deps(ses, { pageSize: 5 });
    const run1 = { tenantId: t, campaignId: 'cmp', run: 1, execution: 'e1' };
    const s1 = await sender.startRun(run1);
    // A budget of 0: one page per batch.
    const b1 = await sender.sendBatch(s1, d, { maxMs: 0 });
    expect(b1.done).toBe(false);
    expect(ses.sent).toHaveLength(5);
    await setStatus(t, 'cmp', { status: 'paused' });
    expect(await sender.sendBatch(b1, d, { maxMs: 0 })).toMatchObject({ done: true, outcome: 'paused' });
    expect(ses.sent).toHaveLength(5);
    expect((await readCampaign(t, 'cmp'))!.progress).toMatchObject({ source: 0, cursor: expect.any(String) });

    // Resume: run 2 (what POST .../resume writes); the old execution may not go on.
    await setStatus(t, 'cmp', { status: 'sending', run: 2 });
    const run2 = { ...run1, run: 2, execution: 'e2' };
    expect(await sender.startRun(run1)).toMatchObject({ proceed: false });
    const end = await runToEnd(run2, d, { maxMs: 0 });
    expect(end.outcome).toBe('sent');
    expect(await sender.sendBatch(b1, d, { maxMs: 0 })).toMatchObject({ done: true, outcome: 'superseded' });
    expect(ses.sent.map((s) => s.to).sort()).toEqual(contacts.map((c) => c.email).sort());
    const entries = await ledger(t, 'cmp');
    expect(Object.values(entries).filter((r) => r.run === 2)).toHaveLength(7);
    expect(await sumStats(t, 'cmp')).toEqual({ recipients: 12, sent: 12 });
  });

  it('flows sends across pages, yet never saves progress past a page whose send was interrupted', async () => {
    const t = uniqueTenant('flow');
    const contacts = Array.from({ length: 12 }, (_, i) => ({
      contactId: `q${String(i).padStart(2, '0')}`,
      email: `q${i}@example.com`,
      consent: 'granted' as const,
    }));
    await putContacts(t, contacts);
    await putSegment(
      t,
      'seg',
      'dynamic',
      contacts.map((c) => c.contactId),
    );
    await putTemplate(t, 'tpl');
    await putCampaign(t, 'cmp', { segmentIds: ['seg'] }, { categoryId: undefined });
    // Pages of 3 (q00-q02, q03-q05, ...): q04 in the second page is throttled past its retries while it is slow, so
    // the third page's sends, started meanwhile on the free lanes, finish before the second page is known to fail.
    let blocked = true;
    const slow = new Set(['q4@example.com']);
    const ses = fakeSes((to) => (to === 'q4@example.com' && blocked ? throttle() : undefined));
    const slowSes = {
      ...ses,
      send: async (command: SendEmailCommand) => {
        if (slow.has(command.input.Destination!.ToAddresses![0]!)) await new Promise((r) => setTimeout(r, 150));
        return ses.send(command);
      },
    };
    const d = { ...deps(ses), ses: slowSes, pageSize: 3, concurrency: 6 };
    const run = { tenantId: t, campaignId: 'cmp', run: 1, execution: 'e1' };
    const started = await sender.startRun(run);
    await expect(sender.sendBatch(started, d, { maxMs: 60_000 })).rejects.toThrow(sender.SendInterruptedError);
    const mailed = ses.sent.map((s) => s.to);
    expect(mailed).not.toContain('q4@example.com');
    expect(mailed.some((to) => ['q6@example.com', 'q7@example.com', 'q8@example.com'].includes(to))).toBe(true);
    // Progress stands at the second page (after the first), never past it.
    const progress = (await readCampaign(t, 'cmp'))!.progress!;
    expect(progress.done).toBeFalsy();
    const firstPage = await model.entities.segmentMember.query
      .byMember({ tenantId: t, segmentId: 'seg' })
      .go({ limit: 3 });
    expect(progress).toMatchObject({ source: 0, cursor: firstPage.cursor });

    blocked = false;
    let s = started;
    for (let i = 0; i < 20 && !s.done; i++) s = await sender.sendBatch(s, d, { maxMs: 60_000 });
    expect(s.outcome).toBe('finished');
    expect(ses.sent.map((x) => x.to).sort()).toEqual(contacts.map((c) => c.email).sort());
    expect(await sumStats(t, 'cmp')).toEqual({ recipients: 12, sent: 12 });
  });

  it('retries throttles with backoff; past the retries it gives the claim back and the redone page sends it', async () => {
    const t = await audienceTenant();
    await putCampaign(t, 'cmp', { segmentIds: ['seg'], listIds: ['list'], excludeListIds: ['vip-out'] });
    await sender.startRun({ tenantId: t, campaignId: 'cmp', run: 1, execution: 'e1' });
    const campaign = (await readCampaign(t, 'cmp'))!;
    // bob: throttled twice, then sent. jo: throttled every time in the first attempt of the page.
    let joBlocked = true;
    const ses = fakeSes((to, attempt) =>
      (to === 'bob@example.com' && attempt <= 2) || (to === 'jo@example.com' && joBlocked) ? throttle() : undefined,
    );
    await expect(sender.sendPage(campaign, MEMBERS, deps(ses), 1)).rejects.toThrow(sender.SendInterruptedError);
    expect(ses.sent.map((s) => s.to).sort()).toEqual(['ann@example.com', 'bob@example.com']);
    expect((await ledger(t, 'cmp'))['jo@example.com']).toBeUndefined();
    joBlocked = false;
    const redone = await sender.sendPage(campaign, MEMBERS, deps(ses), 1);
    expect(redone.sent).toBe(1);
    expect(ses.sent.map((s) => s.to).sort()).toEqual(MAILED);
    expect((await sumStats(t, 'cmp')).sent).toBe(3);
    expect((await sumStats(t, 'cmp')).recipients).toBe(11);
  });

  it('a send whose answer was lost stays claimed and is never sent again; a refusal is failed and counted', async () => {
    const t = await audienceTenant();
    await putCampaign(t, 'cmp', { segmentIds: ['seg'], listIds: ['list'], excludeListIds: ['vip-out'] });
    await sender.startRun({ tenantId: t, campaignId: 'cmp', run: 1, execution: 'e1' });
    const campaign = (await readCampaign(t, 'cmp'))!;
    let lose = true;
    const ses = fakeSes((to) => {
      if (to === 'bob@example.com' && lose) return Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
      if (to === 'jo@example.com') {
        return Object.assign(new Error('Email address is not verified.'), {
          name: 'MessageRejected',
          $fault: 'client',
          $metadata: { httpStatusCode: 400 },
        });
      }
      return undefined;
    });
    await expect(sender.sendPage(campaign, MEMBERS, deps(ses), 1)).rejects.toThrow(/answer was lost/);
    lose = false;
    const redone = await sender.sendPage(campaign, MEMBERS, deps(ses), 1);
    expect(redone.sent).toBe(0);
    expect(ses.sent.map((s) => s.to)).toEqual(['ann@example.com']);
    const entries = await ledger(t, 'cmp');
    expect(entries['bob@example.com']).toMatchObject({ state: 'claimed', run: 1 });
    expect(entries['jo@example.com']).toMatchObject({ state: 'failed', error: 'Email address is not verified.' });
    expect(await sumStats(t, 'cmp')).toMatchObject({ recipients: 11, sent: 1, failed: 1 });
  });

  it('claims an address only once its token of the rate is in hand: a crash leaves in doubt only SES calls', async () => {
    const t = await audienceTenant();
    await putCampaign(t, 'cmp', { segmentIds: ['seg'], listIds: ['list'], excludeListIds: ['vip-out'] });
    await sender.startRun({ tenantId: t, campaignId: 'cmp', run: 1, execution: 'e1' });
    const campaign = (await readCampaign(t, 'cmp'))!;
    // Virtual time that stands still until released: the bucket's first token is free, the others wait.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const clock = {
      t: 0,
      now: () => clock.t,
      sleep: async (ms: number) => {
        await released;
        clock.t += ms;
      },
    };
    const ses = fakeSes();
    const page = sender.sendPage(
      campaign,
      MEMBERS,
      deps(ses, { bucket: new TokenBucket(1, clock), clock, concurrency: 4 }),
      1,
    );
    const settled = async () => Object.values(await ledger(t, 'cmp')).filter((r) => r.state === 'sent').length;
    await expect.poll(settled, { timeout: 20_000 }).toBe(1);
    // The other two lanes wait for the rate meanwhile (whichever rendered first got the one token): no claim yet.
    const waiting = await ledger(t, 'cmp');
    expect(ses.sent).toHaveLength(1);
    expect(Object.values(waiting).filter((r) => r.state === 'claimed')).toEqual([]);
    expect(Object.values(waiting).filter((r) => r.state === 'sent')).toHaveLength(1);
    release();
    expect(await page).toMatchObject({ sent: 3 });
    expect(ses.sent.map((s) => s.to).sort()).toEqual(MAILED);
  });

  it('counts sent once when tracking’s Send event moved the claim first', async () => {
    const t = await audienceTenant();
    await putCampaign(t, 'cmp', { segmentIds: ['seg'] }, { categoryId: undefined });
    await sender.startRun({ tenantId: t, campaignId: 'cmp', run: 1, execution: 'e1' });
    const campaign = (await readCampaign(t, 'cmp'))!;
    const { statsAdd } = await import('../tracking/apply.ts');
    const { campaignStatsShard } = await import('../tracking/ses-events.ts');
    const ses = fakeSes();
    const racing = {
      send: async (command: SendEmailCommand) => {
        const answer = await ses.send(command);
        const email = command.input.Destination!.ToAddresses![0]!;
        // What the tracking consumer does with a Send event that arrives before SES's answer.
        await model.transaction
          .write(() => [
            (
              model.entities.campaignRecipient
                .patch({ tenantId: t, campaignId: 'cmp', email })
                .set({ state: 'sent', sesMessageId: answer.MessageId!, sentAt: new Date().toISOString() })
                .where((attr, op) => op.eq(attr.state, 'claimed')) as unknown as { commit: () => never }
            ).commit(),
            statsAdd(t, 'cmp', campaignStatsShard(email), { sent: 1 }) as never,
          ])
          .go();
        return answer;
      },
    };
    await sender.sendPage(campaign, MEMBERS.slice(0, 6), { ...deps(ses), ses: racing }, 1);
    // Without a category, eve (unsubscribed from "news" only) is mailed too.
    expect(ses.sent.map((s) => s.to).sort()).toEqual(['ann@example.com', 'bob@example.com', 'eve@example.com']);
    expect((await sumStats(t, 'cmp')).sent).toBe(3);
  });

  it('fails a campaign whose template was deleted or broken before the start, and records failures', async () => {
    const t = await audienceTenant();
    await putTemplate(t, 'tpl', { deletedAt: new Date().toISOString() });
    await putCampaign(t, 'cmp', { segmentIds: ['seg'] });
    const started = await sender.startRun({ tenantId: t, campaignId: 'cmp', run: 1, execution: 'e1' });
    expect(started).toMatchObject({ proceed: false, outcome: 'failed' });
    expect(await readCampaign(t, 'cmp')).toMatchObject({ status: 'failed', failure: expect.stringMatching(/deleted/) });
    // A stale schedule (an older run) starts nothing.
    await putCampaign(t, 'cmp2', { segmentIds: ['seg'] }, { run: 3 });
    expect(await sender.startRun({ tenantId: t, campaignId: 'cmp2', run: 2, execution: 'e' })).toMatchObject({
      proceed: false,
      outcome: 'stale',
    });
    // Fail records the cause for the execution that owns the send.
    await putTemplate(t, 'tpl');
    await sender.startRun({ tenantId: t, campaignId: 'cmp2', run: 3, execution: 'e3' });
    const failed = await sender.failRun({
      tenantId: t,
      campaignId: 'cmp2',
      run: 3,
      execution: 'e3',
      error: { Error: 'CampaignSendInterrupted', Cause: 'SES kept throttling' },
    });
    expect(failed.outcome).toBe('failed');
    expect(await readCampaign(t, 'cmp2')).toMatchObject({
      status: 'failed',
      failure: 'CampaignSendInterrupted: SES kept throttling',
    });
  });
});
