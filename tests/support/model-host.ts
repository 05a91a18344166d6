import { createHash } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the stand-in answers for the model file: as a model host would, or as one having a bad day. */
export type ModelHostMode = 'serve' | 'fail' | 'corrupt' | 'hold';

/**
 * A local stand-in for the model host: a mirror registry at `/registry.json` naming htdemucs at
 * `htdemucs.onnx` (a relative URL) with the file's real SHA-256, and the file itself. `hold` sends
 * the first half and waits for `release()`, so a test can watch a download in flight.
 */
export class ModelHost {
  mode: ModelHostMode = 'serve';
  /** Requests for the model file, in order, with the Range each asked for. */
  readonly fileRequests: { range: string | undefined }[] = [];
  private held: (() => void)[] = [];

  /** The mirror registry served; a test may change it (a name that is not built in, say). */
  readonly registry: { models: { name: string; url: string; sha256: string; bytes: number }[] };
  private readonly fileName: string;

  private constructor(
    private readonly server: Server,
    readonly registryUrl: string,
    private readonly model: Buffer,
    name: string,
  ) {
    this.registry = { models: [{ name, url: `${name}.onnx`, sha256: createHash('sha256').update(model).digest('hex'), bytes: model.length }] };
    this.fileName = `/${name}.onnx`;
  }

  static async start(model: Buffer, name = 'htdemucs'): Promise<ModelHost> {
    const ready: { host?: ModelHost } = {};
    const server = createServer((req, res) => ready.host?.handle(req.url ?? '', req.headers.range, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ready.host = new ModelHost(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/registry.json`, model, name);
    return ready.host;
  }

  /** Lets every held download finish. */
  release(): void {
    for (const resume of this.held.splice(0)) resume();
  }

  private handle(url: string, range: string | undefined, res: ServerResponse): void {
    if (url === '/registry.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.registry));
      return;
    }
    if (url !== this.fileName) {
      res.writeHead(404).end();
      return;
    }
    this.fileRequests.push({ range });
    if (this.mode === 'fail') {
      res.writeHead(503).end('model host down');
      return;
    }
    const start = Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1] ?? 0);
    const body = this.mode === 'corrupt' ? Buffer.from(this.model).fill(7, 0, 64) : this.model;
    const rest = body.subarray(start);
    res.writeHead(start > 0 ? 206 : 200, { 'content-length': rest.length, ...(start > 0 ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
    if (this.mode !== 'hold') {
      res.end(rest);
      return;
    }
    const half = Math.floor(rest.length / 2);
    res.write(rest.subarray(0, half));
    this.held.push(() => res.end(rest.subarray(half)));
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
