import { type AddressInfo, createServer, type Server } from 'node:net';
import type { LocalService } from './types.ts';

/** A port free at the moment of asking, for a server this process cannot hand a socket to (DynamoDB Local's JVM). */
export async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listenOn(server, 0);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Makes `server` listen on `host` at `port` (0: a free one), or on a held socket (Node's `listen(handle)`); resolves
 * with the port once it listens, rejects if it cannot.
 */
export async function listenOn(server: Server, on: number | Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const listening = () => {
      server.off('error', reject);
      resolve();
    };
    if (typeof on === 'number') server.listen(on, host, listening);
    else server.listen(on, listening);
  });
  return (server.address() as AddressInfo).port;
}

/**
 * A port held by a listening socket until a server adopts that socket, so no other process can take the port between
 * choosing it and serving on it (freePort's close-then-listen leaves that window open). Stopping it frees the port
 * only while it is not adopted: after `adopt`, the adopting server owns the socket.
 */
export class PortReservation implements LocalService {
  readonly name = 'port-reservation';
  private adopted = false;

  private constructor(
    private readonly socket: Server,
    readonly port: number,
  ) {}

  static async hold(host = '127.0.0.1'): Promise<PortReservation> {
    const socket = createServer();
    return new PortReservation(socket, await listenOn(socket, 0, host));
  }

  /** Makes `server` listen on the held socket. */
  async adopt(server: Server): Promise<void> {
    await listenOn(server, this.socket);
    this.adopted = true;
  }

  async stop(): Promise<void> {
    if (this.adopted || !this.socket.listening) return;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
