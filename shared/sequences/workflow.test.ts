import { SESv2Client } from '@aws-sdk/client-sesv2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSes, type SentEmail } from '../../infra/local/ses.ts';
import { makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';
import type { SequenceRun, TurnResult } from './workflow.ts';

type Client = ReturnType<typeof apiClient>;
let sequencesAs: Client;
let contactsAs: Client;
let ses: LocalSes;
let turn: (state: SequenceRun, now?: number) => Promise<TurnResult>;
let model: typeof import('../db/store.ts').model;
const tenant = uniqueTenant('seqwf');

beforeAll(async () => {
  await useFreshTable();
  ses = await LocalSes.start({ log: () => {} });
  process.env.AWS_ENDPOINT_URL_SESV2 = ses.endpoint;
  process.env.PUBLIC_API_URL = 'https://forms.example.test';
  process.env.MARKETING_MAIL_DOMAIN = 'acme.example';
  process.env.MARKETING_CONFIGURATION_SET = 'crm-marketing';
  ({ model } = await import('../db/store.ts'));
  const { runTurn } = await import('./workflow.ts');
  const { sendSequenceEmail } = await import('./send.ts');
  const client = new SESv2Client({});
  turn = (state, now) =>
    runTurn(
      {
        send: (mail) => sendSequenceEmail({ ses: client }, mail),
        ...(now !== undefined ? { now: () => now } : {}),
      },
      state,
    );
  sequencesAs = apiClient((await import('../../functions/http/sequences.ts')).handler, {
    tenantId: tenant,
    roles: ['marketing'],
    userId: 'marketer-1',
  });
  contactsAs = apiClient((await import('../../functions/http/contacts.ts')).handler, {
    tenantId: tenant,
    roles: ['admin'],
    userId: 'owner-1',
  });
  const now = new Date().toISOString();
  for (const [templateId, subject] of [
    ['tpl-1', 'Welcome {{ contact.firstName }}'],
    ['tpl-2', 'Still there, {{ contact.firstName }}?'],
  ]) {
    await model.entities.emailTemplate
      .create({
        tenantId: tenant,
        templateId: templateId!,
        name: templateId!,
        sortName: templateId!,
        subject: subject!,
        text: 'Hello {{ contact.firstName }}. Unsubscribe: {{ unsubscribeUrl }}',
        html: '<p>Hello {{ contact.firstName }}</p>',
        version: 1,
        createdAt: now,
        updatedAt: now,
      })
      .go();
  }
});

afterAll(async () => {
  await ses?.stop();
});

const STEPS = [
  { id: 's1', type: 'send', templateId: 'tpl-1' },
  { id: 'w1', type: 'wait', duration: 'PT2S' },
  { id: 'b1', type: 'branch', on: 'opened', sendStep: 's1', ifTrue: 's2', ifFalse: 't1' },
  { id: 's2', type: 'send', templateId: 'tpl-2' },
  { id: 'e1', type: 'end' },
  { id: 't1', type: 'task', title: 'Call them: no open', dueInDays: 1 },
];

async function activeSequence(overrides: Record<string, unknown> = {}) {
  const created = await sequencesAs('POST', '/v1/sequences', {
    body: { name: 'Drip', from: { address: 'news@acme.example', name: 'Acme' }, steps: STEPS, ...overrides },
  });
  expect(created.status).toBe(201);
  expect((await sequencesAs('POST', `/v1/sequences/${created.body.id}/activate`)).status).toBe(200);
  return created.body.id as string;
}

async function enrolledContact(sequenceId: string, overrides: Record<string, unknown> = {}) {
  const contact = await contactsAs('POST', '/v1/contacts', { body: makeContact({ ownerId: 'owner-1', ...overrides }) });
  expect(contact.status).toBe(201);
  const contactId = contact.body.id as string;
  const res = await sequencesAs('POST', `/v1/sequences/${sequenceId}/enrollments`, {
    body: { contactIds: [contactId] },
  });
  expect(res.body.enrolled).toEqual([contactId]);
  return { contactId, email: (contact.body.emails as string[])[0]!.toLowerCase() };
}

const enrolment = async (sequenceId: string, contactId: string) =>
  (await sequencesAs('GET', `/v1/sequences/${sequenceId}/enrollments/${contactId}`)).body;
const mailTo = async (email: string): Promise<SentEmail[]> =>
  (await ses.sentEmails()).filter((m) => m.to.includes(email));
const ledgerOf = async (sequenceId: string, stepId: string, email: string) =>
  (
    await model.entities.campaignRecipient
      .get({ tenantId: tenant, campaignId: `seq-${sequenceId}-${stepId}`, email })
      .go()
  ).data as Record<string, unknown> | null;

describe('sequence workflow turns', () => {
  it('sends mail 1 with tracking and RFC 8058 headers, waits, and on an open sends mail 2, then completes', async () => {
    const sequenceId = await activeSequence();
    const { contactId, email } = await enrolledContact(sequenceId);
    const state = { tenantId: tenant, sequenceId, contactId, run: 1 };
    const t0 = Date.now();
    const first = await turn(state, t0);
    expect(first).toMatchObject({ done: false, waitUntil: new Date(t0 + 2000).toISOString() });
    const sent = await mailTo(email);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.subject).toBe('Welcome Ada');
    expect(sent[0]!.from).toContain('news@acme.example');
    const header = (name: string) => sent[0]!.headers.find((h) => h.name.toLowerCase() === name.toLowerCase())?.value;
    expect(header('List-Unsubscribe')).toMatch(/^<https:\/\/forms\.example\.test\/v1\/unsubscribe\/.+>$/);
    expect(header('List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
    expect(await ledgerOf(sequenceId, 's1', email)).toMatchObject({ state: 'sent', contactId });
    expect(await enrolment(sequenceId, contactId)).toMatchObject({ currentStep: 'w1', status: 'active' });

    // Woken early (or a retried turn): the same wait goes on, nothing is sent again.
    expect(await turn(state, t0 + 500)).toMatchObject({ done: false, waitUntil: first.done ? '' : first.waitUntil });
    expect(await mailTo(email)).toHaveLength(1);

    // The tracking consumer records the open on the step's ledger item.
    await model.entities.campaignRecipient
      .patch({ tenantId: tenant, campaignId: `seq-${sequenceId}-s1`, email })
      .set({ openedAt: new Date().toISOString() })
      .go();
    // Branch → mail 2 → end, in one turn.
    expect(await turn(state, t0 + 2500)).toMatchObject({ done: true });
    expect((await mailTo(email)).map((m) => m.subject)).toEqual(['Welcome Ada', 'Still there, Ada?']);
    expect(await enrolment(sequenceId, contactId)).toMatchObject({ status: 'completed', currentStep: 'e1' });
    // A restarted execution of a finished enrolment does nothing.
    expect(await turn(state, t0 + 60_000)).toMatchObject({ done: true });
    expect(await mailTo(email)).toHaveLength(2);
  });

  it("without an open, creates one task for the contact's owner (even when the turn is retried)", async () => {
    const sequenceId = await activeSequence();
    const { contactId, email } = await enrolledContact(sequenceId);
    const state = { tenantId: tenant, sequenceId, contactId, run: 1 };
    const t0 = Date.now();
    await turn(state, t0);
    const before = await model.entities.sequenceEnrollment.get({ tenantId: tenant, contactId, sequenceId }).go();
    expect(await turn(state, t0 + 3000)).toMatchObject({ done: true });
    // Replay the branch's turn from the state it had (as a lost answer and a retry would): still one task.
    await model.entities.sequenceEnrollment.put(before.data!).go();
    await turn(state, t0 + 3000);
    const { queryIndex } = await import('../records/lists.ts');
    const { activityIndex } = await import('../db/keys.ts');
    const agenda = await queryIndex<{ type?: string; links?: Array<{ id: string }> }>(
      'activity',
      'gsi2',
      activityIndex.agenda(tenant, 'owner-1'),
      { limit: 100 },
    );
    const mine = agenda.items.filter((a) => a.type === 'task' && a.links?.some((l) => l.id === contactId));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ title: 'Call them: no open', assigneeId: 'owner-1' });
    expect(await mailTo(email)).toHaveLength(1);
    expect(await enrolment(sequenceId, contactId)).toMatchObject({ status: 'completed' });
  });

  it('exits an unsubscribed or suppressed contact at the send, mailing nothing', async () => {
    const sequenceId = await activeSequence();
    const withdrawn = await enrolledContact(sequenceId, { consent: { email: 'withdrawn' } });
    expect(await turn({ tenantId: tenant, sequenceId, contactId: withdrawn.contactId, run: 1 })).toMatchObject({
      done: true,
    });
    expect(await enrolment(sequenceId, withdrawn.contactId)).toMatchObject({
      status: 'exited',
      exitReason: 'unsubscribe',
    });

    const suppressed = await enrolledContact(sequenceId);
    const { suppressAddress } = await import('../suppression/store.ts');
    await suppressAddress(tenant, { email: suppressed.email, reason: 'hard_bounce' });
    await turn({ tenantId: tenant, sequenceId, contactId: suppressed.contactId, run: 1 });
    expect(await enrolment(sequenceId, suppressed.contactId)).toMatchObject({
      status: 'exited',
      exitReason: 'suppressed',
    });
    expect(await mailTo(withdrawn.email)).toEqual([]);
    expect(await mailTo(suppressed.email)).toEqual([]);
  });

  it('exits the enrolments of a deleted sequence at their next turn (reason archived)', async () => {
    const sequenceId = await activeSequence();
    const { contactId, email } = await enrolledContact(sequenceId);
    const state = { tenantId: tenant, sequenceId, contactId, run: 1 };
    const t0 = Date.now();
    await turn(state, t0); // mail 1, then the wait
    expect((await sequencesAs('DELETE', `/v1/sequences/${sequenceId}`)).status).toBe(204);
    expect(await turn(state, t0 + 3000)).toMatchObject({ done: true });
    expect(await enrolment(sequenceId, contactId)).toMatchObject({ status: 'exited', exitReason: 'archived' });
    expect(await mailTo(email)).toHaveLength(1);
  });

  it('holds a paused sequence, ends an exited enrolment, and never mails a step twice', async () => {
    const sequenceId = await activeSequence();
    const { contactId, email } = await enrolledContact(sequenceId);
    const state = { tenantId: tenant, sequenceId, contactId, run: 1 };
    await sequencesAs('POST', `/v1/sequences/${sequenceId}/pause`);
    const t0 = Date.now();
    expect(await turn(state, t0)).toMatchObject({ done: false, waitUntil: new Date(t0 + 3_600_000).toISOString() });
    expect(await mailTo(email)).toEqual([]);
    await sequencesAs('POST', `/v1/sequences/${sequenceId}/activate`);
    // Two turns racing on the same step: the ledger claim lets one mail through.
    await Promise.all([turn(state, t0), turn(state, t0)]);
    expect(await mailTo(email)).toHaveLength(1);
    await sequencesAs('DELETE', `/v1/sequences/${sequenceId}/enrollments/${contactId}`);
    expect(await turn(state, t0 + 5000)).toMatchObject({ done: true });
    expect(await mailTo(email)).toHaveLength(1);
  });

  it('a throttled send releases its claim (the retried turn sends); a rejected one is recorded failed and moves on', async () => {
    const { sendSequenceEmail } = await import('./send.ts');
    const refusing = (name: string) =>
      ({
        send: async () => {
          throw Object.assign(new Error(`${name} from SES`), { name });
        },
      }) as unknown as SESv2Client;
    const sequenceId = await activeSequence();
    const { contactId, email } = await enrolledContact(sequenceId);
    const mail = {
      tenantId: tenant,
      sequenceId,
      stepId: 's1',
      templateId: 'tpl-1',
      from: { address: 'news@acme.example' },
      contactId,
      run: 1,
    };
    await expect(sendSequenceEmail({ ses: refusing('TooManyRequestsException') }, mail)).rejects.toThrow(
      'TooManyRequestsException from SES',
    );
    expect(await ledgerOf(sequenceId, 's1', email)).toBeNull();
    expect(await sendSequenceEmail({ ses: new SESv2Client({}) }, mail)).toMatchObject({ status: 'sent', email });
    expect(await sendSequenceEmail({ ses: new SESv2Client({}) }, mail)).toMatchObject({ status: 'already_claimed' });
    expect(await mailTo(email)).toHaveLength(1);

    const rejected = await sendSequenceEmail({ ses: refusing('MessageRejected') }, { ...mail, stepId: 's2' });
    expect(rejected).toMatchObject({ status: 'failed', error: expect.stringContaining('MessageRejected') });
    expect(await ledgerOf(sequenceId, 's2', email)).toMatchObject({ state: 'failed' });
  });
});
