/**
 * A real HTTP proxy on loopback in front of the S3 server, for faults in transit: it forwards every
 * request unchanged (the Host header too, so SigV4 signatures still match) and can flip one byte of the
 * response body of chosen GETs. Nothing in Lifeboat knows it is there: it is just the endpoint.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';

export interface FlipRule {
  /** The object key (path after the bucket) whose GET responses may be changed. */
  key: string;
  /** Byte offset in the object to flip (XOR 0x01). */
  offset: number;
  /** Which GETs of that key (1-based, counted by the proxy) get the flipped byte. */
  shouldFlip(getNumber: number): boolean;
}

export interface FlipProxy {
  endpoint: string;
  /** How many GETs of each key have passed. */
  gets: Map<string, number>;
  flips: number;
  setRule(rule: FlipRule | undefined): void;
  close(): Promise<void>;
}

export async function startFlipProxy(upstream: string): Promise<FlipProxy> {
  const target = new URL(upstream);
  let rule: FlipRule | undefined;
  const gets = new Map<string, number>();
  const state = { flips: 0 };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0]!);
    const key = path.split('/').slice(2).join('/');
    let flipAt: number | undefined;
    if (req.method === 'GET' && rule && key === rule.key) {
      const n = (gets.get(key) ?? 0) + 1;
      gets.set(key, n);
      if (rule.shouldFlip(n)) flipAt = rule.offset;
    }
    const upstreamRequest = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (upstreamResponse: IncomingMessage) => {
        res.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
        if (flipAt === undefined) {
          upstreamResponse.pipe(res);
          return;
        }
        // A ranged GET starts at its range's first byte; whole-object GETs at 0.
        const range = /bytes=(\d+)-/.exec(String(req.headers.range ?? ''));
        let position = range ? Number(range[1]) : 0;
        const at = flipAt;
        upstreamResponse
          .pipe(
            new Transform({
              transform(chunk: Buffer, _encoding, done) {
                if (at >= position && at < position + chunk.length) {
                  const copy = Buffer.from(chunk);
                  copy[at - position] = copy[at - position]! ^ 0x01;
                  state.flips++;
                  chunk = copy;
                }
                position += chunk.length;
                done(null, chunk);
              },
            }),
          )
          .pipe(res);
      },
    );
    upstreamRequest.on('error', () => res.destroy());
    req.pipe(upstreamRequest);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    gets,
    get flips() {
      return state.flips;
    },
    setRule(next) {
      rule = next;
      gets.clear();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
