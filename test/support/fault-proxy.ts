/**
 * A fault-injecting HTTP proxy on loopback, in front of a real S3 server: the client talks to the proxy
 * as its endpoint, and each request is forwarded, byte for byte unless a fault says otherwise, to the
 * server behind it. Faults change what crosses the wire (a flipped byte, a cleanly truncated body, an
 * emptied error <Message>) or act on the store at an exact moment (replace an object as its GET arrives),
 * so the tests can check what Lifeboat makes of it. Bodies are buffered whole: fine for test objects.
 *
 * Headers pass through unchanged, Host included, so SigV4 signatures still match on the server.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The body as the client sent it, before any fault. */
  body: Buffer;
}

export interface Fault {
  match(request: ProxiedRequest): boolean;
  /** How many matching requests it acts on; every one when undefined. */
  times?: number;
  /** Runs before the request is forwarded. */
  before?(request: ProxiedRequest): Promise<void>;
  /** Changes the body forwarded to the server. */
  alterRequestBody?(body: Buffer): Buffer;
  /** Changes the body returned to the client; Content-Length follows it. */
  alterResponseBody?(body: Buffer, status: number): Buffer;
  /** Answers the request itself, without forwarding it: a refusal the server would not give (an S3 error document). */
  reply?: { status: number; body: string };
  /** Sends the (altered) response body chunked, without a Content-Length. */
  chunked?: boolean;
  /** Matching requests it has acted on. */
  hits?: number;
}

export interface FaultProxy {
  endpoint: string;
  faults: Fault[];
  /** Every request seen, in order. */
  requests: ProxiedRequest[];
  stop(): Promise<void>;
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const faults: Fault[] = [];
  const requests: ProxiedRequest[] = [];
  const server = createServer(async (incoming, outgoing) => {
    try {
      const seen: ProxiedRequest = { method: incoming.method!, url: incoming.url!, headers: incoming.headers, body: await readBody(incoming) };
      requests.push(seen);
      const active = faults.filter((f) => f.match(seen) && (f.times === undefined || (f.hits ?? 0) < f.times));
      for (const fault of active) fault.hits = (fault.hits ?? 0) + 1;
      for (const fault of active) await fault.before?.(seen);
      const reply = active.find((f) => f.reply)?.reply;
      if (reply) {
        outgoing.writeHead(reply.status, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(reply.body)) });
        outgoing.end(seen.method === 'HEAD' ? undefined : reply.body);
        return;
      }
      let body = seen.body;
      for (const fault of active) if (fault.alterRequestBody) body = fault.alterRequestBody(Buffer.from(body));
      const headers: IncomingHttpHeaders = { ...incoming.headers };
      delete headers.expect;
      delete headers['transfer-encoding'];
      if (body.length > 0 || headers['content-length'] !== undefined) headers['content-length'] = String(body.length);
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: seen.method, path: seen.url, headers }, resolve);
        forward.on('error', reject);
        forward.end(body);
      });
      let answer = await readBody(response);
      const answerHeaders = { ...response.headers };
      const altered = active.filter((f) => f.alterResponseBody);
      if (altered.length > 0 && seen.method !== 'HEAD') {
        for (const fault of altered) answer = fault.alterResponseBody!(Buffer.from(answer), response.statusCode ?? 0);
        answerHeaders['content-length'] = String(answer.length);
        delete answerHeaders['transfer-encoding'];
      }
      if (active.some((f) => f.chunked) && seen.method !== 'HEAD') {
        delete answerHeaders['content-length'];
        answerHeaders['transfer-encoding'] = 'chunked';
      }
      outgoing.writeHead(response.statusCode ?? 502, answerHeaders);
      outgoing.end(seen.method === 'HEAD' ? undefined : answer);
    } catch (error) {
      outgoing.writeHead(502, { 'content-type': 'text/plain' });
      outgoing.end(`fault proxy: ${(error as Error).message}`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    faults,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Path-style request helpers: the key a request is for, and what kind of call it is. */
export function requestKey(request: ProxiedRequest): string {
  const path = request.url.split('?')[0]!;
  return decodeURIComponent(path.split('/').slice(2).join('/'));
}

export function isUploadPart(request: ProxiedRequest): boolean {
  return request.method === 'PUT' && /[?&]partNumber=/.test(request.url) && /[?&]uploadId=/.test(request.url);
}

export function isPutObject(request: ProxiedRequest): boolean {
  return request.method === 'PUT' && !/[?&](partNumber|uploadId)=/.test(request.url) && request.headers['x-amz-copy-source'] === undefined;
}

export function isGetObject(request: ProxiedRequest, key: string): boolean {
  return request.method === 'GET' && requestKey(request) === key && !request.url.includes('?list-type') && !/[?&](uploads|list-type)/.test(request.url);
}

/** Flips one bit of the byte at `offset` (counted from the end when negative). */
export function flipByte(body: Buffer, offset = Math.floor(body.length / 2)): Buffer {
  const at = offset < 0 ? body.length + offset : offset;
  body[at] = body[at]! ^ 0x01;
  return body;
}
