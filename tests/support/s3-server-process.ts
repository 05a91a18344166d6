/**
 * s3rver (`@20minutes/s3rver`, a maintained fork of s3rver that runs on Node 20) as a process of
 * its own: `s3-server-process.ts DIR BUCKET` serves an empty BUCKET from DIR on 127.0.0.1, prints
 * `listening <port>`, then `request <method> <url>` for each request it gets. Three of s3rver's faults with today's AWS SDK are mended here, in its
 * own process, so that it still checks every request's signature:
 * - run it with --openssl-legacy-provider: it enciphers listing continuation tokens with DES;
 * - it checks query parameters encoded by encodeURIComponent, which leaves `'()*!` as they are,
 *   where SigV4 encodes them (`filename*=UTF-8''...` in a presigned URL);
 * - it checks bucket requests against `/bucket` where the SDK signs `/bucket/` (below).
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

interface KoaContext {
  method: string;
  url: string;
  path: string;
  mountPath?: string;
  state: { vhost?: boolean };
}
type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  /** It is a Koa app: its middleware in order, the router last. */
  middleware: Middleware[];
}
type S3rverClass = new (options: { address: string; port: number; directory: string; silent: boolean; configureBuckets: { name: string }[] }) => S3rverInstance;

const [directory, bucket] = process.argv.slice(2) as [string, string];

const encodeComponent = globalThis.encodeURIComponent;
globalThis.encodeURIComponent = (value) => encodeComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * The SDK sends bucket requests (ListObjectsV2, DeleteObjects) path-style to `/bucket/` and signs
 * that path. For virtual-host requests s3rver puts `mountPath` after the bucket: taking those
 * requests for such makes the path it checks `/bucket/`.
 */
const bucketPathWithSlash: Middleware = (ctx, next) => {
  if (/^\/[^/]+\/$/.test(ctx.path)) {
    ctx.state.vhost = true;
    ctx.mountPath = '/';
  }
  return next();
};

const S3rver = createRequire(import.meta.url)('@20minutes/s3rver') as S3rverClass;
const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [{ name: bucket }] });
server.middleware.splice(server.middleware.length - 1, 0, bucketPathWithSlash);
server.middleware.unshift((ctx, next) => {
  console.log(`request ${ctx.method} ${ctx.url}`);
  return next();
});
const { port } = await server.run();
console.log(`listening ${port}`);
