import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
let sequencesAs: Client;
let contactsAs: Client;
let exits: (event: unknown) => Promise<void>;
const tenant = uniqueTenant('seqexit');
const context = { functionName: 'sequence-exits', awsRequestId: 'r' } as unknown as Context;

beforeAll(async () => {
  await useFreshTable();
  process.env.MARKETING_MAIL_DOMAIN = 'acme.example';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const handler = (await import('./sequence-exits.ts')).handler;
  exits = (event) => handler(event as never, context);
  sequencesAs = apiClient((await import('../http/sequences.ts')).handler, {
    tenantId: tenant,
    roles: ['marketing'],
    userId: 'marketer-1',
  });
  contactsAs = apiClient((await import('../http/contacts.ts')).handler, {
    tenantId: tenant,
    roles: ['admin'],
    userId: 'admin-1',
  });
});

async function sequence(exitOn: string[]) {
  const res = await sequencesAs('POST', '/v1/sequences', {
    body: {
      name: `Exits on ${exitOn.join(', ') || 'nothing'}`,
      from: { address: 'news@acme.example' },
      steps: [{ id: 's1', type: 'send', templateId: 'tpl' }],
      exitOn,
    },
  });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function contact(overrides: Record<string, unknown> = {}) {
  const res = await contactsAs('POST', '/v1/contacts', { body: makeContact(overrides) });
  expect(res.status).toBe(201);
  return { id: res.body.id as string, email: (res.body.emails as string[])[0]!, version: res.body.version as number };
}

async function enrol(sequenceId: string, contactId: string) {
  const res = await sequencesAs('POST', `/v1/sequences/${sequenceId}/enrollments`, {
    body: { contactIds: [contactId] },
  });
  expect(res.body.enrolled).toEqual([contactId]);
}

const enrolment = async (sequenceId: string, contactId: string) =>
  (await sequencesAs('GET', `/v1/sequences/${sequenceId}/enrollments/${contactId}`)).body;

const verdicts = { spam: 'PASS', virus: 'PASS', spf: 'PASS', dkim: 'PASS', dmarc: 'PASS' };
function mailFrom(address: string, extra: Record<string, unknown> = {}) {
  return {
    'detail-type': 'email.received',
    source: 'crm.mail',
    detail: {
      schemaVersion: 2,
      messageId: `<m-${Date.now()}@mail.example>`,
      s3: { bucket: 'inbound', key: 'inbound/m1' },
      from: { address: address.toUpperCase(), name: 'Ada' },
      to: ['support@acme.example'],
      cc: [],
      subject: 'Re: Welcome',
      references: [],
      receivedAt: '2026-12-01T10:00:00.000Z',
      tenantId: tenant,
      sesMessageId: `ses-${Date.now()}`,
      recipient: 'support@acme.example',
      mailbox: { id: 'mb1', address: 'support@acme.example', defaultPriority: 'normal' },
      verdicts,
      flagged: [],
      envelopeFrom: address,
      ...extra,
    },
  };
}

const contactUpdated = (contactId: string, changes: Record<string, unknown>) => ({
  'detail-type': 'contact.updated',
  source: 'crm.contacts',
  detail: {
    schemaVersion: 2,
    tenantId: tenant,
    entity: 'contact',
    entityId: contactId,
    version: 2,
    occurredAt: new Date().toISOString(),
    changes,
    record: {},
  },
});

describe('sequence exits', () => {
  it('a reply from the contact exits the sequences that exit on reply and notes it on the others', async () => {
    const [onReply, notOnReply] = [await sequence(['reply']), await sequence(['deal_won'])];
    const c = await contact();
    await enrol(onReply, c.id);
    await enrol(notOnReply, c.id);
    await exits(mailFrom(c.email, { autoSubmitted: 'auto-replied' })); // an out-of-office is no reply
    expect(await enrolment(onReply, c.id)).toMatchObject({ status: 'active' });
    await exits(mailFrom(c.email));
    expect(await enrolment(onReply, c.id)).toMatchObject({
      status: 'exited',
      exitReason: 'reply',
      repliedAt: '2026-12-01T10:00:00.000Z',
    });
    expect(await enrolment(notOnReply, c.id)).toMatchObject({
      status: 'active',
      repliedAt: '2026-12-01T10:00:00.000Z',
    });
    // Redelivered: nothing changes.
    const before = await enrolment(onReply, c.id);
    await exits(mailFrom(c.email));
    expect((await enrolment(onReply, c.id)).version).toBe(before.version);
  });

  it('withdrawn consent exits on unsubscribe; becoming a customer exits on conversion', async () => {
    const [unsub, conversion] = [await sequence(['unsubscribe']), await sequence(['conversion'])];
    const a = await contact();
    const b = await contact();
    for (const s of [unsub, conversion]) {
      await enrol(s, a.id);
      await enrol(s, b.id);
    }
    expect(
      (await contactsAs('PATCH', `/v1/contacts/${a.id}`, { body: { consent: { email: 'withdrawn' } } })).status,
    ).toBe(200);
    await exits(contactUpdated(a.id, { consent: { old: { email: 'granted' }, new: { email: 'withdrawn' } } }));
    expect(await enrolment(unsub, a.id)).toMatchObject({ status: 'exited', exitReason: 'unsubscribe' });
    expect(await enrolment(conversion, a.id)).toMatchObject({ status: 'active' });

    // A change of another field exits nothing, even for a customer.
    await contactsAs('PATCH', `/v1/contacts/${b.id}`, { body: { lifecycleStage: 'customer' } });
    await exits(contactUpdated(b.id, { jobTitle: { old: 'a', new: 'b' } }));
    expect(await enrolment(conversion, b.id)).toMatchObject({ status: 'active' });
    await exits(contactUpdated(b.id, { lifecycleStage: { old: 'lead', new: 'customer' } }));
    expect(await enrolment(conversion, b.id)).toMatchObject({ status: 'exited', exitReason: 'conversion' });
    expect(await enrolment(unsub, b.id)).toMatchObject({ status: 'active' });
  });

  it('a won deal exits its contacts from the sequences exiting on deal_won', async () => {
    const s = await sequence(['deal_won']);
    const other = await sequence(['reply']);
    const c = await contact();
    await enrol(s, c.id);
    await enrol(other, c.id);
    await exits({
      'detail-type': 'deal.won',
      source: 'crm.deals',
      detail: {
        schemaVersion: 1,
        tenantId: tenant,
        dealId: 'd1',
        version: 3,
        occurredAt: new Date().toISOString(),
        name: 'Big deal',
        pipelineId: 'p1',
        toStageId: 'won',
        status: 'won',
        previousStatus: 'open',
        probability: 100,
        amount: 1000,
        currency: 'EUR',
        ownerId: 'u1',
        contactIds: [c.id, 'someone-else'],
      },
    });
    expect(await enrolment(s, c.id)).toMatchObject({ status: 'exited', exitReason: 'deal_won' });
    expect(await enrolment(other, c.id)).toMatchObject({ status: 'active' });
  });
});
