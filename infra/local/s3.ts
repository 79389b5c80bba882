import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import S3rver from 's3rver';
import s3rverAccounts from 's3rver/lib/models/account.js';
import type { TemplateResolver } from './template.ts';
import type { LocalService } from './types.ts';

/** Credentials s3rver knows out of the box; any other access key is accepted too (see acceptAnyAccessKey). */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/**
 * Local S3 (s3rver on 127.0.0.1) with every `AWS::S3::Bucket` of the template created, objects under `<dataDir>/s3`.
 *
 * Clients reach it through AWS_ENDPOINT_URL_S3. Because the endpoint host is an IP literal, SDK v3 addresses
 * buckets path-style (http://127.0.0.1:port/bucket/key) by itself, so handlers need no `forcePathStyle`; setting
 * `forcePathStyle: true` is harmless, and needed only if someone points the endpoint at a host name.
 */
export class LocalS3 implements LocalService {
  readonly name = 's3';

  private constructor(
    private readonly server: S3rver,
    readonly port: number,
    readonly buckets: string[],
    readonly directory: string,
  ) {}

  /** Base URL for AWS_ENDPOINT_URL_S3. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(opts: {
    resolver: TemplateResolver;
    dataDir: string;
    port?: number;
    silent?: boolean;
  }): Promise<LocalS3> {
    const directory = path.join(opts.dataDir, 's3');
    await mkdir(directory, { recursive: true });
    const buckets = opts.resolver.resourcesOfType('AWS::S3::Bucket').map(([logicalId]) => opts.resolver.ref(logicalId));
    acceptAnyAccessKey();
    const server = new S3rver({
      address: '127.0.0.1',
      port: opts.port ?? 0,
      silent: opts.silent ?? true,
      directory,
      // Path-style only: a Host header is never taken as a bucket name.
      vhostBuckets: false,
      // s3rver only verifies SigV2; whatever secret a local handler signs with must not matter.
      allowMismatchedSignatures: true,
      // Existing buckets are kept (s3rver just warns), so objects survive restarts.
      configureBuckets: buckets.map((name) => ({ name, configs: [] })),
    });
    const address = await server.run();
    return new LocalS3(server, address.port, buckets, directory);
  }

  async stop(): Promise<void> {
    await this.server.close();
  }
}

let anyAccessKeyAccepted = false;

/**
 * s3rver rejects requests signed with an access key it does not know (InvalidAccessKeyId). Local handlers sign with
 * whatever AWS_ACCESS_KEY_ID the local cloud gives them, so unknown keys map to s3rver's built-in account. This
 * patches s3rver's process-wide account registry once; it affects s3rver only.
 */
function acceptAnyAccessKey(): void {
  if (anyAccessKeyAccepted) return;
  const { registry, DUMMY_ACCOUNT } = s3rverAccounts;
  const get = registry.get.bind(registry);
  registry.get = (accessKeyId: string) => get(accessKeyId) ?? DUMMY_ACCOUNT;
  anyAccessKeyAccepted = true;
}
