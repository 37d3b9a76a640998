/**
 * A real S3 protocol server on loopback (s3rver), for the tests and the demo.
 *
 * s3rver lacks two calls a backup tool depends on: AbortMultipartUpload (DELETE ?uploadId) and
 * ListMultipartUploads (GET ?uploads). We add them in front of its router, working on its own
 * on-disk layout, so that the tests can prove a failed backup leaves no open multipart upload.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// s3rver is CommonJS without types.
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore
import S3rver from 's3rver';

export interface S3Sandbox {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  directory: string;
  stop(): Promise<void>;
}

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  status: number;
  body: unknown;
  type: string;
}

function uploadsDir(root: string, bucket: string): string {
  return join(root, bucket, '._S3rver_uploads');
}

function multipartExtensions(root: string) {
  return async (ctx: KoaContext, next: () => Promise<void>) => {
    const [, bucket, ...keyParts] = ctx.path.split('/');
    if (bucket && ctx.method === 'DELETE' && 'uploadId' in ctx.query && keyParts.length > 0) {
      await rm(join(uploadsDir(root, bucket), String(ctx.query.uploadId)), { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    if (bucket && ctx.method === 'GET' && 'uploads' in ctx.query && keyParts.length === 0) {
      const ids = await readdir(uploadsDir(root, bucket)).catch(() => [] as string[]);
      const uploads = await Promise.all(
        ids.map(async (id) => ({ id, key: await readFile(join(uploadsDir(root, bucket), id, 'key'), 'utf8').catch(() => '') })),
      );
      const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
      ctx.type = 'application/xml';
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        `<Bucket>${escape(bucket)}</Bucket><IsTruncated>false</IsTruncated>` +
        uploads.map((u) => `<Upload><Key>${escape(u.key)}</Key><UploadId>${u.id}</UploadId></Upload>`).join('') +
        '</ListMultipartUploadsResult>';
      return;
    }
    await next();
  };
}

export async function startS3Server(options: { buckets?: string[] } = {}): Promise<S3Sandbox> {
  const directory = mkdtempSync(join(tmpdir(), 'lifeboat-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  server.middleware.unshift(multipartExtensions(directory));
  const { port } = (await server.run()) as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    directory,
    async stop() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
