import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { LocalS3 } from '../../infra/local/s3.ts';
import { TemplateResolver } from '../../infra/local/template.ts';
import type { ClaimCheckStore } from '../../shared/events/claim-check.ts';
import { s3ClaimCheckStore } from '../../shared/events/s3-store.ts';

/**
 * The local S3 (s3rver on 127.0.0.1, a temp directory) with one claim-check bucket, for tests that store and read
 * claim checks for real. `stop` closes the server and removes the directory.
 */
export async function startLocalClaimChecks(bucket = 'claim-checks'): Promise<{
  endpoint: string;
  bucket: string;
  client: S3Client;
  store: ClaimCheckStore;
  stop: () => Promise<void>;
}> {
  const dataDir = await mkdtemp(join(tmpdir(), 'claim-checks-'));
  const resolver = new TemplateResolver({
    Resources: { ClaimChecks: { Type: 'AWS::S3::Bucket', Properties: { BucketName: bucket } } },
  });
  const s3 = await LocalS3.start({ resolver, dataDir });
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: s3.endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  return {
    endpoint: s3.endpoint,
    bucket,
    client,
    store: s3ClaimCheckStore(client, bucket),
    stop: async () => {
      client.destroy();
      await s3.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
