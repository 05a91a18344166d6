import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How a file is served to downloaders: `whole` at once; `trickle` a first piece, then 1 KiB every
 * 100 ms (a slow upload host, so a test can act while the download is still running); `reset` half
 * of it, then the connection is destroyed (a host dropping the connection mid-download).
 */
export type Serving = 'whole' | 'trickle' | 'reset';

/** One download of a file, as the host saw it. */
export interface Transfer {
  path: string;
  /** Resolves when the connection closes: whether every byte was sent. */
  closed: Promise<{ completed: boolean }>;
}

const FIRST_PIECE = 16 * 1024;
const TRICKLE_BYTES = 1024;
const TRICKLE_EVERY_MS = 100;

/**
 * A stand-in for a chat platform's file host on 127.0.0.1. ffprobe (which core runs on the URL at
 * submit) always gets the whole file; the misbehaviour is for the download that follows.
 */
export class FaultyFileHost {
  private readonly waiters: { path: string; resolve: (transfer: Transfer) => void }[] = [];
  private readonly counts = new Map<string, number>();

  private constructor(
    private readonly server: Server,
    private readonly files: Record<string, { bytes: Buffer; serving: Serving }>,
  ) {}

  static async start(files: Record<string, { bytes: Buffer; serving: Serving }>): Promise<FaultyFileHost> {
    const server = createServer();
    const host = new FaultyFileHost(server, files);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => host.serve(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return host;
  }

  /** `127.0.0.1:<port>`, for the attachment fetcher's extra hosts. */
  get host(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  url(path: string): string {
    return `http://${this.host}${path}?ex=abc&is=def`;
  }

  /** The next download of `path` (call it before the download starts). */
  nextTransfer(path: string): Promise<Transfer> {
    return new Promise((resolve) => this.waiters.push({ path, resolve }));
  }

  /** Downloads of `path` so far, ffprobe's not counted. */
  downloads(path: string): number {
    return this.counts.get(path) ?? 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://host').pathname;
    const file = this.files[path];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': file.bytes.length });
    if (/^Lavf\//.test(req.headers['user-agent'] ?? '')) {
      res.end(file.bytes);
      return;
    }
    this.counts.set(path, this.downloads(path) + 1);
    const closed = new Promise<{ completed: boolean }>((resolve) => res.once('close', () => resolve({ completed: res.writableFinished })));
    const waiter = this.waiters.findIndex((w) => w.path === path);
    if (waiter >= 0) this.waiters.splice(waiter, 1)[0]?.resolve({ path, closed });
    if (file.serving === 'whole') res.end(file.bytes);
    else if (file.serving === 'reset') res.write(file.bytes.subarray(0, file.bytes.length >> 1), () => res.socket?.destroy());
    else trickle(file.bytes, res);
  }
}

function trickle(bytes: Buffer, res: ServerResponse): void {
  let sent = Math.min(FIRST_PIECE, bytes.length);
  res.write(bytes.subarray(0, sent));
  const timer = setInterval(() => {
    if (sent >= bytes.length) {
      clearInterval(timer);
      res.end();
      return;
    }
    res.write(bytes.subarray(sent, sent + TRICKLE_BYTES));
    sent += TRICKLE_BYTES;
  }, TRICKLE_EVERY_MS);
  res.once('close', () => clearInterval(timer));
}
