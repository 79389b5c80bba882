import { createHash, createHmac } from 'node:crypto';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { ulid } from 'ulid';
import type { ItemWrite } from '../db/store.ts';
import { model, writeRecord } from '../db/store.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import type { ApiRequest } from '../http/request.ts';

/** How long a pre-signed upload or download link works. */
export const LINK_SECONDS = 15 * 60;
/** The largest file a ticket takes (the upload's signed Content-Length). */
export const MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024;

/** Every ticket file is under this prefix; the tickets function may read and write only there. */
export const ATTACHMENT_PREFIX = 'tickets/';

export const attachmentKey = (tenantId: string, ticketId: string, attachmentId: string) =>
  `${ATTACHMENT_PREFIX}${tenantId}/${ticketId}/${attachmentId}`;

export interface StoredAttachment {
  tenantId: string;
  ticketId: string;
  attachmentId: string;
  fileName: string;
  contentType: string;
  size: number;
  objectKey: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  createdBy?: string;
  updatedBy?: string;
}

function bucket(): string {
  const name = process.env.ATTACHMENTS_BUCKET;
  if (!name) throw new Error('ATTACHMENTS_BUCKET is not set');
  return name;
}

let client: S3Client | undefined;
const s3 = () => (client ??= new S3Client({}));

/** SHA-256 (or HMAC-SHA256) for the SigV4 signer, from node:crypto. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    const key =
      typeof secret === 'string' || secret === undefined
        ? secret
        : ArrayBuffer.isView(secret)
          ? new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength)
          : new Uint8Array(secret);
    this.hash = key === undefined ? createHash('sha256') : createHmac('sha256', key);
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

/**
 * The object's URL: path-style on the SDK's configured endpoint (AWS_ENDPOINT_URL_S3, as the local cloud sets it),
 * else the bucket's regional virtual-hosted endpoint.
 */
function objectUrl(key: string, region: string): URL {
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  return endpoint
    ? new URL(`${endpoint.replace(/\/$/, '')}/${bucket()}/${key}`)
    : new URL(`https://${bucket()}.s3.${region}.amazonaws.com/${key}`);
}

/**
 * A SigV4 pre-signed URL (query-string auth) signed with this function's own credentials, as
 * @aws-sdk/s3-request-presigner builds them: UNSIGNED-PAYLOAD, the given headers signed (the client must send them
 * as they are), expiring after LINK_SECONDS.
 */
async function presign(
  method: 'GET' | 'PUT',
  key: string,
  headers: Record<string, string>,
  query: Record<string, string> = {},
): Promise<string> {
  const config = s3().config;
  const region = await config.region();
  const url = objectUrl(key, region);
  const signer = new SignatureV4({
    service: 's3',
    region,
    credentials: config.credentials,
    sha256: Sha256,
    uriEscapePath: false,
  });
  const signed = await signer.presign(
    {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers },
      query,
    },
    {
      expiresIn: LINK_SECONDS,
      unsignableHeaders: new Set(['x-amz-content-sha256']),
      unhoistableHeaders: new Set(['x-amz-content-sha256']),
    },
  );
  const search = new URLSearchParams(signed.query as Record<string, string>).toString().replace(/\+/g, '%20');
  return `${url.origin}${url.pathname}?${search}`;
}

export interface AttachmentView {
  id: string;
  ticketId: string;
  fileName: string;
  contentType: string;
  size: number;
  createdAt: string;
  createdBy?: string;
}

const view = (a: StoredAttachment): AttachmentView => ({
  id: a.attachmentId,
  ticketId: a.ticketId,
  fileName: a.fileName,
  contentType: a.contentType,
  size: a.size,
  createdAt: a.createdAt,
  ...(a.createdBy ? { createdBy: a.createdBy } : {}),
});

function newAttachment(
  tenantId: string,
  ticketId: string,
  actorId: string,
  file: { fileName: string; contentType: string; size: number },
  attachmentId: string = ulid(),
): StoredAttachment {
  const now = new Date().toISOString();
  return {
    tenantId,
    ticketId,
    attachmentId,
    ...file,
    objectKey: attachmentKey(tenantId, ticketId, attachmentId),
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: actorId,
    updatedBy: actorId,
  };
}

/**
 * Declares a file of a ticket and returns where to upload it: a pre-signed PUT whose Content-Type and Content-Length
 * are signed, so the upload must be exactly the declared type and size. The ticket must be live (checked in the
 * same write).
 */
