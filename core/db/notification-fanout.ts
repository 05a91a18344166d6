import { createServer, connect, type Server, type Socket } from 'node:net';

/** The PostgreSQL startup packet asking for TLS, answered by the server with one unframed byte. */
const SSL_REQUEST = { length: 8, code: 80877103 };
/** A NotificationResponse: what a NOTIFY becomes on the wire for a session that LISTENs. */
const NOTIFICATION_RESPONSE = 0x41; // 'A'
/** Type byte + int32 length, which counts itself but not the type byte. */
const HEADER_BYTES = 5;

export interface NotificationFanout {
  stop(): Promise<void>;
}

/**
 * pglite-socket runs every client's statements on PGlite's one session and writes each reply to
 * the client that sent the statement. A NOTIFY is delivered to "the session" inside the reply of
 * whichever statement committed it, so the client that ran LISTEN (BullMQ's waiting worker and its
 * QueueEvents reader) never hears it and sleeps until its timeout: an hour once a delayed job, such
 * as the retention scheduler's, is queued. That is why jobs stalled on the embedded default.
 *
 * This proxy sits in front of pglite-socket and frames the server's replies; every
 * NotificationResponse is also copied to every other connected client, as PostgreSQL delivers a
 * NOTIFY to each listening session. Clients that did not LISTEN receive it too (they share the
 * one session that did) and ignore it: node-postgres emits an event nobody subscribed to.
 * Hand-written because no npm package proxies the PostgreSQL protocol in-process.
 */
export async function startNotificationFanout(sockets: {
  /** The unix socket pglite-socket listens on. */
  upstream: string;
  /** The unix socket clients connect to instead; the caller sets its permissions. */
  listen: string;
}): Promise<NotificationFanout> {
  const relays = new Set<ClientRelay>();
  const broadcast = (from: ClientRelay, message: Buffer) => {
    for (const relay of relays) if (relay !== from) relay.deliverNotification(message);
  };
  const server: Server = createServer((client) => {
    const relay = new ClientRelay(client, connect(sockets.upstream), broadcast);
    relays.add(relay);
    relay.closed.then(() => relays.delete(relay));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(sockets.listen, () => resolve());
  });
  return {
    async stop() {
      const closing = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const relay of relays) relay.destroy();
      await closing;
    },
  };
}

/** One client connection and its upstream twin; only the server-to-client direction is parsed. */
class ClientRelay {
  readonly closed: Promise<void>;
  private pending = Buffer.alloc(0);
  /** Unframed bytes still due from the server: the one-byte answer to an SSLRequest. */
  private unframed = 0;
  private firstClientPacket = true;
  /** Whether the client has finished start-up; only then may a foreign notification be slipped in. */
  private ready = false;

  constructor(
    private readonly client: Socket,
    private readonly server: Socket,
    private readonly broadcast: (from: ClientRelay, message: Buffer) => void,
  ) {
    client.setNoDelay(true);
    server.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    server.on('data', (chunk: Buffer) => this.fromServer(chunk));
    // Backpressure in both directions: a slow reader pauses the other side.
    client.on('drain', () => server.resume());
    server.on('drain', () => client.resume());
    this.closed = new Promise((resolve) => {
      const end = () => {
        this.destroy();
        resolve();
      };
      client.once('close', end);
      server.once('close', end);
      client.on('error', end);
      server.on('error', end);
    });
  }

  deliverNotification(message: Buffer): void {
    if (this.ready && this.client.writable) this.client.write(message);
  }

  destroy(): void {
    this.client.destroy();
    this.server.destroy();
  }

  private fromClient(chunk: Buffer): void {
    if (this.firstClientPacket) {
      this.firstClientPacket = false;
      if (chunk.length >= SSL_REQUEST.length && chunk.readInt32BE(0) === SSL_REQUEST.length && chunk.readInt32BE(4) === SSL_REQUEST.code) {
        this.unframed = 1;
        // The StartupMessage that follows the answer is a first packet again.
        this.firstClientPacket = chunk.length === SSL_REQUEST.length;
      }
    }
    if (!this.server.write(chunk)) this.client.pause();
  }

  private fromServer(chunk: Buffer): void {
    const buffer = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    const out: Buffer[] = [];
    if (this.unframed > 0 && buffer.length > 0) {
      out.push(buffer.subarray(0, this.unframed));
      offset = this.unframed;
      this.unframed = 0;
    }
    while (buffer.length - offset >= HEADER_BYTES) {
      const size = 1 + buffer.readInt32BE(offset + 1);
      if (buffer.length - offset < size) break;
      const message = buffer.subarray(offset, offset + size);
      if (message[0] === NOTIFICATION_RESPONSE) this.broadcast(this, Buffer.from(message));
      else if (message[0] === 0x5a) this.ready = true; // 'Z' ReadyForQuery: start-up is over
      out.push(message);
      offset += size;
    }
    this.pending = Buffer.from(buffer.subarray(offset));
    if (out.length > 0 && !this.client.write(Buffer.concat(out))) this.server.pause();
  }
}
