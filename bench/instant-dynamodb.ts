/**
 * Bench only (bench/without-db-child.ts): DynamoDB answering instantly, at the SDK's HTTP layer.
 */
import { HttpResponse } from '@smithy/core/protocols';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface Canned {
  statusCode: number;
  headers: Record<string, string>;
  body: Uint8Array;
  /** The operation it answered (X-Amz-Target). */
  target?: string;
}

/** DynamoDB's answer to a GetItem of an item that does not exist. */
const NO_ITEM: Canned = {
  statusCode: 200,
  headers: { 'content-type': 'application/x-amz-json-1.0' },
  body: new TextEncoder().encode('{}'),
};

type Handle = (typeof NodeHttpHandler.prototype)['handle'];

/**
 * A bench-only stand-in for DynamoDB at the SDK's HTTP layer (every AWS client in the process goes through it).
 * Recording passes requests on to the real endpoint and keeps each response; replaying answers each request with the
 * next recorded response at once, without a socket. Nothing else in the project uses it.
 */
export class InstantDynamoDB {
  private recording: Canned[] | undefined;
  /**
   * The tenant quota's lease (the handler's only UpdateItem) comes once per block of requests, not once per call, so
   * it is kept apart from the calls' sequences and answered with the last lease recorded, whenever it comes.
   */
  private lease: Canned | undefined;
  private canned: Canned[] = [];
  private next = 0;

  private original: Handle | undefined;

  install(): void {
    if (this.original) return;
    const original: Handle = NodeHttpHandler.prototype.handle;
    this.original = original;
    const fake = this;
    NodeHttpHandler.prototype.handle = async function (this: NodeHttpHandler, request, options) {
      const target = String(request.headers['x-amz-target'] ?? '');
      const isLease = target.endsWith('.UpdateItem');
      if (isLease && !fake.recording && fake.lease) {
        return { response: new HttpResponse({ ...fake.lease, body: new Uint8Array(fake.lease.body) }) };
      }
      if (fake.recording) {
        const { response } = await original.call(this, request, options);
        const chunks: Buffer[] = [];
        for await (const chunk of response.body as AsyncIterable<Buffer>) chunks.push(chunk);
        const canned = {
          statusCode: response.statusCode,
          headers: { ...response.headers },
          body: Buffer.concat(chunks),
          target,
        };
        if (isLease) fake.lease = canned;
        else fake.recording.push(canned);
        return { response: new HttpResponse({ ...canned, body: new Uint8Array(canned.body) }) };
      }
      // A per-container configuration cache (settings, assignment rules: 30 s) expired during the run and re-reads
      // an item the recorded call had cached: the bench's tenant has none, so DynamoDB would say there is no item.
      const expected = fake.canned[fake.next]?.target;
      if (target.endsWith('.GetItem') && expected && expected !== target) {
        return { response: new HttpResponse({ ...NO_ITEM, body: new Uint8Array(NO_ITEM.body) }) };
      }
      const canned = fake.canned[fake.next++];
      if (!canned) throw new Error('InstantDynamoDB: the call sent more requests than were recorded');
      // A fresh copy: the SDK adopts the body array as its own.
      return { response: new HttpResponse({ ...canned, body: new Uint8Array(canned.body) }) };
    } as Handle;
  }

  async record<T>(fn: () => Promise<T>): Promise<{ value: T; responses: Canned[] }> {
    this.recording = [];
    try {
      const value = await fn();
      return { value, responses: this.recording };
    } finally {
      this.recording = undefined;
    }
  }

  /** Arms the responses for one replayed call. */
  replay(responses: Canned[]): void {
    this.canned = responses;
    this.next = 0;
  }

  /** Every armed response was used: the replayed call sent what the recorded one did. */
  get exhausted(): boolean {
    return this.next === this.canned.length;
  }

  /** Puts the SDK's own HTTP handler back. */
  uninstall(): void {
    if (this.original) NodeHttpHandler.prototype.handle = this.original;
    this.original = undefined;
  }
}
