import { createServer as createHttpServer, get } from 'node:http';
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { PortReservation } from './ports.ts';

const listen = (server: Server, port: number) =>
  new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));
const body = (url: string) =>
  new Promise<string>((resolve, reject) => {
    get(url, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve(text));
    }).on('error', reject);
  });

describe('PortReservation', () => {
  it('keeps its port from other servers until a server adopts it, which then serves on that port', async () => {
    const reservation = await PortReservation.hold();
    const intruder = createServer();
    await expect(listen(intruder, reservation.port)).rejects.toMatchObject({ code: 'EADDRINUSE' });

    const server = createHttpServer((_request, response) => response.end('served'));
    await reservation.adopt(server);
    expect(await body(`http://127.0.0.1:${reservation.port}/`)).toBe('served');
    // Stopping an adopted reservation leaves the adopting server serving.
    await reservation.stop();
    expect(await body(`http://127.0.0.1:${reservation.port}/`)).toBe('served');

    await close(server);
    const next = createServer();
    await listen(next, reservation.port);
    await close(next);
  });

  it('frees its port when stopped before any server adopts it', async () => {
    const reservation = await PortReservation.hold();
    await reservation.stop();
    const next = createServer();
    await listen(next, reservation.port);
    await close(next);
  });
});
