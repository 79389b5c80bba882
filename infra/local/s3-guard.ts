import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { getCanonicalHeaders, getSigningKey, SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest, QueryParameterBag, SourceData } from '@smithy/types';
import { isOwnHost } from './aws-http.ts';

/**
 * A guard in front of the local S3 emulator (s3rver), which on its own accepts unsigned requests and builds file
 * paths from the key, `uploadId` and `partNumber` as sent. The guard listens on 127.0.0.1 and passes a request on
 * (to s3rver on a Unix socket, so s3rver has no TCP port at all) only when:
 *
 * - the Host header names this server (127.0.0.1 or localhost with its port): a page that rebinds its own host name
 *   to 127.0.0.1 (DNS rebinding) is refused;
 * - the bucket name, key, `uploadId`, `partNumber` and `x-amz-copy-source` are well formed: no `..` or `.` segment,
 *   backslash, NUL or leading `/` in a key, a part number from 1 to 10000, an upload id as s3rver issues them;
 * - the request carries a valid AWS Signature Version 4 (Authorization header or presigned query) computed with a
 *   secret this local cloud knows, recomputed here with @smithy/signature-v4 (the SDK's own signer). A payload hash
 *   in x-amz-content-sha256 is checked against the body; UNSIGNED-PAYLOAD and the streaming forms are accepted as
 *   AWS accepts them (for STREAMING-AWS4-HMAC-SHA256-PAYLOAD the seed signature is checked, the chunk signatures
 *   are not).
 *
 * Anything else gets an S3-style XML error with a 4xx status, and never reaches s3rver.
 */

/** Looks up the secret of an access key; undefined means the key is unknown. */
export type SecretLookup = (accessKeyId: string) => string | undefined;

export class S3GuardError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Bodies whose SHA-256 must be checked are held in memory first; larger ones are refused. */
export const MAX_HASHED_BODY_BYTES = 64 * 1024 * 1024;
/** As AWS: a signed request's time may differ from ours by up to 15 minutes. */
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGNED_SECONDS = 7 * 24 * 60 * 60;
const ALGORITHM = 'AWS4-HMAC-SHA256';
const STREAMING_PAYLOADS = new Set([
  'UNSIGNED-PAYLOAD',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
]);

/** Bucket names as S3 allows them (3-63 characters, lower case, digits, dots, hyphens; no `..`). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** s3rver issues 32 hex digits; other S3 servers use longer url-safe ids. */
const UPLOAD_ID = /^[A-Za-z0-9_-]{1,128}$/;
const PART_NUMBER = /^[1-9][0-9]{0,4}$/;

export interface S3Target {
  bucket?: string;
  key?: string;
}

function decodeComponent(value: string, what: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new S3GuardError(400, 'InvalidURI', `${what} is not valid percent-encoding`);
  }
}

export function checkBucketName(bucket: string): void {
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..')) {
    throw new S3GuardError(400, 'InvalidBucketName', 'The specified bucket is not valid.');
  }
}

/** A key s3rver can store without its file path leaving the bucket's folder (or two keys sharing one file). */
export function checkKey(key: string): void {
  if (key.length === 0 || Buffer.byteLength(key) > 1024) {
    throw new S3GuardError(400, 'KeyTooLongError', 'The key must be 1 to 1024 bytes long.');
  }
  if (key.includes('\0') || key.includes('\\') || key.startsWith('/') || /^[A-Za-z]:/.test(key)) {
    throw new S3GuardError(
      400,
      'InvalidArgument',
      'The key may not contain NUL or backslashes, nor start with / or a drive.',
    );
  }
  if (key.split('/').some((segment) => segment === '..' || segment === '.')) {
    throw new S3GuardError(400, 'InvalidArgument', 'The key may not contain "." or ".." path segments.');
  }
}

