import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCloud, startLocalCloud } from '../infra/local/cloud.ts';
import { createModel } from '../shared/db/model.ts';
import { CLOUD_START_TIMEOUT_MS, prebuiltAssembly } from './support/assembly.ts';
import { makeContact } from './support/factories.ts';
import { api, eventually } from './support/local-cloud.ts';

/**
 * Drip sequences across the whole local cloud, with real (short) waits: enrolments over HTTP → stream →
 * `sequence.enrollment_created` on the bus → the triggers consumer starts one execution each → mail 1 through the
 * local SES (marketing configuration set, tracking tags) → an injected open (POST /_local/events) reaches the ledger
 * through the tracking consumer → after the PT8S wait the branch sends mail 2. The other contact replies over SMTP to
 * a support mailbox → email.received → the exits consumer ends its enrolment, so it gets neither mail 2 nor a task.
 */
let cloud: LocalCloud;
let dataDir: string;
let admin: ReturnType<typeof api>;
let model: ReturnType<typeof createModel>;
const TENANT = 'dripco';
const SUPPORT = 'help@dripco.test';

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'crm-cloud-'));
  // Real time: the sequence's waits are what this test is about (startTestCloud runs Waits at scale 0).
  const log = process.env.CRM_TEST_LOG ? (line: string) => console.log(line) : undefined;
  cloud = await startLocalCloud({
    dataDir,
    persist: false,
    waitTimeScale: 1,
    prebuilt: await prebuiltAssembly(),
    ...(log ? { log } : {}),
  });
  model = createModel({ table: cloud.tableName, client: DynamoDBDocumentClient.from(cloud.dynamo.client) });
  admin = api(cloud, await cloud.token({ tenantId: TENANT, roles: ['admin'], userId: 'owner-1' }));
  await eventually(async () => ((await admin('GET', '/v1/sequences')).status === 200 ? true : undefined), 90_000);
}, CLOUD_START_TIMEOUT_MS);

afterAll(async () => {
  await cloud?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function smtpSend(mail: Parameters<ReturnType<typeof nodemailer.createTransport>['sendMail']>[0]) {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: cloud.smtpPort, secure: false });
  try {
    await transport.sendMail(mail);
  } finally {
    transport.close();
  }
}

