import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalS3 } from './s3.ts';
import { TemplateResolver } from './template.ts';
import type { CfnTemplate } from './types.ts';

const template: CfnTemplate = {
  Resources: {
    MailBucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'Crm-Inbound-Mail' } },
    AssetsBucket: { Type: 'AWS::S3::Bucket' },
    Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'fn' } },
  },
};

describe('LocalS3', () => {
  let dataDir: string;
  let s3: LocalS3;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'local-s3-'));
    s3 = await LocalS3.start({ resolver: new TemplateResolver(template), dataDir });
  });

  afterAll(async () => {
    await s3?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const client = (accessKeyId = 'local', endpoint: string | undefined = s3.endpoint) =>
    new S3Client({
      region: 'us-east-1',
      ...(endpoint ? { endpoint } : {}),
      credentials: { accessKeyId, secretAccessKey: 'whatever' },
    });

  it('listens on 127.0.0.1 only and creates every template bucket', async () => {
    expect(s3.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s3.port).toBeGreaterThan(0);
    const { Buckets } = await client().send(new ListBucketsCommand({}));
    expect(Buckets?.map((b) => b.Name).sort()).toEqual(['assetsbucket', 'crm-inbound-mail']);
  });

  it('puts and gets objects path-style without forcePathStyle, with any access key', async () => {
    const c = client('SOME-HANDLER-KEY');
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
    const listed = await c.send(new ListObjectsV2Command({ Bucket: 'crm-inbound-mail', Prefix: 'inbound/' }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['inbound/abc']);
  });

  it('is reachable through AWS_ENDPOINT_URL_S3, as handlers use it', async () => {
    const previous = process.env.AWS_ENDPOINT_URL_S3;
    process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
    try {
      const c = client('local', undefined);
      await c.send(new PutObjectCommand({ Bucket: 'assetsbucket', Key: 'k.txt', Body: 'via env' }));
      const got = await c.send(new GetObjectCommand({ Bucket: 'assetsbucket', Key: 'k.txt' }));
      expect(await got.Body!.transformToString()).toBe('via env');
    } finally {
      if (previous === undefined) delete process.env.AWS_ENDPOINT_URL_S3;
      else process.env.AWS_ENDPOINT_URL_S3 = previous;
    }
  });

  it('keeps objects across a restart on the same data dir', async () => {
    await client().send(new PutObjectCommand({ Bucket: 'assetsbucket', Key: 'persist', Body: 'still here' }));
    await s3.stop();
    s3 = await LocalS3.start({ resolver: new TemplateResolver(template), dataDir });
    const got = await client().send(new GetObjectCommand({ Bucket: 'assetsbucket', Key: 'persist' }));
    expect(await got.Body!.transformToString()).toBe('still here');
  });
});
