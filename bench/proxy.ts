import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the proxy forwarded: its operation and the ElectroDB entities its items carry. */
export interface SeenRequest {
  operation: string;
  entities: string[];
  bytes: number;
  at: number;
  /** The parsed request body (kept only while recording): what a replay sends again. */
  body?: unknown;
}

/**
 * A counting HTTP proxy in front of DynamoDB Local, on 127.0.0.1. It forwards every request unchanged over a
 * keep-alive agent and records its operation (from X-Amz-Target) so a benchmark can tell how many DynamoDB calls an
 * API call made. Bodies are only inspected while recording, so the throughput runs pay for forwarding alone.
 */
export class CountingProxy {
  readonly counts = new Map<string, number>();
  /** The last request body per operation (kept as is, parsed on demand): compares the API's requests with ours. */
  private readonly samples = new Map<string, Buffer>();
  private log: SeenRequest[] | undefined;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });

  private constructor(
    private readonly server: ReturnType<typeof createServer>,
    readonly target: URL,
    readonly endpoint: string,
  ) {}

  static async start(targetEndpoint: string): Promise<CountingProxy> {
    const target = new URL(targetEndpoint);
    if (target.hostname !== '127.0.0.1') throw new Error(`the proxy only forwards to 127.0.0.1, not ${target.host}`);
    let proxy: CountingProxy | undefined;
    const server = createServer((req, res) => proxy!.forward(req, res));
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    proxy = new CountingProxy(server, target, `http://127.0.0.1:${port}`);
    return proxy;
  }

  /** Starts keeping a detailed log (operation, entities, time) of every request; `stopRecording` returns it. */
  record(): void {
    this.log = [];
  }

  stopRecording(): SeenRequest[] {
    const log = this.log ?? [];
    this.log = undefined;
    return log;
  }

  /** The last request bodies seen, parsed, and forgets them. */
  takeSamples(): Record<string, unknown> {
    const parsed = Object.fromEntries([...this.samples].map(([op, body]) => [op, safeJson(body)]));
    this.samples.clear();
    return parsed;
  }

  total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.agent.destroy();
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const target = String(req.headers['x-amz-target'] ?? 'unknown');
    const operation = target.slice(target.indexOf('.') + 1);
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (this.log) {
        this.log.push({
          operation,
          entities: entitiesOf(body),
          bytes: body.length,
          at: Date.now(),
          body: safeJson(body),
        });
      }
      this.samples.set(operation, body);
      const upstream = request(
        {
          host: this.target.hostname,
          port: this.target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent: this.agent,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', (error) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`proxy: ${error.message}`);
      });
      upstream.end(body);
    });
  }
}

function safeJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The ElectroDB entity names (`__edb_e__`) in a request body, e.g. contact + lookup in a create's transaction. */
function entitiesOf(body: Buffer): string[] {
  const found = new Set<string>();
  for (const m of body.toString('utf8').matchAll(/"__edb_e__":\{"S":"([^"]+)"\}/g)) found.add(m[1]!);
  // Keys name their entity too (ElectroDB's sort key `$<entity>_<version>`): gets, updates and deletes carry no item.
  for (const m of body.toString('utf8').matchAll(/"sk":\{"S":"\$([A-Za-z]+)_\d+"\}/g)) found.add(m[1]!);
  return [...found].sort();
}
