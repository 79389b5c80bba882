import { connect } from 'node:net';

/** True when a TCP connection to host:port is accepted. */
export function accepts(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * True when a server on `port` listens on 127.0.0.1 only: it accepts there, and refuses on 127.0.0.2, another
 * loopback address that a server bound to every interface (0.0.0.0 or ::) would accept as well. Works where only the
 * loopback interface exists (CI runs the tests in such a network namespace).
 */
export async function loopbackOnly(port: number): Promise<boolean> {
  return (await accepts(port, '127.0.0.1')) && !(await accepts(port, '127.0.0.2'));
}
