import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loopbackOnly } from '../../test/support/net.ts';
import { LOCAL_CREDENTIALS } from './dynamodb-local.ts';
import { LocalS3 } from './s3.ts';
import { checkKey, NodeSha256, parseQuery, S3GuardError, verifySignature } from './s3-guard.ts';
import { TemplateResolver } from './template.ts';
import type { CfnTemplate } from './types.ts';

const template: CfnTemplate = {
  Resources: {
    MailBucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'Crm-Inbound-Mail' } },
    AssetsBucket: { Type: 'AWS::S3::Bucket' },
    Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'fn' } },
  },
};

/** Every file under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe('LocalS3', () => {
  // The data dir sits one level down, so a traversal that escapes it lands in `root`, where the test can see it.
  let root: string;
  let dataDir: string;
  let s3: LocalS3;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'local-s3-'));
    dataDir = path.join(root, 'data');
    s3 = await LocalS3.start({ resolver: new TemplateResolver(template), dataDir });
  });

  afterAll(async () => {
    await s3?.stop();
    await rm(root, { recursive: true, force: true });
  });

  const client = (
    credentials: { accessKeyId: string; secretAccessKey: string } = LOCAL_CREDENTIALS,
    endpoint: string | undefined = s3.endpoint,
  ) => new S3Client({ region: 'us-east-1', ...(endpoint ? { endpoint } : {}), credentials, maxAttempts: 1 });

  const signer = (credentials = LOCAL_CREDENTIALS) =>
    new SignatureV4({ service: 's3', region: 'us-east-1', credentials, sha256: NodeSha256, uriEscapePath: false });

  /** Sends a request exactly as given (no path normalisation), signed with SigV4 unless `sign` is false. */
  async function raw(options: {
    method: string;
    path: string;
    body?: string;
    host?: string;
    sign?: boolean;
    headers?: Record<string, string>;
  }): Promise<{ status: number; body: string }> {
    const host = options.host ?? `127.0.0.1:${s3.port}`;
    const [pathname, rawQuery = ''] = options.path.split('?');
    let headers: Record<string, string> = {
      host,
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      ...options.headers,
    };
    if (options.sign !== false) {
      const signed = await signer().sign({
        method: options.method,
        protocol: 'http:',
        hostname: host.split(':')[0]!,
        path: pathname!,
        query: parseQuery(rawQuery),
        headers,
      });
      headers = signed.headers;
    }
    return await new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: s3.port, method: options.method, path: options.path, headers },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.once('error', reject);
      req.end(options.body);
    });
  }

  it('listens on 127.0.0.1 only and creates every template bucket', async () => {
    expect(s3.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await loopbackOnly(s3.port)).toBe(true);
    const { Buckets } = await client().send(new ListBucketsCommand({}));
    expect(Buckets?.map((b) => b.Name).sort()).toEqual(['assetsbucket', 'crm-inbound-mail']);
  });

  it('puts, gets, lists, copies and deletes objects path-style with the SDK', async () => {
    const c = client();
    const paths: string[] = [];
    c.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { hostname?: string; path?: string };
        paths.push(`${request.hostname}${request.path}`);
        return next(args);
      },
      { step: 'finalizeRequest' },
    );
    const body = Buffer.from('Subject: hi\r\n\r\nbinary \x00\xff ok\r\n', 'latin1');
    await c.send(new PutObjectCommand({ Bucket: 'crm-inbound-mail', Key: 'inbound/abc', Body: body }));
    const got = await c.send(new GetObjectCommand({ Bucket: 'crm-inbound-mail', Key: 'inbound/abc' }));
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body);
    expect(paths[0]).toBe('127.0.0.1/crm-inbound-mail/inbound/abc');
    // Keys that need escaping are signed as sent.
    const odd = 'inbound/a b+c%d(ü)=&.txt';
    await c.send(new PutObjectCommand({ Bucket: 'crm-inbound-mail', Key: odd, Body: 'odd' }));
    await c.send(
      new CopyObjectCommand({ Bucket: 'assetsbucket', Key: 'copied', CopySource: 'crm-inbound-mail/inbound/abc' }),
    );
    const copied = await c.send(new GetObjectCommand({ Bucket: 'assetsbucket', Key: 'copied' }));
    expect(Buffer.from(await copied.Body!.transformToByteArray())).toEqual(body);
    const listed = await c.send(new ListObjectsV2Command({ Bucket: 'crm-inbound-mail', Prefix: 'inbound/' }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['inbound/a b+c%d(ü)=&.txt', 'inbound/abc']);
    await c.send(new DeleteObjectCommand({ Bucket: 'crm-inbound-mail', Key: odd }));
    const after = await c.send(new ListObjectsV2Command({ Bucket: 'crm-inbound-mail', Prefix: 'inbound/' }));
    expect(after.Contents?.map((o) => o.Key)).toEqual(['inbound/abc']);
  });

  it('completes a multipart upload through the SDK', async () => {
    const c = client();
    const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: 'assetsbucket', Key: 'big/file' }));
    const first = Buffer.alloc(5 * 1024 * 1024, 'a');
    const second = Buffer.from('the end');
    const parts = [];
    for (const [i, Body] of [first, second].entries()) {
      const { ETag } = await c.send(
        new UploadPartCommand({ Bucket: 'assetsbucket', Key: 'big/file', UploadId, PartNumber: i + 1, Body }),
      );
      parts.push({ ETag, PartNumber: i + 1 });
    }
    await c.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'assetsbucket',
        Key: 'big/file',
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    const got = await c.send(new GetObjectCommand({ Bucket: 'assetsbucket', Key: 'big/file' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat([first, second]))).toBe(true);
  });

  it('is reachable through AWS_ENDPOINT_URL_S3, as handlers use it', async () => {
    const previous = process.env.AWS_ENDPOINT_URL_S3;
    process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
    try {
      const c = client(LOCAL_CREDENTIALS, undefined);
      await c.send(new PutObjectCommand({ Bucket: 'assetsbucket', Key: 'k.txt', Body: 'via env' }));
      const got = await c.send(new GetObjectCommand({ Bucket: 'assetsbucket', Key: 'k.txt' }));
      expect(await got.Body!.transformToString()).toBe('via env');
    } finally {
      if (previous === undefined) delete process.env.AWS_ENDPOINT_URL_S3;
      else process.env.AWS_ENDPOINT_URL_S3 = previous;
    }
  });

  it('refuses an unsigned request', async () => {
    const response = await fetch(`${s3.endpoint}/crm-inbound-mail?list-type=2`);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('<Code>AccessDenied</Code>');
    const put = await raw({ method: 'PUT', path: '/assetsbucket/unsigned', body: 'x', sign: false });
    expect(put.status).toBe(403);
    expect(await filesUnder(path.join(dataDir, 's3', 'assetsbucket'))).not.toContainEqual(
      expect.stringContaining('unsigned'),
    );
  });

  it('refuses a wrong signature and an unknown access key', async () => {
    const wrongSecret = client({ accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' });
    await expect(
      wrongSecret.send(new PutObjectCommand({ Bucket: 'assetsbucket', Key: 'forged', Body: 'x' })),
    ).rejects.toMatchObject({ name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } });
    const unknown = client({ accessKeyId: 'SOMEONE', secretAccessKey: 'local' });
    await expect(unknown.send(new ListBucketsCommand({}))).rejects.toMatchObject({
      name: 'InvalidAccessKeyId',
      $metadata: { httpStatusCode: 403 },
    });
    // A body that is not the one whose hash was signed.
    const tampered = await raw({
      method: 'PUT',
      path: '/assetsbucket/tampered',
      body: 'other body',
      headers: { 'x-amz-content-sha256': '0'.repeat(64) },
    });
    expect(tampered.status).toBe(400);
    expect(tampered.body).toContain('XAmzContentSHA256Mismatch');
  });

  it('accepts a presigned URL and refuses it altered or expired', async () => {
    await client().send(new PutObjectCommand({ Bucket: 'assetsbucket', Key: 'shared.txt', Body: 'presigned ok' }));
    const presign = (signingDate = new Date()) =>
      signer().presign(
        {
          method: 'GET',
          protocol: 'http:',
          hostname: '127.0.0.1',
          port: s3.port,
          path: '/assetsbucket/shared.txt',
          // As @aws-sdk/s3-request-presigner does: the payload is UNSIGNED-PAYLOAD, and that header is not sent.
          headers: { host: `127.0.0.1:${s3.port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
          query: {},
        },
        {
          expiresIn: 60,
          signingDate,
          unsignableHeaders: new Set(['x-amz-content-sha256']),
          unhoistableHeaders: new Set(['x-amz-content-sha256']),
        },
      );
    const url = (request: { query?: Record<string, unknown> }, p = '/assetsbucket/shared.txt') =>
      `${s3.endpoint}${p}?${new URLSearchParams(request.query as Record<string, string>).toString().replace(/\+/g, '%20')}`;
    const good = await presign();
    const ok = await fetch(url(good));
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('presigned ok');
    expect((await fetch(url(good, '/assetsbucket/other.txt'))).status).toBe(403);
    const old = await presign(new Date(Date.now() - 3600_000));
    expect((await fetch(url(old))).status).toBe(403);
  });

  it('refuses a request whose Host is not its own (DNS rebinding), even when signed', async () => {
    const rebound = await raw({
      method: 'GET',
      path: '/assetsbucket?list-type=2',
      host: `attacker.example:${s3.port}`,
    });
    expect(rebound.status).toBe(400);
    expect(rebound.body).toContain('InvalidHost');
    const otherPort = await raw({ method: 'GET', path: '/assetsbucket?list-type=2', host: '127.0.0.1:1' });
    expect(otherPort.status).toBe(400);
    const localhost = await raw({ method: 'GET', path: '/assetsbucket?list-type=2', host: `localhost:${s3.port}` });
    expect(localhost.status).toBe(200);
  });

  it('refuses traversal through the key, uploadId and partNumber, and writes or deletes nothing outside its folder', async () => {
    // A file outside the data dir that s3rver would delete for key `../../victim` of a bucket.
    const victim = path.join(root, 'victim._S3rver_object');
    await writeFile(victim, 'keep me');
    const { UploadId } = await client().send(new CreateMultipartUploadCommand({ Bucket: 'assetsbucket', Key: 'mp' }));
    expect(UploadId).toMatch(/^[0-9a-f]{32}$/);
    const attempts = [
      { method: 'PUT', path: '/assetsbucket/../../../pwned-key' },
      { method: 'PUT', path: '/assetsbucket/%2e%2e/%2E%2E/%2e%2e/pwned-encoded' },
      { method: 'PUT', path: '/assetsbucket/a/..%2f..%2f..%2f..%2fpwned-slash' },
      { method: 'PUT', path: '/assetsbucket/a%5c..%5c..%5cpwned-backslash' },
      { method: 'PUT', path: '/assetsbucket/pwned%00nul' },
      { method: 'PUT', path: '/assetsbucket//etc/pwned-absolute' },
      { method: 'PUT', path: '/assetsbucket/mp?partNumber=1&uploadId=..%2F..%2F..%2Fpwned-upload' },
      { method: 'PUT', path: `/assetsbucket/mp?partNumber=..%2F..%2F..%2F..%2Fpwned-part&uploadId=${UploadId}` },
      { method: 'PUT', path: `/assetsbucket/mp?partNumber=0&uploadId=${UploadId}` },
      { method: 'PUT', path: `/assetsbucket/mp?partNumber=10001&uploadId=${UploadId}` },
      { method: 'PUT', path: `/assetsbucket/mp?partNumber=1e3&uploadId=${UploadId}` },
      { method: 'PUT', path: '/assetsbucket/copy', headers: { 'x-amz-copy-source': '/assetsbucket/../../victim' } },
      { method: 'PUT', path: '/..%2f..%2fpwned-bucket' },
      { method: 'DELETE', path: '/assetsbucket/../../victim' },
      { method: 'DELETE', path: '/assetsbucket/%2e%2e/%2e%2e/victim' },
      { method: 'DELETE', path: '/assetsbucket/mp?uploadId=..%2f..%2f..%2fvictim' },
    ];
    for (const attempt of attempts) {
      const response = await raw({ ...attempt, body: attempt.method === 'PUT' ? 'pwned' : undefined });
      expect(response.status, `${attempt.method} ${attempt.path}: ${response.body}`).toBeGreaterThanOrEqual(400);
      expect(response.status, `${attempt.method} ${attempt.path}`).toBeLessThan(500);
    }
    // Outside the data dir there is still only the victim, unchanged.
    expect((await filesUnder(root)).filter((f) => !f.startsWith(`data${path.sep}`))).toEqual(['victim._S3rver_object']);
    expect((await stat(victim)).size).toBe('keep me'.length);
    expect(JSON.stringify(await filesUnder(dataDir))).not.toContain('pwned');
    // A well-formed part still goes through after all that.
    await client().send(
      new UploadPartCommand({ Bucket: 'assetsbucket', Key: 'mp', UploadId, PartNumber: 10_000, Body: 'last part' }),
    );
  });

  it('checks keys and signatures as units', async () => {
    for (const bad of ['..', 'a/../b', './a', 'a\\b', '/abs', 'C:x', 'nul\0', '']) {
      expect(() => checkKey(bad), bad).toThrow(S3GuardError);
    }
    for (const good of ['a', 'a/b/c.txt', '...', 'a..b', 'a/.hidden', 'ünïcode/ key'])
      expect(() => checkKey(good)).not.toThrow();
    await expect(
      verifySignature({
        method: 'GET',
        rawPath: '/b',
        query: {},
        headers: { authorization: 'AWS AKIDEXAMPLE:c2lnbmF0dXJl', host: 'x' },
        secretFor: () => 'x',
      }),
    ).rejects.toMatchObject({ code: 'AuthorizationHeaderMalformed' });
  });

  it('keeps objects across a restart on the same data dir', async () => {
    await client().send(new PutObjectCommand({ Bucket: 'assetsbucket', Key: 'persist', Body: 'still here' }));
    await s3.stop();
    s3 = await LocalS3.start({ resolver: new TemplateResolver(template), dataDir });
    const got = await client().send(new GetObjectCommand({ Bucket: 'assetsbucket', Key: 'persist' }));
    expect(await got.Body!.transformToString()).toBe('still here');
  });
});