const inject = async (body: Record<string, unknown>) => {
  const response = await fetch(`${cloud.aws.endpoints.AWS_ENDPOINT_URL_SESV2}/_local/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(202);
};

const mailTo = async (address: string) => (await cloud.ses.sentEmails()).filter((m) => m.to.includes(address));

describe('drip sequences in the local cloud', () => {
  it('mail 1 → wait → opened → mail 2; a reply by mail exits the other enrolment', { timeout: 180_000 }, async () => {
    const template = async (name: string, subject: string) => {
      const res = await admin('POST', '/v1/email-templates', {
        name,
        subject,
        text: 'Hello {{ contact.firstName }}. {{ unsubscribeUrl }}',
      });
      expect(res.status, res.text).toBe(201);
      return res.body.id as string;
    };
    const [tpl1, tpl2] = [await template('Welcome', 'Welcome {{ contact.firstName }}'), await template('Tips', 'Tips')];
    expect((await admin('POST', '/v1/mailboxes', { address: SUPPORT, name: 'Help' })).status).toBe(201);
    const contact = async (firstName: string, email: string) => {
      const res = await admin('POST', '/v1/contacts', makeContact({ firstName, emails: [email], ownerId: 'owner-1' }));
      expect(res.status, res.text).toBe(201);
      return res.body.id as string;
    };
    const [ada, bob] = [await contact('Ada', 'ada@engines.test'), await contact('Bob', 'bob@engines.test')];

    const created = await admin('POST', '/v1/sequences', {
      name: 'Welcome drip',
      from: { address: 'news@crm.local', name: 'DripCo' },
      exitOn: ['reply'],
      steps: [
        { id: 's1', type: 'send', templateId: tpl1 },
        { id: 'w1', type: 'wait', duration: 'PT8S' },
        { id: 'b1', type: 'branch', on: 'opened', sendStep: 's1', ifTrue: 's2', ifFalse: 't1' },
        { id: 's2', type: 'send', templateId: tpl2 },
        { id: 'e1', type: 'end' },
        { id: 't1', type: 'task', title: 'Welcome mail not opened: call' },
      ],
    });
    expect(created.status, created.text).toBe(201);
    const sequenceId = created.body.id as string;
    expect((await admin('POST', `/v1/sequences/${sequenceId}/activate`)).status).toBe(200);
    const enrolled = await admin('POST', `/v1/sequences/${sequenceId}/enrollments`, { contactIds: [ada, bob] });
    // Enrolments are made a few at a time: in no particular order.
    expect({ ...enrolled.body, enrolled: [...enrolled.body.enrolled].sort() }).toEqual({
      enrolled: [ada, bob].sort(),
      alreadyEnrolled: [],
      notFound: [],
    });

    // Mail 1 to both, with the one-click unsubscribe headers.
    const [adaMail] = await eventually(async () => {
      const sent = await mailTo('ada@engines.test');
      return sent.length ? sent : undefined;
    }, 60_000);
    expect(adaMail!.subject).toBe('Welcome Ada');
    expect(adaMail!.headers.find((h) => h.name === 'List-Unsubscribe-Post')?.value).toBe('List-Unsubscribe=One-Click');
    await eventually(async () => ((await mailTo('bob@engines.test')).length ? true : undefined), 60_000);

    // Ada opens it (tracking → ledger: the step's ledger item knows SES's message id); Bob answers the support address.
    const ledger = await eventually(async () => {
      const { data } = await model.entities.campaignRecipient
        .get({ tenantId: TENANT, campaignId: `seq-${sequenceId}-s1`, email: 'ada@engines.test' })
        .go({ consistent: true });
      return data?.sesMessageId ? data : undefined;
    });
    await inject({ messageId: ledger.sesMessageId, type: 'open' });
    await smtpSend({ from: 'Bob <bob@engines.test>', to: SUPPORT, subject: 'Re: Welcome', text: 'Thanks!' });
    const bobEnrolment = await eventually(async () => {
      const res = await admin('GET', `/v1/sequences/${sequenceId}/enrollments/${bob}`);
      return res.body.status === 'exited' ? res.body : undefined;
    }, 60_000);
    expect(bobEnrolment).toMatchObject({ exitReason: 'reply' });
    expect(bobEnrolment.repliedAt).toBeDefined();

    // After the wait, the branch sees the open: mail 2 to Ada, and Ada's enrolment completes.
    const adaEnrolment = await eventually(async () => {
      const res = await admin('GET', `/v1/sequences/${sequenceId}/enrollments/${ada}`);
      return res.body.status === 'completed' ? res.body : undefined;
    }, 60_000);
    expect(adaEnrolment).toMatchObject({ currentStep: 'e1' });
    expect((await mailTo('ada@engines.test')).map((m) => m.subject)).toEqual(['Welcome Ada', 'Tips']);

    // Both executions end (Bob's at its next turn); Bob got no second mail and no task was made.
    const executions = cloud.stepFunctions
      .listExecutions()
      .filter((e) => e.stateMachineArn.includes('Sequences') || e.name.startsWith('seq-'));
    expect(executions).toHaveLength(2);
    for (const e of executions) {
      expect((await cloud.stepFunctions.waitForExecution(e.executionArn, 30_000)).status).toBe('SUCCEEDED');
    }
    expect((await mailTo('bob@engines.test')).map((m) => m.subject)).toEqual(['Welcome Bob']);
    const agenda = await admin('GET', '/v1/activities?type=task&limit=100');
    expect(
      ((agenda.body?.items ?? []) as Array<{ title?: string }>).filter((a) => a.title?.includes('Welcome mail')),
    ).toEqual([]);
  });

  it('a contact added to the static list of an active sequence is enrolled (once) and mailed', {
    timeout: 120_000,
  }, async () => {
    const tpl = await admin('POST', '/v1/email-templates', { name: 'List hello', subject: 'Hello list', text: 'Hi' });
    expect(tpl.status, tpl.text).toBe(201);
    const list = await admin('POST', '/v1/segments', { kind: 'static', name: 'Drip list' });
    expect(list.status, list.text).toBe(201);
    const listId = list.body.id as string;
    const contact = async (firstName: string, email: string) => {
      const res = await admin('POST', '/v1/contacts', makeContact({ firstName, emails: [email] }));
      expect(res.status, res.text).toBe(201);
      return res.body.id as string;
    };
    const [cy, dee] = [await contact('Cy', 'cy@list.test'), await contact('Dee', 'dee@list.test')];
    const add = (id: string) => admin('POST', `/v1/segments/${listId}/members`, { contactIds: [id] });
    expect((await add(cy)).status).toBe(200);

    const created = await admin('POST', '/v1/sequences', {
      name: 'List drip',
      from: { address: 'news@crm.local' },
      enrollOn: { segmentId: listId },
      steps: [{ id: 's1', type: 'send', templateId: tpl.body.id }],
    });
    expect(created.status, created.text).toBe(201);
    const sequenceId = created.body.id as string;
    expect((await admin('POST', `/v1/sequences/${sequenceId}/activate`)).status).toBe(200);
    // Cy, a member before activation, is the activation job's.
    await eventually(async () => {
      const res = await admin('GET', `/v1/sequences/${sequenceId}`);
      return res.body.segmentJob?.status === 'done' ? true : undefined;
    }, 60_000);

    // Dee joins the list afterwards: segment.member.added from the stream → the triggers consumer enrols her.
    expect((await add(dee)).status).toBe(200);
    const enrolment = () => admin('GET', `/v1/sequences/${sequenceId}/enrollments/${dee}`);
    await eventually(async () => ((await enrolment()).status === 200 ? true : undefined), 60_000);
    const deeEnrolment = await eventually(async () => {
      const res = await enrolment();
      return res.body.status === 'completed' ? res.body : undefined;
    }, 60_000);
    expect(deeEnrolment).toMatchObject({ source: 'segment' });
    expect((await mailTo('dee@list.test')).map((m) => m.subject)).toEqual(['Hello list']);

    // Removed and added again: still one enrolment per contact, and no second mail.
    expect((await admin('POST', `/v1/segments/${listId}/members/remove`, { contactIds: [dee] })).status).toBe(200);
    expect((await add(dee)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 3000));
    const enrolments = await admin('GET', `/v1/sequences/${sequenceId}/enrollments?limit=10`);
    expect((enrolments.body.items as Array<{ contactId: string }>).map((e) => e.contactId).sort()).toEqual(
      [cy, dee].sort(),
    );
    expect(await mailTo('dee@list.test')).toHaveLength(1);
  });
});