export async function declareAttachment(
  tenantId: string,
  ticketId: string,
  actorId: string,
  file: { fileName: string; contentType: string; size: number },
  idempotency?: ApiRequest['idempotency'],
) {
  const stored = newAttachment(tenantId, ticketId, actorId, file);
  const expiresAt = new Date(Date.now() + LINK_SECONDS * 1000).toISOString();
  const headers = { 'content-type': file.contentType, 'content-length': String(file.size) };
  const upload = { method: 'PUT' as const, url: await presign('PUT', stored.objectKey, headers), headers, expiresAt };
  const response = { ...view(stored), upload };
  await writeRecord({
    entity: 'ticketAttachment',
    item: { ...stored },
    onVersionConflict: () => new ConflictError('ticket.attachment_exists', 'Retry.'),
    references: [{ entity: 'ticket', key: { tenantId, ticketId }, error: new NotFoundError('ticket', ticketId) }],
    ...(idempotency ? { idempotency: { tenantId, ...idempotency, statusCode: 201, response } } : {}),
  });
  return response;
}

/**
 * Stores a file's bytes for a ticket directly (the email-in part keeps a mail's attachments this way) and records
 * it; returns the attachment id to reference from the message.
 */
export async function storeAttachment(
  tenantId: string,
  ticketId: string,
  actorId: string,
  file: { fileName: string; contentType: string; body: Uint8Array },
  /** A caller-chosen id (the email-in part derives it from the mail, so a redelivery rewrites the same file). */
  attachmentId?: string,
): Promise<AttachmentView> {
  const stored = newAttachment(
    tenantId,
    ticketId,
    actorId,
    { fileName: file.fileName, contentType: file.contentType, size: file.body.byteLength },
    attachmentId,
  );
  await s3().send(
    new PutObjectCommand({ Bucket: bucket(), Key: stored.objectKey, Body: file.body, ContentType: file.contentType }),
  );
  await writeRecord({
    entity: 'ticketAttachment',
    item: { ...stored },
    onVersionConflict: () => new ConflictError('ticket.attachment_exists', 'Retry.'),
  });
  return view(stored);
}

async function readAttachment(tenantId: string, ticketId: string, attachmentId: string) {
  const { data } = await model.entities.ticketAttachment.get({ tenantId, ticketId, attachmentId }).go();
  if (!data) throw new NotFoundError('attachment', attachmentId);
  return data as StoredAttachment;
}

/** A file's details with a pre-signed GET that expires; it downloads under its own name. */
export async function attachmentLink(tenantId: string, ticketId: string, attachmentId: string) {
  const stored = await readAttachment(tenantId, ticketId, attachmentId);
  const ascii = stored.fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const disposition = `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(stored.fileName)}`;
  const url = await presign('GET', stored.objectKey, {}, { 'response-content-disposition': disposition });
  return { ...view(stored), download: { url, expiresAt: new Date(Date.now() + LINK_SECONDS * 1000).toISOString() } };
}

/**
 * What referencing attachments from a message takes: each must be a file of this ticket (a ConditionCheck in the
 * message's transaction) whose upload has arrived (a HEAD of its object, before the write).
 */
export async function attachmentChecks(tenantId: string, ticketId: string, attachmentIds: string[]) {
  const checks: ItemWrite[] = [];
  await Promise.all(
    attachmentIds.map(async (attachmentId, index) => {
      const field = `body.attachmentIds.${index}`;
      const { data } = await model.entities.ticketAttachment.get({ tenantId, ticketId, attachmentId }).go();
      if (!data) {
        throw new ValidationError('Unknown attachment.', [{ field, message: 'No file with this id on this ticket.' }]);
      }
      const arrived = await s3()
        .send(new HeadObjectCommand({ Bucket: bucket(), Key: data.objectKey }))
        .then(
          () => true,
          (error: { name?: string; $metadata?: { httpStatusCode?: number } }) => {
            if (error.name === 'NotFound' || error.$metadata?.httpStatusCode === 404) return false;
            throw error;
          },
        );
      if (!arrived) {
        throw new ValidationError(
          'An attachment has not been uploaded.',
          [{ field, message: 'Upload the file with its upload URL first.' }],
          'ticket.attachment_not_uploaded',
        );
      }
      checks.push({
        check: 'ticketAttachment',
        key: { tenantId, ticketId, attachmentId },
        error: new ValidationError('Unknown attachment.', [{ field, message: 'No file with this id on this ticket.' }]),
      });
    }),
  );
  return checks;
}
