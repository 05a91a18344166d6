import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';

/** Gateway opcodes, https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway */
const Op = { dispatch: 0, heartbeat: 1, identify: 2, resume: 6, invalidSession: 9, hello: 10, heartbeatAck: 11 } as const;
const Close = { unknownError: 4000, authenticationFailed: 4004, invalidApiVersion: 4012, decodeError: 4002 } as const;

export interface GatewayOptions {
  token: string;
  heartbeatIntervalMs: number;
  /** The READY payload for a new session. */
  ready(sessionId: string): unknown;
  /** One GUILD_CREATE payload per guild, sent after READY. */
  guildCreates(): unknown[];
  onChange(): void;
}

interface Frame {
  op: number;
  t: string;
  s: number;
  d: unknown;
}

interface Session {
  id: string;
  seq: number;
  sent: Frame[];
  socket?: WebSocket;
  /** Set by `drop({ invalidateSession: true })`: the next RESUME is refused with op 9. */
  invalid: boolean;
}

export interface GatewayStats {
  connections: number;
  identifies: number;
  resumes: number;
  invalidSessions: number;
  heartbeats: number;
  /** Close codes the clients sent when they closed. */
  clientCloses: number[];
}

export type DropMode = 'close-4000' | 'destroy';

/** The gateway WebSocket on `/gateway`: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME, dispatch. */
export class FakeGateway {
  private readonly wss = new WebSocketServer({ noServer: true });
  private session?: Session;
  readonly stats: GatewayStats = { connections: 0, identifies: 0, resumes: 0, invalidSessions: 0, heartbeats: 0, clientCloses: [] };

  constructor(private readonly options: GatewayOptions) {}

  get ready(): boolean {
    return this.session?.socket?.readyState === WebSocket.OPEN;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    if (url.pathname.replace(/\/$/, '') !== '/gateway') {
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, url.searchParams));
  }

  private onConnection(ws: WebSocket, query: URLSearchParams): void {
    this.stats.connections += 1;
    if (query.get('v') !== '10' || query.get('encoding') !== 'json') {
      ws.close(Close.invalidApiVersion, 'Invalid API version');
      return;
    }
    ws.on('message', (data) => this.onMessage(ws, data.toString()));
    ws.on('close', (code) => {
      this.stats.clientCloses.push(code);
      if (this.session?.socket === ws) this.session.socket = undefined;
      this.options.onChange();
    });
    send(ws, { op: Op.hello, d: { heartbeat_interval: this.options.heartbeatIntervalMs } });
  }

  private onMessage(ws: WebSocket, text: string): void {
    let payload: { op?: number; d?: unknown };
    try {
      payload = JSON.parse(text) as typeof payload;
    } catch {
      ws.close(Close.decodeError, 'Decode error');
      return;
    }
    if (payload.op === Op.heartbeat) {
      this.stats.heartbeats += 1;
      send(ws, { op: Op.heartbeatAck });
    } else if (payload.op === Op.identify) {
      this.identify(ws, payload.d as { token?: string });
    } else if (payload.op === Op.resume) {
      this.resume(ws, payload.d as { token?: string; session_id?: string; seq?: number });
    }
  }

  private identify(ws: WebSocket, d: { token?: string }): void {
    if (d.token !== this.options.token) {
      ws.close(Close.authenticationFailed, 'Authentication failed');
      return;
    }
    this.stats.identifies += 1;
    this.session?.socket?.terminate();
    const session: Session = { id: randomBytes(16).toString('hex'), seq: 0, sent: [], socket: ws, invalid: false };
    this.session = session;
    this.dispatch('READY', this.options.ready(session.id));
    for (const guild of this.options.guildCreates()) this.dispatch('GUILD_CREATE', guild);
  }

  /** Replays what the client missed, then RESUMED; an unknown or invalidated session gets op 9. */
  private resume(ws: WebSocket, d: { token?: string; session_id?: string; seq?: number }): void {
    const session = this.session;
    if (d.token !== this.options.token || !session || session.id !== d.session_id || session.invalid) {
      this.stats.invalidSessions += 1;
      send(ws, { op: Op.invalidSession, d: false });
      return;
    }
    this.stats.resumes += 1;
    session.socket = ws;
    for (const frame of session.sent.filter((f) => f.s > (d.seq ?? 0))) send(ws, frame);
    this.dispatch('RESUMED', null);
  }

  /** Sends a dispatch to the current session; while disconnected it is kept for the RESUME replay. */
  dispatch(t: string, d: unknown): void {
    const session = this.session;
    if (!session) throw new Error('fake-discord: no gateway session yet; wait for the client to log in');
    session.seq += 1;
    const frame: Frame = { op: Op.dispatch, t, s: session.seq, d };
    session.sent.push(frame);
    if (session.socket?.readyState === WebSocket.OPEN) send(session.socket, frame);
    this.options.onChange();
  }

  /** Drops the live connection: close code 4000 or a torn-down socket; both make discord.js reconnect. */
  drop(mode: DropMode, invalidateSession: boolean): void {
    const session = this.session;
    if (!session?.socket) throw new Error('fake-discord: no live gateway connection to drop');
    session.invalid = invalidateSession;
    if (mode === 'destroy') session.socket.terminate();
    else session.socket.close(Close.unknownError, 'Unknown error');
    session.socket = undefined;
  }

  close(): void {
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
  }
}

function send(ws: WebSocket, payload: unknown): void {
  ws.send(JSON.stringify(payload));
}
