import { Agent, createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Operations DynamoDB Local acknowledges before their SQLite COMMIT has run. */
const UNCOMMITTED_WHEN_ACKNOWLEDGED = new Set([
  'DynamoDB_20120810.TransactWriteItems',
  'DynamoDB_20120810.ExecuteTransaction',
]);

const readAll = async (stream: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

/**
 * The barrier as a group commit: an answer waits for a ListTables sent after it arrived, and one ListTables serves
 * every answer that arrived before it was sent (at most one in flight, the next one gathering the waiters meanwhile),
 * so concurrent transactions share barriers. A raw request on the proxy's agent (DynamoDB Local runs with -sharedDb
 * and does not check signatures, so the transaction's own Authorization header will do): no SDK signing per barrier.
 */
class GroupBarrier {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(
    private readonly upstream: URL,
    private readonly agent: Agent,
  ) {}

  wait(authorization: string): Promise<void> {
    if (!this.running) return this.start(authorization);
    this.next ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.start(authorization);
      });
    return this.next;
  }

  private start(authorization: string): Promise<void> {
    const running = this.listTables(authorization).finally(() => {
      if (this.running === running) this.running = undefined;
    });
    this.running = running;
    return running;
  }

  private listTables(authorization: string): Promise<void> {
    const body = '{"Limit":1}';
    return new Promise<void>((resolve, reject) => {
      const call = request(
        {
          host: this.upstream.hostname,
          port: this.upstream.port,
          method: 'POST',
          path: '/',
          headers: {
            host: this.upstream.host,
            'content-type': 'application/x-amz-json-1.0',
            'x-amz-target': 'DynamoDB_20120810.ListTables',
            'content-length': String(Buffer.byteLength(body)),
            authorization,
          },
          agent: this.agent,
        },
        (response) => {
          readAll(response).then((text) => {
            if (response.statusCode === 200) resolve();
            else reject(new Error(`commit barrier: ListTables answered ${response.statusCode}: ${text}`));
          }, reject);
        },
      );
      call.once('error', reject);
      call.end(body);
    });
  }
}

/**
 * A pass-through proxy on 127.0.0.1 in front of a persistent DynamoDB Local that makes its acknowledgements mean
 * durable. DynamoDB Local answers a TransactWriteItems before the SQLite COMMIT it queued has run (seen in its code,
 * `SQLiteDBAccess.commitTransaction` does not wait for the job, and with strace: 38 ms between the 200 and the
 * journal's deletion), so a `kill -9` in that gap rolls back a write the client was told succeeded: the item and its
 * stream records vanish. Its SQLite jobs run first-in first-out on one queue, so after a successful transaction the
 * proxy answers the client only when a ListTables sent after it has returned (GroupBarrier): by then the COMMIT has
 * run. Everything else (reads, single-item writes, which it does commit before answering, and the Streams API)
 * passes unchanged.
 */
export class CommitBarrier {
  private constructor(
    private readonly server: Server,
    private readonly agent: Agent,
    readonly endpoint: string,
  ) {}

  static async start(target: string): Promise<CommitBarrier> {
    const upstream = new URL(target);
    const agent = new Agent({ keepAlive: true });
    const barrier = new GroupBarrier(upstream, agent);
    const server = createServer(async (req, res) => {
      try {
        const body = await readAll(req);
        const answer = await new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>(
          (resolve, reject) => {
            const forwarded = request(
              {
                host: upstream.hostname,
                port: upstream.port,
                method: req.method,
                path: req.url,
                headers: { ...req.headers, host: upstream.host },
                agent,
              },
              (response) => {
                readAll(response).then(
                  (data) => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: data }),
                  reject,
                );
              },
            );
            forwarded.once('error', reject);
            forwarded.end(body);
          },
        );
        const target = String(req.headers['x-amz-target'] ?? '');
        if (answer.status === 200 && UNCOMMITTED_WHEN_ACKNOWLEDGED.has(target)) {
          await barrier.wait(String(req.headers.authorization ?? ''));
        }
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
      } catch (error) {
        // DynamoDB Local is gone or the barrier failed: the write's fate is unknown, as after a lost connection.
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(String(error));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return new CommitBarrier(server, agent, `http://127.0.0.1:${port}`);
  }

  async stop(): Promise<void> {
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
