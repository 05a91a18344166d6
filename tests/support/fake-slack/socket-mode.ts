import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import type { FakeSlackState } from './state.js';

export type EnvelopeType = 'slash_commands' | 'events_api' | 'interactive';

/** What Slack sends on the socket and over HTTP alike: a kind and its payload (see payloads.ts). */
export interface Inbound {
  type: EnvelopeType;
  payload: Record<string, unknown>;
}

/** One envelope sent on a Socket Mode connection, and its ack once the app sent it. */
export interface SentEnvelope {
  envelopeId: string;
  type: EnvelopeType;
  payload: Record<string, unknown>;
  connectionId: number;
  sentAt: number;
  ack?: RecordedAck;
}

export interface RecordedAck {
  envelopeId: string;
  /** What the app put in `payload` (a slash command's or a block_suggestion's response), if anything. */
  payload?: Record<string, unknown>;
  at: number;
  /** From send to ack, in ms. */
  latencyMs: number;
}

export interface SocketStats {
  /** Connections opened (each after an `apps.connections.open`). */
  connections: number;
  /** Upgrades refused: an unknown or already used ticket. */
  refused: number;
  /** Close codes the clients sent when they closed. */
  clientCloses: number[];
}

export type SocketDropMode = 'disconnect-message' | 'close' | 'terminate';

/** Slack expects an ack within 3 s. */
const ACK_DEADLINE_MS = 3000;
const ackSchema = z.object({ envelope_id: z.string(), payload: z.record(z.string(), z.unknown()).optional() });

interface Connection {
  id: number;
  socket: WebSocket;
  pinger: NodeJS.Timeout;
}

/** The Socket Mode websocket at the URLs `apps.connections.open` hands out: hello, envelopes, acks, pings. */
export class FakeSocketMode {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly tickets = new Set<string>();
  private readonly live: Connection[] = [];
  private nextConnectionId = 1;
  readonly envelopes: SentEnvelope[] = [];
  readonly stats: SocketStats = { connections: 0, refused: 0, clientCloses: [] };

  constructor(
    private readonly state: FakeSlackState,
    private readonly options: { appId: string; pingIntervalMs: number },
  ) {}

  /** For `apps.connections.open`: a URL good for one connection. */
  openUrl(): string {
    const ticket = randomUUID();
    this.tickets.add(ticket);
    return `${this.state.baseUrl.replace(/^http/, 'ws')}/link/?ticket=${ticket}&app_id=${this.options.appId}`;
  }

  get connected(): boolean {
    return this.live.length > 0;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const ticket = url.searchParams.get('ticket') ?? '';
    if (url.pathname.replace(/\/$/, '') !== '/link' || !this.tickets.delete(ticket)) {
      this.stats.refused += 1;
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
  }

  private onConnection(socket: WebSocket): void {
    this.stats.connections += 1;
    // The client gives up on a connection that the server has not pinged for 30 s.
    const connection: Connection = { id: this.nextConnectionId++, socket, pinger: setInterval(() => socket.ping(), this.options.pingIntervalMs) };
    connection.pinger.unref();
    this.live.push(connection);
    socket.on('message', (data) => this.onMessage(data.toString()));
    socket.on('close', (code) => {
      clearInterval(connection.pinger);
      this.live.splice(this.live.indexOf(connection), 1);
      this.stats.clientCloses.push(code);
      this.state.notify();
    });
    socket.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.live.length,
        debug_info: { host: 'fake-slack', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.options.appId },
      }),
    );
    this.state.notify();
  }

  private onMessage(text: string): void {
    let parsed: z.infer<typeof ackSchema>;
    try {
      parsed = ackSchema.parse(JSON.parse(text));
    } catch {
      this.state.violate({ kind: 'bad-ack', detail: `unparseable socket message: ${text.slice(0, 200)}` });
      return;
    }
    const envelope = this.envelopes.find((e) => e.envelopeId === parsed.envelope_id);
    if (!envelope || envelope.ack) {
      this.state.violate({ kind: 'bad-ack', detail: `ack for ${envelope ? 'an already acked' : 'an unknown'} envelope ${parsed.envelope_id}` });
      return;
    }
    const at = Date.now();
    envelope.ack = { envelopeId: parsed.envelope_id, payload: parsed.payload, at, latencyMs: at - envelope.sentAt };
    if (envelope.ack.latencyMs > ACK_DEADLINE_MS) {
      this.state.violate({ kind: 'late-ack', detail: `envelope ${envelope.envelopeId} (${envelope.type}) acked after ${envelope.ack.latencyMs} ms` });
    }
    this.state.notify();
  }

  /** Sends an envelope on the newest connection; `waitForAck` resolves when the app acks it. */
  send(inbound: Inbound): { envelope: SentEnvelope; waitForAck(): Promise<RecordedAck> } {
    const connection = this.live.at(-1);
    if (!connection) throw new Error('fake-slack: no Socket Mode connection; start the app and await waitForSocket() first');
    const envelope: SentEnvelope = {
      envelopeId: randomUUID(),
      type: inbound.type,
      payload: inbound.payload,
      connectionId: connection.id,
      sentAt: Date.now(),
    };
    this.envelopes.push(envelope);
    connection.socket.send(
      JSON.stringify({
        envelope_id: envelope.envelopeId,
        type: envelope.type,
        payload: envelope.payload,
        // Slack accepts a response payload in the ack for commands and some interactions, never for events.
        accepts_response_payload: envelope.type !== 'events_api',
        ...(envelope.type === 'events_api' ? { retry_attempt: 0, retry_reason: '' } : {}),
      }),
    );
    this.state.notify();
    return { envelope, waitForAck: () => this.state.waitFor(() => envelope.ack) };
  }

  /**
   * Drops the newest connection: Slack's `disconnect` message (the client should reconnect by
   * itself), a close frame (1001), or a torn-down TCP socket.
   */
  drop(mode: SocketDropMode): void {
    const connection = this.live.at(-1);
    if (!connection) throw new Error('fake-slack: no Socket Mode connection to drop');
    if (mode === 'disconnect-message') connection.socket.send(JSON.stringify({ type: 'disconnect', reason: 'refresh_requested', debug_info: { host: 'fake-slack' } }));
    else if (mode === 'close') connection.socket.close(1001, 'going away');
    else connection.socket.terminate();
  }

  /** Closes live connections with a close frame (1001), as a server going away does; terminates any still open after 1 s. */
  async close(): Promise<void> {
    for (const connection of this.live) clearInterval(connection.pinger);
    const closing = [...this.wss.clients].map(
      (client) =>
        new Promise<void>((resolve) => {
          const force = setTimeout(() => client.terminate(), 1000);
          client.once('close', () => {
            clearTimeout(force);
            resolve();
          });
          client.close(1001, 'server shutting down');
        }),
    );
    await Promise.all(closing);
    this.wss.close();
  }
}
