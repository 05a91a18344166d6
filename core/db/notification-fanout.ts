import { createServer, connect, type Server, type Socket } from 'node:net';

/** The PostgreSQL startup packet asking for TLS, answered by the server with one unframed byte. */
const SSL_REQUEST = { length: 8, code: 80877103 };
/** A NotificationResponse: what a NOTIFY becomes on the wire for a session that LISTENs. */
const NOTIFICATION_RESPONSE = 0x41; // 'A'
/** Type byte + int32 length, which counts itself but not the type byte. */
const HEADER_BYTES = 5;
/** ReadyForQuery ('Z'), whose one-byte body says whether the session is idle ('I') or in a transaction. */
const READY_FOR_QUERY = 0x5a;
const IDLE = 0x49;
/** A client's Terminate ('X'): no answer follows. */
const TERMINATE = 0x58;

/**
 * Who may talk to the one session now. pglite-socket queues each socket read as it comes and only
 * keeps a transaction's statements together; a client's Parse, Bind, Execute and Sync can arrive in
 * two reads, and another client's statement run between them replaces the unnamed prepared statement
 * ("unnamed prepared statement does not exist") or runs with the other's parameters (BullMQ's event
 * reader then reads its cursor as "undefined" and fails every 5 s until restarted). So one client
 * at a time holds the session, from its first message until the server says it is idle again
 * ('Z' with 'I', so a transaction keeps it throughout); the others' messages wait here, in order.
 */
class SessionGate {
  private owner?: ClientRelay;
  private readonly waiting: ClientRelay[] = [];

  /** Whether `relay` may send now; if not, it is called back through `grant` when its turn comes. */
  request(relay: ClientRelay): boolean {
    if (this.owner === relay) return true;
    if (this.owner === undefined && this.waiting.length === 0) {
      this.owner = relay;
      return true;
    }
    if (!this.waiting.includes(relay)) this.waiting.push(relay);
    return false;
  }

  release(relay: ClientRelay): void {
    const index = this.waiting.indexOf(relay);
    if (index >= 0) this.waiting.splice(index, 1);
    if (this.owner !== relay) return;
    this.owner = undefined;
    for (let next = this.waiting.shift(); next; next = this.waiting.shift()) {
      this.owner = next;
      if (next.grant()) return;
      // Nothing left to send: it needs no turn after all.
      this.owner = undefined;
    }
  }
}

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
  const gate = new SessionGate();
  const broadcast = (from: ClientRelay, message: Buffer) => {
    for (const relay of relays) if (relay !== from) relay.deliverNotification(message);
  };
  const server: Server = createServer((client) => {
    const relay = new ClientRelay(client, connect(sockets.upstream), broadcast, gate);
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

/** One client connection and its upstream twin, both directions framed once start-up is over. */
class ClientRelay {
  readonly closed: Promise<void>;
  private pending = Buffer.alloc(0);
  /** Client bytes not yet forwarded: a partial message, or whole ones waiting for the session. */
  private outbound: Buffer = Buffer.alloc(0);
  /** Unframed bytes still due from the server: the one-byte answer to an SSLRequest. */
  private unframed = 0;
  private firstClientPacket = true;
  /** Whether the client has finished start-up; only then may a foreign notification be slipped in. */
  private ready = false;

  constructor(
    private readonly client: Socket,
    private readonly server: Socket,
    private readonly broadcast: (from: ClientRelay, message: Buffer) => void,
    private readonly gate: SessionGate,
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
        gate.release(this);
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
    // Start-up (and the SSL exchange) is per connection and touches no session state.
    if (!this.ready) {
      if (!this.server.write(chunk)) this.client.pause();
      return;
    }
    this.outbound = this.outbound.length > 0 ? Buffer.concat([this.outbound, chunk]) : chunk;
    if (this.gate.request(this)) this.grant();
  }

  /** Sends the whole messages waiting; false when there were none. Called while holding the session. */
  grant(): boolean {
    let end = 0;
    let terminates = false;
    while (this.outbound.length - end >= HEADER_BYTES) {
      const size = 1 + this.outbound.readInt32BE(end + 1);
      if (this.outbound.length - end < size) break;
      if (this.outbound[end] === TERMINATE) terminates = true;
      end += size;
    }
    if (end === 0) return false;
    const whole = this.outbound.subarray(0, end);
    this.outbound = Buffer.from(this.outbound.subarray(end));
    if (!this.server.write(whole)) this.client.pause();
    if (terminates) this.gate.release(this);
    return true;
  }

  private fromServer(chunk: Buffer): void {
    const buffer = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    const out: Buffer[] = [];
    /** Each ReadyForQuery in this chunk: whether the session went idle. */
    const readyStates: boolean[] = [];
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
      else if (message[0] === READY_FOR_QUERY) readyStates.push(message[5] === IDLE);
      out.push(message);
      offset += size;
    }
    this.pending = Buffer.from(buffer.subarray(offset));
    if (out.length > 0 && !this.client.write(Buffer.concat(out))) this.server.pause();
    if (readyStates.length === 0) return;
    // The first ReadyForQuery ends start-up; later ones hand the session on once it is idle.
    const wasReady = this.ready;
    this.ready = true;
    if (wasReady && readyStates.at(-1) === true && !this.grant()) this.gate.release(this);
  }
}
