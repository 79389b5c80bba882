import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ClaimCheckStore } from './claim-check.ts';

/** The claim-check bucket over S3. PutObject is idempotent: a retried batch rewrites the same bytes at the same key. */
export function s3ClaimCheckStore(s3: S3Client, bucket: string): ClaimCheckStore {
  return {
    bucket,
    async put(key, body) {
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json; charset=utf-8' }),
      );
    },
    async get(key) {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return object.Body!.transformToByteArray();
    },
  };
}
