/**
 * A real S3 protocol server on loopback (s3rver), for the tests and the demo.
 *
 * s3rver lacks two calls a backup tool depends on: AbortMultipartUpload (DELETE ?uploadId) and
 * ListMultipartUploads (GET ?uploads). We add them in front of its router, working on its own
 * on-disk layout, so that the tests can prove a failed backup leaves no open multipart upload.
 *
 * A copy of an object onto itself (CopyObject with MetadataDirective REPLACE) gives it a new
 * last-modified time on S3; s3rver keeps the old one, since it derives it from the file's mtime and
 * leaves the file alone. We touch the file after such a copy.
 *
 * An object completed by multipart upload gets S3's ETag, the MD5 of its parts' MD5s followed by
 * -<parts>, where s3rver gives the MD5 of the whole content: code that takes every ETag for an MD5
 * works against s3rver and fails against S3. A GET or HEAD with If-Match answers 412 when the object's
 * ETag differs, as on S3; s3rver ignores the header.
 *
 * Its ListObjectsV2 continuation tokens are DES-encrypted, which OpenSSL 3 no longer offers, so
 * any listing longer than one page fails. We serve V2 listings through its V1 (marker) listing
 * and use the last key, base64-encoded, as the continuation token.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
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
  query: Record<string, string>;
  status: number;
  body: unknown;
  type: string;
}

function uploadsDir(root: string, bucket: string): string {
  return join(root, bucket, '._S3rver_uploads');
}

function s3Extensions(server: { store: { getResourcePath(bucket: string, key: string, resource: string): string } }, root: string) {
  return async (ctx: KoaContext, next: () => Promise<void>) => {
    const [bucket, ...keyParts] = ctx.path.split('/').filter(Boolean);
    if (bucket && ctx.method === 'PUT' && 'uploadId' in ctx.query) {
      // s3rver would recreate an aborted upload's directory for a late part; S3 refuses the part.
      if (!existsSync(join(uploadsDir(root, bucket), String(ctx.query.uploadId), 'key'))) {
        ctx.status = 404;
        ctx.type = 'application/xml';
        ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>';
        return;
      }
    }
    if (bucket && ctx.method === 'DELETE' && 'uploadId' in ctx.query && keyParts.length > 0) {
      await rm(join(uploadsDir(root, bucket), String(ctx.query.uploadId)), { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    if (bucket && ctx.method === 'GET' && 'uploads' in ctx.query && keyParts.length === 0) {
      const ids = await readdir(uploadsDir(root, bucket)).catch(() => [] as string[]);
      // A directory without its key file holds only a part that raced the upload's abort: not an upload.
      const prefix = ctx.query.prefix ?? '';
      const uploads = (
        await Promise.all(
          ids.map(async (id) => {
            const keyFile = join(uploadsDir(root, bucket), id, 'key');
            const key = await readFile(keyFile, 'utf8').catch(() => undefined);
            const initiated = key === undefined ? undefined : (await stat(keyFile)).mtime;
            return { id, key, initiated };
          }),
        )
      ).filter((u): u is { id: string; key: string; initiated: Date } => u.key !== undefined && u.key.startsWith(prefix));
      const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
      ctx.type = 'application/xml';
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        `<Bucket>${escape(bucket)}</Bucket><IsTruncated>false</IsTruncated>` +
        uploads.map((u) => `<Upload><Key>${escape(u.key)}</Key><UploadId>${u.id}</UploadId><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`).join('') +
        '</ListMultipartUploadsResult>';
      return;
    }
    const headers = (ctx as unknown as { headers: Record<string, string | undefined> }).headers;
    const objectKey = () => decodeURIComponent(keyParts.join('/'));
    if (bucket && ctx.method === 'POST' && 'uploadId' in ctx.query && keyParts.length > 0) {
      const dir = join(uploadsDir(root, bucket), String(ctx.query.uploadId));
      const partFiles = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^\d+\.md5$/.test(n)).sort((a, b) => parseInt(a) - parseInt(b));
      const partMd5s = await Promise.all(partFiles.map((n) => readFile(join(dir, n), 'utf8')));
      await next();
      const result = (ctx.body as { CompleteMultipartUploadResult?: { ETag: string } } | undefined)?.CompleteMultipartUploadResult;
      if (!result || partMd5s.length === 0) return;
      const etag = `${createHash('md5').update(Buffer.concat(partMd5s.map((h) => Buffer.from(h.trim(), 'hex')))).digest('hex')}-${partMd5s.length}`;
      await writeFile(server.store.getResourcePath(bucket, objectKey(), 'object.md5'), etag);
      result.ETag = JSON.stringify(etag);
      return;
    }
    const ifMatch = headers['if-match'];
    if (bucket && (ctx.method === 'GET' || ctx.method === 'HEAD') && keyParts.length > 0 && ifMatch && ifMatch !== '*') {
      const current = await readFile(server.store.getResourcePath(bucket, objectKey(), 'object.md5'), 'utf8').catch(() => undefined);
      if (current !== undefined && ifMatch.replace(/"/g, '') !== current.trim()) {
        ctx.status = 412;
        ctx.type = 'application/xml';
        ctx.body =
          '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code>' +
          '<Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-Match</Condition></Error>';
        return;
      }
    }
    const copySource = (ctx as unknown as { headers: Record<string, string | undefined> }).headers['x-amz-copy-source'];
    if (bucket && ctx.method === 'PUT' && copySource && keyParts.length > 0) {
      await next();
      const source = decodeURIComponent(copySource.replace(/^\//, ''));
      if (source === `${bucket}/${decodeURIComponent(keyParts.join('/'))}`) {
        const now = new Date();
        await utimes(server.store.getResourcePath(bucket, decodeURIComponent(keyParts.join('/')), 'object'), now, now);
      }
      return;
    }
    if (bucket && ctx.method === 'GET' && keyParts.length === 0 && ctx.query['list-type'] === '2') {
      const query = { ...ctx.query };
      const continuation = query['continuation-token'];
      const marker = continuation ? Buffer.from(continuation, 'base64url').toString('utf8') : query['start-after'];
      delete query['list-type'];
      delete query['continuation-token'];
      delete query['start-after'];
      ctx.query = { ...query, ...(marker ? { marker } : {}) };
      await next();
      const result = (ctx.body as { ListBucketResult?: Record<string, unknown> } | undefined)?.ListBucketResult;
      if (!result) return;
      const contents = (result.Contents as { Key: string }[] | undefined) ?? [];
      delete result.Marker;
      delete result.NextMarker;
      result.KeyCount = contents.length;
      if (continuation) result.ContinuationToken = continuation;
      if (result.IsTruncated && contents.length) {
        result.NextContinuationToken = Buffer.from(contents[contents.length - 1]!.Key, 'utf8').toString('base64url');
      }
      return;
    }
    await next();
  };
}

export interface S3ServerOptions {
  buckets?: string[];
}

export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Sandbox> {
  const directory = mkdtempSync(join(tmpdir(), 'lifeboat-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  // After the logger and the XML encoder (the first two), so that listing results are still objects here.
  server.middleware.splice(2, 0, s3Extensions(server, directory));
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
