import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** HTTP plumbing shared by the local services that speak an AWS JSON protocol (EventBridge, Step Functions, ...). */

/**
 * Whether a request's Host header names this loopback server itself (127.0.0.1 or localhost, with its port): a web
 * page that rebinds its own DNS name to 127.0.0.1 sends its own name, and is refused.
 */
export function isOwnHost(host: string | undefined, port: number): boolean {
  const name = (host ?? '').toLowerCase();
  return name === `127.0.0.1:${port}` || name === `localhost:${port}`;
}

/** The request body as text, or undefined when it exceeds `limitBytes` (the body is still drained, so a reply works). */
export async function readRequestBody(
  req: IncomingMessage,
  limitBytes = 10 * 1024 * 1024,
): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limitBytes) chunks.push(chunk as Buffer);
  }
  return size > limitBytes ? undefined : Buffer.concat(chunks).toString('utf8');
}

/** A JSON reply the AWS SDK can read: request id, and the error type header its deserializers look at. */
export function sendAwsJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  options: { contentType?: string; errorType?: string } = {},
): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    'content-type': options.contentType ?? 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  };
  if (options.errorType) headers['x-amzn-errortype'] = options.errorType;
  res.writeHead(status, headers);
  res.end(text);
}
