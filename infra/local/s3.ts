import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import path from 'node:path';
import S3rver from 's3rver';
import s3rverAccounts from 's3rver/lib/models/account.js';
import { LOCAL_CREDENTIALS } from './dynamodb-local.ts';
import { S3Guard, type SecretLookup } from './s3-guard.ts';
import type { TemplateResolver } from './template.ts';
import type { LocalService } from './types.ts';

/** The credentials local S3 accepts by default: the local cloud's own (what functions get as AWS_ACCESS_KEY_ID). */
export const LOCAL_S3_CREDENTIALS = LOCAL_CREDENTIALS;

/** Unix socket paths are limited to about 104 bytes (macOS) or 108 (Linux). */
const MAX_SOCKET_PATH = 100;

/**
 * Local S3: s3rver (objects under `<dataDir>/s3`) behind a guard on 127.0.0.1 that checks the Host header, the AWS
 * SigV4 signature and every name that becomes a file path (see s3-guard.ts). s3rver itself listens only on a Unix
 * socket in the data dir, so nothing reaches it without passing the guard. Every `AWS::S3::Bucket` of the template
 * is created.
 *
 * Clients reach it through AWS_ENDPOINT_URL_S3 with the local cloud's credentials. Because the endpoint host is an
 * IP literal, SDK v3 addresses buckets path-style (http://127.0.0.1:port/bucket/key) by itself, so handlers need no
 * `forcePathStyle`; setting `forcePathStyle: true` is harmless.
 */
export class LocalS3 implements LocalService {
  readonly name = 's3';

  private constructor(
    private readonly inner: Server,
    private readonly guard: S3Guard,
    private readonly socketPath: string,
    readonly buckets: string[],
    readonly directory: string,
  ) {}

  get port(): number {
    return this.guard.port;
  }

  /** Base URL for AWS_ENDPOINT_URL_S3. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(opts: {
    resolver: TemplateResolver;
    dataDir: string;
    port?: number;
    silent?: boolean;
    /** Secrets of the access keys allowed to sign requests; default: only the local cloud's credentials. */
    secretFor?: SecretLookup;
    log?: (line: string) => void;
  }): Promise<LocalS3> {
    const directory = path.join(opts.dataDir, 's3');
    await mkdir(directory, { recursive: true });
    const buckets = opts.resolver.resourcesOfType('AWS::S3::Bucket').map(([logicalId]) => opts.resolver.ref(logicalId));
    acceptAnyAccessKey();
    const s3rver = new S3rver({
      silent: opts.silent ?? true,
      directory,
      // Path-style only: a Host header is never taken as a bucket name.
      vhostBuckets: false,
      // s3rver only verifies SigV2; the guard has verified the SigV4 signature already.
      allowMismatchedSignatures: true,
      // Existing buckets are kept (s3rver just warns), so objects survive restarts.
      configureBuckets: buckets.map((name) => ({ name, configs: [] })),
    });
    await s3rver.configureBuckets();
    const socketPath = await socketPathFor(opts.dataDir);
    const inner = await s3rver.listen(socketPath);
    const secretFor =
      opts.secretFor ??
      ((accessKeyId: string) =>
        accessKeyId === LOCAL_S3_CREDENTIALS.accessKeyId ? LOCAL_S3_CREDENTIALS.secretAccessKey : undefined);
    try {
      const guard = await S3Guard.start({
        upstreamSocket: socketPath,
        secretFor,
        ...(opts.port ? { port: opts.port } : {}),
        ...(opts.log ? { log: opts.log } : {}),
      });
      return new LocalS3(inner, guard, socketPath, buckets, directory);
    } catch (error) {
      await closeServer(inner);
      throw error;
    }
  }

  async stop(): Promise<void> {
    await this.guard.stop();
    await closeServer(this.inner);
    if (!this.socketPath.startsWith('\0')) await rm(this.socketPath, { force: true });
  }
}

/** `<dataDir>/s3.sock`, or a Linux abstract socket when that path is too long for a socket. */
async function socketPathFor(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 's3.sock');
  if (Buffer.byteLength(file) <= MAX_SOCKET_PATH) {
    // A socket left by a crashed run would make listen fail with EADDRINUSE.
    if (existsSync(file)) await rm(file, { force: true });
    return file;
  }
  if (process.platform === 'linux') return `\0crm-local-s3-${process.pid}-${Math.random().toString(36).slice(2)}`;
  throw new Error(`the data dir path is too long for local S3's socket (${file}); use a shorter CRM_DATA_DIR`);
}

async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

let anyAccessKeyAccepted = false;

/**
 * s3rver rejects requests signed with an access key it does not know (InvalidAccessKeyId). The guard has checked
 * the key and signature already, so unknown keys map to s3rver's built-in account. This patches s3rver's
 * process-wide account registry once; it affects s3rver only.
 */
function acceptAnyAccessKey(): void {
  if (anyAccessKeyAccepted) return;
  const { registry, DUMMY_ACCOUNT } = s3rverAccounts;
  const get = registry.get.bind(registry);
  registry.get = (accessKeyId: string) => get(accessKeyId) ?? DUMMY_ACCOUNT;
  anyAccessKeyAccepted = true;
}