/** Splits the raw query string; keys without a value get '' (as `?uploads` is signed as `uploads=`). */
export function parseQuery(rawQuery: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  if (!rawQuery) return query;
  for (const part of rawQuery.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = decodeComponent(eq === -1 ? part : part.slice(0, eq), 'a query parameter');
    const value = eq === -1 ? '' : decodeComponent(part.slice(eq + 1), 'a query parameter');
    const existing = query[name];
    if (existing === undefined) query[name] = value;
    else query[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return query;
}

function single(query: Record<string, string | string[]>, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) throw new S3GuardError(400, 'InvalidArgument', `${name} may be given once.`);
  return value;
}

/** Checks the bucket, key and every query parameter or header that s3rver turns into a file path. */
export function checkTarget(
  rawPath: string,
  query: Record<string, string | string[]>,
  headers: IncomingMessage['headers'],
): S3Target {
  if (!rawPath.startsWith('/')) throw new S3GuardError(400, 'InvalidURI', 'The request path must start with /.');
  const slash = rawPath.indexOf('/', 1);
  const bucketPart = slash === -1 ? rawPath.slice(1) : rawPath.slice(1, slash);
  const keyPart = slash === -1 ? '' : rawPath.slice(slash + 1);
  const target: S3Target = {};
  if (bucketPart) {
    target.bucket = decodeComponent(bucketPart, 'The bucket name');
    checkBucketName(target.bucket);
  }
  if (keyPart) {
    target.key = decodeComponent(keyPart, 'The key');
    checkKey(target.key);
  }
  const uploadId = single(query, 'uploadId');
  if (uploadId !== undefined && !UPLOAD_ID.test(uploadId)) {
    throw new S3GuardError(400, 'InvalidArgument', 'uploadId is malformed.');
  }
  const partNumber = single(query, 'partNumber');
  if (partNumber !== undefined && (!PART_NUMBER.test(partNumber) || Number(partNumber) > 10_000)) {
    throw new S3GuardError(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
  }
  const copySource = headers['x-amz-copy-source'];
  if (copySource !== undefined) {
    const source = decodeComponent(String(copySource).split('?')[0]!, 'x-amz-copy-source').replace(/^\//, '');
    const cut = source.indexOf('/');
    if (cut === -1) throw new S3GuardError(400, 'InvalidArgument', 'x-amz-copy-source must name a bucket and a key.');
    checkBucketName(source.slice(0, cut));
    checkKey(source.slice(cut + 1));
  }
  return target;
}

/** Accepts only this server's own host names with its port: a rebound DNS name never matches. */
export function checkHost(host: string | undefined, port: number): void {
  if (!isOwnHost(host, port)) {
    throw new S3GuardError(400, 'InvalidHost', `This local S3 answers only to 127.0.0.1:${port} or localhost:${port}.`);
  }
}

const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string' || ArrayBuffer.isView(data)
    ? (data as string | Uint8Array)
    : new Uint8Array(data as ArrayBuffer);

/** SHA-256 (or HMAC-SHA256 with a secret) in the shape the smithy signer expects, from node:crypto. */
export class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

/** The SDK's SigV4 signer, opened up to recompute a received request's string to sign. */
class Recomputer extends SignatureV4 {
  constructor() {
    // S3 signs the path as sent (no second escaping) and names the payload hash itself.
    super({
      service: 's3',
      region: 'us-east-1',
      credentials: { accessKeyId: '', secretAccessKey: '' },
      sha256: NodeSha256,
      uriEscapePath: false,
    });
  }

  async stringToSign(
    request: HttpRequest,
    signedHeaders: string[],
    payloadHash: string,
    longDate: string,
    scope: string,
  ): Promise<string> {
    const canonicalHeaders = getCanonicalHeaders(request, undefined, new Set(signedHeaders));
    const names = Object.keys(canonicalHeaders).sort();
    if (names.join(';') !== signedHeaders.join(';')) {
      throw new S3GuardError(403, 'SignatureDoesNotMatch', 'A signed header is missing from the request.');
    }
    return await this.createStringToSign(
      longDate,
      scope,
      this.createCanonicalRequest(request, canonicalHeaders, payloadHash),
      ALGORITHM,
    );
  }
}

const recomputer = new Recomputer();

interface Credential {
  accessKeyId: string;
  shortDate: string;
  region: string;
  service: string;
}

function parseCredential(value: string): Credential {
  const match = /^([^/\s]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request$/.exec(value);
  if (!match) throw new S3GuardError(400, 'AuthorizationHeaderMalformed', 'The credential scope is malformed.');
  return { accessKeyId: match[1]!, shortDate: match[2]!, region: match[3]!, service: match[4]! };
}

function parseLongDate(longDate: string | undefined): Date {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(longDate ?? '');
  if (!match) throw new S3GuardError(403, 'AccessDenied', 'X-Amz-Date is missing or malformed.');
  const [, y, mo, d, h, mi, s] = match;
  return new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
}

async function signatureFor(credential: Credential, secretAccessKey: string, stringToSign: string): Promise<Buffer> {
  const key = await getSigningKey(
    NodeSha256,
    { accessKeyId: credential.accessKeyId, secretAccessKey },
    credential.shortDate,
    credential.region,
    credential.service,
  );
  return createHmac('sha256', key).update(stringToSign).digest();
}

function sameSignature(expected: Buffer, given: string): boolean {
  const received = Buffer.from(given, 'hex');
  return received.length === expected.length && timingSafeEqual(received, expected);
}

export interface VerifiedRequest {
  accessKeyId: string;
  /** The payload hash the signature covers: a hex SHA-256 the body must match, or one of the unsigned forms. */
  payloadHash: string;
}

/**
 * Verifies the SigV4 signature of a request (header or presigned query form). `headers` are Node's lower-cased
 * request headers; `rawPath` is the path exactly as sent (S3 signs it without re-escaping).
 */
export async function verifySignature(options: {
  method: string;
  rawPath: string;
  query: Record<string, string | string[]>;
  headers: IncomingMessage['headers'];
  secretFor: SecretLookup;
  now?: Date;
}): Promise<VerifiedRequest> {
  const { method, rawPath, query, headers, secretFor } = options;
  const now = options.now ?? new Date();
  const authorization = headers.authorization;
  const presigned = query['X-Amz-Algorithm'] !== undefined;
  if (authorization !== undefined && presigned) {
    throw new S3GuardError(400, 'InvalidArgument', 'Only one auth mechanism allowed.');
  }
  let credential: Credential;
  let signedHeaders: string[];
  let signature: string;
  let longDate: string;
  let payloadHash: string;
  let requestQuery: QueryParameterBag = query;
  if (authorization !== undefined) {
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/.exec(
        authorization,
      );
    if (!match) {
      throw new S3GuardError(400, 'AuthorizationHeaderMalformed', 'Only AWS Signature Version 4 is accepted.');
    }
    credential = parseCredential(match[1]!);
    signedHeaders = match[2]!.split(';');
    signature = match[3]!;
    longDate = String(headers['x-amz-date'] ?? '');
    const date = parseLongDate(longDate);
    if (Math.abs(now.getTime() - date.getTime()) > MAX_SKEW_MS) {
      throw new S3GuardError(
        403,
        'RequestTimeTooSkewed',
        'The difference between the request time and now is too large.',
      );
    }
    const declared = headers['x-amz-content-sha256'];
    if (typeof declared !== 'string') {
      throw new S3GuardError(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256.');
    }
    payloadHash = declared;
  } else if (presigned) {
    if (query['X-Amz-Algorithm'] !== ALGORITHM) {
      throw new S3GuardError(400, 'AuthorizationQueryParametersError', 'X-Amz-Algorithm must be AWS4-HMAC-SHA256.');
    }
    credential = parseCredential(single(query, 'X-Amz-Credential') ?? '');
    signedHeaders = (single(query, 'X-Amz-SignedHeaders') ?? '').split(';');
    signature = single(query, 'X-Amz-Signature') ?? '';
    if (!/^[0-9a-f]{64}$/.test(signature)) {
      throw new S3GuardError(400, 'AuthorizationQueryParametersError', 'X-Amz-Signature is malformed.');
    }
    longDate = single(query, 'X-Amz-Date') ?? '';
    const date = parseLongDate(longDate);
    const expires = Number(single(query, 'X-Amz-Expires'));
    if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGNED_SECONDS) {
      throw new S3GuardError(400, 'AuthorizationQueryParametersError', 'X-Amz-Expires must be 1 to 604800 seconds.');
    }
    if (now.getTime() > date.getTime() + expires * 1000 || date.getTime() - now.getTime() > MAX_SKEW_MS) {
      throw new S3GuardError(403, 'AccessDenied', 'Request has expired.');
    }
    const { 'X-Amz-Signature': _signature, ...rest } = query;
    requestQuery = rest;
    const declared = headers['x-amz-content-sha256'];
    payloadHash =
      typeof declared === 'string' && signedHeaders.includes('x-amz-content-sha256') ? declared : 'UNSIGNED-PAYLOAD';
  } else {
    throw new S3GuardError(403, 'AccessDenied', 'Anonymous requests are not accepted: sign the request (AWS SigV4).');
  }
  if (!signedHeaders.includes('host')) {
    throw new S3GuardError(403, 'AccessDenied', 'The Host header must be signed.');
  }
  if (longDate.slice(0, 8) !== credential.shortDate) {
    throw new S3GuardError(403, 'SignatureDoesNotMatch', 'The credential date does not match X-Amz-Date.');
  }
  if (credential.service !== 's3') {
    throw new S3GuardError(403, 'SignatureDoesNotMatch', 'The credential scope must be for the s3 service.');
  }
  if (!/^[0-9a-f]{64}$/.test(payloadHash) && !STREAMING_PAYLOADS.has(payloadHash)) {
    throw new S3GuardError(400, 'InvalidArgument', 'x-amz-content-sha256 must be a SHA-256 or UNSIGNED-PAYLOAD.');
  }
  const secretAccessKey = secretFor(credential.accessKeyId);
  if (secretAccessKey === undefined) {
    throw new S3GuardError(403, 'InvalidAccessKeyId', 'The AWS access key id you provided does not exist here.');
  }
  const signed: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = headers[name];
    if (value !== undefined) signed[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const request = { method, protocol: 'http:', hostname: '', path: rawPath, query: requestQuery, headers: signed };
  const scope = `${credential.shortDate}/${credential.region}/${credential.service}/aws4_request`;
  const stringToSign = await recomputer.stringToSign(
    request as HttpRequest,
    signedHeaders,
    payloadHash,
    longDate,
    scope,
  );
  if (!sameSignature(await signatureFor(credential, secretAccessKey, stringToSign), signature)) {
    throw new S3GuardError(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided.',
    );
  }
  return { accessKeyId: credential.accessKeyId, payloadHash };
}

function sendError(res: ServerResponse, error: S3GuardError, resource: string): void {
  const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code>` +
    `<Message>${escapeXml(error.message)}</Message><Resource>${escapeXml(resource)}</Resource></Error>`;
  res.writeHead(error.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      throw new S3GuardError(
        400,
        'EntityTooLarge',
        `A body whose SHA-256 is signed may be at most ${limit} bytes here.`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The guard's HTTP server: checks each request, then hands it to `upstreamSocket` (s3rver) unchanged. */
export class S3Guard {
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(options: {
    upstreamSocket: string;
    secretFor: SecretLookup;
    port?: number;
    log?: (line: string) => void;
  }): Promise<S3Guard> {
    const log = options.log ?? (() => {});
    let port = 0;
    const server = createServer((req, res) => {
      void (async () => {
        const url = req.url ?? '/';
        const q = url.indexOf('?');
        const rawPath = q === -1 ? url : url.slice(0, q);
        try {
          checkHost(req.headers.host, port);
          const query = parseQuery(q === -1 ? '' : url.slice(q + 1));
          checkTarget(rawPath, query, req.headers);
          const verified = await verifySignature({
            method: req.method ?? 'GET',
            rawPath,
            query,
            headers: req.headers,
            secretFor: options.secretFor,
          });
          let body: Buffer | undefined;
          if (/^[0-9a-f]{64}$/.test(verified.payloadHash)) {
            body = await readBody(req, MAX_HASHED_BODY_BYTES);
            if (createHash('sha256').update(body).digest('hex') !== verified.payloadHash) {
              throw new S3GuardError(
                400,
                'XAmzContentSHA256Mismatch',
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
              );
            }
          }
          const upstream = httpRequest({
            socketPath: options.upstreamSocket,
            method: req.method,
            path: url,
            headers: req.headers,
          });
          upstream.once('response', (response) => {
            res.writeHead(response.statusCode ?? 502, response.headers);
            response.pipe(res);
          });
          upstream.once('error', (error) => {
            log(`s3: upstream failed: ${error.message}`);
            if (!res.headersSent) sendError(res, new S3GuardError(503, 'ServiceUnavailable', 'S3 is stopping.'), url);
            else res.destroy();
          });
          if (body) upstream.end(body);
          else {
            req.pipe(upstream);
            // A client that goes away mid-upload must not leave s3rver waiting for the rest.
            req.once('close', () => {
              if (!req.complete) upstream.destroy();
            });
          }
        } catch (error) {
          const refused =
            error instanceof S3GuardError ? error : new S3GuardError(400, 'InvalidRequest', (error as Error).message);
          log(`s3: refused ${req.method} ${rawPath}: ${refused.code} ${refused.message}`);
          // Drain what the client still sends, so it reads the answer instead of a reset connection.
          req.resume();
          sendError(res, refused, rawPath);
        }
      })();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    port = (server.address() as AddressInfo).port;
    return new S3Guard(server, port);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
