import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { CLOUD_START_TIMEOUT_MS } from './support/assembly.ts';
import { makeContact } from './support/factories.ts';
import { api, eventually, startTestCloud } from './support/local-cloud.ts';

/**
 * Tickets through the whole stack (the synthesized template in the local cloud): over real HTTP to the tickets
 * Lambda, its changes through the stream onto the bus, and files through pre-signed URLs to the local S3.
 */
let cloud: LocalCloud;
let agent: ReturnType<typeof api>;

beforeAll(async () => {
  cloud = await startTestCloud();
  agent = api(cloud, await cloud.token({ tenantId: 'helpdesk', roles: ['support'], userId: 'agent-7' }));
}, CLOUD_START_TIMEOUT_MS);

afterAll(async () => {
  await cloud?.stop();
});

type BusEvent = {
  source: string;
  'detail-type': string;
  detail: { entityId: string; record: Record<string, unknown> };
};
const published = (type: string, id: string) =>
  eventually(async () =>
    (cloud.events.recentEvents() as BusEvent[]).find((e) => e['detail-type'] === type && e.detail.entityId === id),
  );

describe('tickets in the local cloud', () => {
  it('numbers tickets, publishes ticket.created and ticket.message_added from the stream, and stores files in S3', async () => {
    const requester = await agent('POST', '/v1/contacts', makeContact());
    expect(requester.status).toBe(201);
    const created = await agent('POST', '/v1/tickets', {
      subject: 'Cannot log in',
      requesterId: requester.body.id,
      channel: 'web',
      priority: 'high',
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.number).toBe('T-1001');

    const event = await published('ticket.created', created.body.id);
    expect(event.source).toBe('crm.tickets');
    expect(event.detail.record).toMatchObject({ number: 'T-1001', status: 'new', priority: 'high', channel: 'web' });

    // A file: declared over the API, uploaded to the local S3 with the pre-signed PUT, referenced, downloaded.
    const declared = await agent('POST', `/v1/tickets/${created.body.id}/attachments`, {
      fileName: 'screenshot.png',
      contentType: 'image/png',
      size: 4,
    });
    expect(declared.status, declared.text).toBe(201);
    const bytes = new Uint8Array([137, 80, 78, 71]);
    const upload = await fetch(declared.body.upload.url, {
      method: 'PUT',
      headers: declared.body.upload.headers,
      body: bytes,
    });
    expect(upload.status).toBe(200);
    const reply = await agent('POST', `/v1/tickets/${created.body.id}/messages`, {
      authorType: 'contact',
      bodyText: 'Here is what I see',
      attachmentIds: [declared.body.id],
    });
    expect(reply.status, reply.text).toBe(201);
    const added = await published('ticket.message_added', reply.body.message.id);
    expect(added.detail.record).toMatchObject({ ticketId: created.body.id, attachmentIds: [declared.body.id] });
    await published('ticket.updated', created.body.id);

    const link = await agent('GET', `/v1/tickets/${created.body.id}/attachments/${declared.body.id}`);
    const download = await fetch(link.body.download.url);
    expect(download.status).toBe(200);
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(bytes);
    // Unsigned, the bucket refuses.
    expect((await fetch(link.body.download.url.split('?')[0]!)).status).toBe(403);
  }, 120_000);
});
