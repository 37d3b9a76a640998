/**
 * A slow network in front of the test S3 server: an HTTP proxy on loopback that holds each multipart
 * part upload (PUT …?uploadId=…) for a while before passing it on, so that tests can act while an
 * upload is under way. It works the same in front of s3rver and RGW. Requests pass through unchanged,
 * Host header included, so AWS signatures made for the proxy's address still verify upstream.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlowProxy {
  endpoint: string;
  close(): Promise<void>;
}

export interface SlowProxyOptions {
  /** Also holds each GET whose path matches this for `ms`: a download still under way when a test acts. */
  heldGets?: { path: RegExp; ms: number };
}

export async function startSlowProxy(upstreamEndpoint: string, partDelayMs: number, options: SlowProxyOptions = {}): Promise<SlowProxy> {
  const upstream = new URL(upstreamEndpoint);
  const server: Server = createServer((incoming, outgoing) => {
    const isPart = incoming.method === 'PUT' && /[?&]uploadId=/.test(incoming.url ?? '');
    const isHeldGet = incoming.method === 'GET' && options.heldGets !== undefined && options.heldGets.path.test(incoming.url ?? '');
    incoming.pause();
    // A client that gives up on a request (a cancelled backup cuts its parts off) closes the connection:
    // the request never reaches the server, and one already on its way is cut off there too, as on a network.
    let cutOff = false;
    outgoing.on('close', () => {
      if (!outgoing.writableFinished) cutOff = true;
    });
    setTimeout(
      () => {
        if (cutOff) return;
        const forward = request(
          { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
          (response) => {
            outgoing.writeHead(response.statusCode ?? 502, response.headers);
            response.pipe(outgoing);
          },
        );
        forward.on('error', () => outgoing.destroy());
        outgoing.on('close', () => {
          if (!outgoing.writableFinished) forward.destroy();
        });
        incoming.on('error', () => forward.destroy());
        incoming.pipe(forward);
        incoming.resume();
      },
      isPart ? partDelayMs : isHeldGet ? options.heldGets!.ms : 0,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
