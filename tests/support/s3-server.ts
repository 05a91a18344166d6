import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { makeTempDir } from './services.js';

/** s3rver's one built-in account. */
const ACCESS_KEY_ID = 'S3RVER';
const SECRET_ACCESS_KEY = 'S3RVER';

export interface S3Server {
  endpoint: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** A client of the test's own, to look at the bucket without going through stembot's code. */
  client: S3Client;
  /** The settings that store stems in this server's bucket, under `prefix`. */
  env(prefix?: string): Record<string, string>;
  /** `METHOD /bucket/key?query` of every request the server got so far, in order. */
  requests(): string[];
  /** Every object key in the bucket under `prefix`, sorted, read with a client of the test's own. */
  keys(prefix?: string): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * A real S3-compatible HTTP server on 127.0.0.1 and a free port, with one empty bucket: s3rver,
 * keeping objects as files in a temp folder, checking SigV4 signatures, and refusing presigned URLs
 * once they expire (see s3-server-process.ts).
 */
export async function startS3Server(bucket = 'stembot-test'): Promise<S3Server> {
  const dir = await makeTempDir('stembot-s3rver-');
  const script = fileURLToPath(new URL('./s3-server-process.ts', import.meta.url));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '--import', import.meta.resolve('tsx'), script, dir.dir, bucket], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const requests: string[] = [];
  const listening = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const port = /^listening (\d+)$/.exec(line)?.[1];
      if (port) resolve(Number(port));
      else if (line.startsWith('request ')) requests.push(line.slice('request '.length));
    });
    void exited.then(([code]) => reject(new Error(`s3rver exited with ${String(code)}`)));
  });
  const port = await listening;
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY };
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  return {
    endpoint,
    bucket,
    credentials,
    client,
    requests: () => [...requests],
    env: (prefix = '') => ({
      STORAGE_URL: `s3://${bucket}/${prefix}`,
      S3_ENDPOINT: endpoint,
      S3_ACCESS_KEY_ID: ACCESS_KEY_ID,
      S3_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
    }),
    async keys(prefix = '') {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix === '' ? undefined : prefix, ContinuationToken: token }));
        keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
    },
    async stop() {
      client.destroy();
      if (child.exitCode === null) {
        child.kill();
        await exited;
      }
      await dir.remove();
    },
  };
}
