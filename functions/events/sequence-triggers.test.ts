import type { Context } from 'aws-lambda';
import { ulid } from 'ulid';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
let sequencesAs: Client;
let contactsAs: Client;
let triggers: (event: unknown) => Promise<void>;
let model: typeof import('../../shared/db/store.ts').model;
const tenant = uniqueTenant('seqtrig');
const context = { functionName: 'sequence-triggers', awsRequestId: 'r' } as unknown as Context;

beforeAll(async () => {
  await useFreshTable();
  process.env.MARKETING_MAIL_DOMAIN = 'acme.example';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const handler = (await import('./sequence-triggers.ts')).handler;
  triggers = (event) => handler(event as never, context);
  ({ model } = await import('../../shared/db/store.ts'));
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

async function sequenceEnrolling(enrollOn: Record<string, string>) {
  const res = await sequencesAs('POST', '/v1/sequences', {
    body: {
      name: 'Triggered',
      from: { address: 'news@acme.example' },
      steps: [{ id: 's1', type: 'send', templateId: 'tpl' }],
      enrollOn,
    },
  });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function contact() {
  const res = await contactsAs('POST', '/v1/contacts', { body: makeContact() });
  expect(res.status).toBe(201);
  return { id: res.body.id as string, email: (res.body.emails as string[])[0]! };
}

const enrolments = async (sequenceId: string) =>
  (await sequencesAs('GET', `/v1/sequences/${sequenceId}/enrollments?limit=100`)).body.items as Array<{
    contactId: string;
    source: string;
  }>;

const sequenceUpdated = (sequenceId: string, segmentJob: { old?: unknown; new?: unknown }) => ({
  'detail-type': 'sequence.updated',
  source: 'crm.sequences',
  detail: {
    schemaVersion: 2,
    tenantId: tenant,
    entity: 'sequence',
    entityId: sequenceId,
    version: 2,
    occurredAt: new Date().toISOString(),
    changes: { segmentJob, status: { old: 'paused', new: 'active' } },
    record: {},
  },
});

describe('sequence triggers', () => {
  it("activation enrols the segment's members page by page (once), recording the job", async () => {
    const segmentId = ulid();
    const sequenceId = await sequenceEnrolling({ segmentId });
    const members = [await contact(), await contact(), await contact()];
    // 120 more member ids without a live contact: two pages, and unknown ids are skipped.
    const ids = [...members.map((m) => m.id), ...Array.from({ length: 120 }, (_, i) => `gone-${i}`)];
    for (const contactId of ids) {
      await model.entities.segmentMember
        .create({ tenantId: tenant, segmentId, contactId, addedAt: new Date().toISOString(), source: 'manual' })
        .go();
    }
    const activated = await sequencesAs('POST', `/v1/sequences/${sequenceId}/activate`);
    expect(activated.body.segmentJob).toMatchObject({ status: 'running', enrolled: 0 });
    await triggers(sequenceUpdated(sequenceId, { new: activated.body.segmentJob }));
    expect((await enrolments(sequenceId)).map((e) => [e.contactId, e.source]).sort()).toEqual(
      members.map((m) => [m.id, 'segment']).sort(),
    );
    const after = await sequencesAs('GET', `/v1/sequences/${sequenceId}`);
    expect(after.body.segmentJob).toMatchObject({ status: 'done', enrolled: 3 });
    expect(after.body.segmentJob.finishedAt).toBeDefined();
    // The job's own progress updates come back as sequence.updated: they start nothing.
    await triggers(sequenceUpdated(sequenceId, { old: activated.body.segmentJob, new: after.body.segmentJob }));
    expect(await enrolments(sequenceId)).toHaveLength(3);
  });

  it("a form submission enrols the lead's contact in the active sequences enrolling that form", async () => {
    const formId = ulid();
    const active = await sequenceEnrolling({ formId });
    const paused = await sequenceEnrolling({ formId });
    await sequencesAs('POST', `/v1/sequences/${active}/activate`);
    const known = await contact();
    const submit = async (email: string) => {
      const submissionId = ulid();
      const now = new Date().toISOString();
      await model.entities.formSubmission
        .create({
          tenantId: tenant,
          submissionId,
          formId,
          leadId: ulid(),
          outcome: 'created',
          values: {},
          origin: 'https://www.example.com',
          email,
          doubleOptIn: false,
          occurredAt: now,
          version: 1,
          createdAt: now,
          updatedAt: now,
        } as never)
        .go();
      await triggers({
        'detail-type': 'form.submitted',
        source: 'crm.forms',
        detail: {
          schemaVersion: 2,
          tenantId: tenant,
          entity: 'formSubmission',
          entityId: submissionId,
          version: 1,
          occurredAt: now,
          changes: {},
          record: { formId },
        },
      });
    };
    await submit(known.email.toUpperCase());
    await submit('nobody-yet@example.org');
    expect(await enrolments(active)).toEqual([expect.objectContaining({ contactId: known.id, source: 'form' })]);
    expect(await enrolments(paused)).toEqual([]);
  });

  it('a lead converted into a contact is enrolled in the active sequences of the forms it came through', async () => {
    const formId = ulid();
    const sequenceId = await sequenceEnrolling({ formId });
    await sequencesAs('POST', `/v1/sequences/${sequenceId}/activate`);
    const leadId = ulid();
    const submissionId = ulid();
    const now = new Date().toISOString();
    // A submission whose address had no contact yet, on the lead's timeline (as the public endpoint writes it).
    await model.entities.formSubmission
      .create({
        tenantId: tenant,
        submissionId,
        formId,
        leadId,
        outcome: 'created',
        values: {},
        origin: 'https://www.example.com',
        email: 'new-lead@example.org',
        doubleOptIn: false,
        occurredAt: now,
        version: 1,
        createdAt: now,
        updatedAt: now,
        gsi6pk: `${tenant}#lead#${leadId}#timeline`,
        gsi6sk: `${now}#formSubmission#${submissionId}`,
      } as never)
      .go();
    const converted = await contact();
    const leadUpdated = (changes: Record<string, unknown>) => ({
      'detail-type': 'lead.updated',
      source: 'crm.leads',
      detail: {
        schemaVersion: 2,
        tenantId: tenant,
        entity: 'lead',
        entityId: leadId,
        version: 3,
        occurredAt: now,
        changes,
        record: {},
      },
    });
    await triggers(leadUpdated({ status: { old: 'new', new: 'working' } }));
    expect(await enrolments(sequenceId)).toEqual([]);
    await triggers(
      leadUpdated({ convertedContactId: { new: converted.id }, status: { old: 'working', new: 'converted' } }),
    );
    expect(await enrolments(sequenceId)).toEqual([
      expect.objectContaining({ contactId: converted.id, source: 'form' }),
    ]);
  });

  it('a contact joining the segment of an active sequence is enrolled once; paused, other-segment sequences are not', async () => {
    const { clearSegmentTriggerCache } = await import('../../shared/sequences/triggers.ts');
    const segmentId = ulid();
    const active = await sequenceEnrolling({ segmentId });
    const paused = await sequenceEnrolling({ segmentId });
    const other = await sequenceEnrolling({ segmentId: ulid() });
    await sequencesAs('POST', `/v1/sequences/${active}/activate`);
    await sequencesAs('POST', `/v1/sequences/${other}/activate`);
    const joined = (contactId: string, source = 'manual') => ({
      'detail-type': 'segment.member.added',
      source: 'crm.segments',
      detail: {
        schemaVersion: 1,
        tenantId: tenant,
        segmentId,
        contactId,
        source,
        occurredAt: new Date().toISOString(),
      },
    });
    const first = await contact();
    await triggers(joined(first.id, 'filter'));
    // A redelivered event (or the activation job racing it) enrols nobody twice.
    await triggers(joined(first.id, 'filter'));
    expect(await enrolments(active)).toEqual([expect.objectContaining({ contactId: first.id, source: 'segment' })]);
    expect(await enrolments(paused)).toEqual([]);
    expect(await enrolments(other)).toEqual([]);
    // An id without a live contact (deleted meanwhile) is skipped.
    await triggers(joined('no-such-contact'));
    expect(await enrolments(active)).toHaveLength(1);

    // Paused: the cached list still names it, but the fresh read of the sequence decides.
    await sequencesAs('POST', `/v1/sequences/${active}/pause`);
    const second = await contact();
    await triggers(joined(second.id));
    expect((await enrolments(active)).map((e) => e.contactId)).toEqual([first.id]);

    // Activated again, once the cache has expired: enrolled.
    await sequencesAs('POST', `/v1/sequences/${active}/activate`);
    await sequencesAs('POST', `/v1/sequences/${paused}/activate`);
    clearSegmentTriggerCache();
    await triggers(joined(second.id));
    expect((await enrolments(active)).map((e) => e.contactId).sort()).toEqual([first.id, second.id].sort());
    expect((await enrolments(paused)).map((e) => e.contactId)).toEqual([second.id]);
  });

  it('finds the sequences of a segment by one gsi2 Query, only while they are active and live', async () => {
    const { sequencesEnrollingSegment } = await import('../../shared/sequences/service.ts');
    const segmentId = ulid();
    const sequenceId = await sequenceEnrolling({ segmentId });
    expect(await sequencesEnrollingSegment(tenant, segmentId)).toEqual([]);
    await sequencesAs('POST', `/v1/sequences/${sequenceId}/activate`);
    expect(await sequencesEnrollingSegment(tenant, segmentId)).toEqual([sequenceId]);
    // Another tenant's segment of the same id sees nothing.
    expect(await sequencesEnrollingSegment(`${tenant}-other`, segmentId)).toEqual([]);
    await sequencesAs('DELETE', `/v1/sequences/${sequenceId}`);
    expect(await sequencesEnrollingSegment(tenant, segmentId)).toEqual([]);
  });
});
