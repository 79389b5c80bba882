import { type AddressInfo, createServer, type Server } from 'node:net';
import type { LocalService } from './types.ts';

/** A port free at the moment of asking, for a server this process cannot hand a socket to (DynamoDB Local's JVM). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
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
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.listen(0, host, () => resolve());
    });
    return new PortReservation(socket, (socket.address() as AddressInfo).port);
  }

  /** Makes `server` listen on the held socket (Node's `listen(handle)`). */
  async adopt(server: Server): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socket, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.adopted = true;
  }

  async stop(): Promise<void> {
    if (this.adopted || !this.socket.listening) return;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
