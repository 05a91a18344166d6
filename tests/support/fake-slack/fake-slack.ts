import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs, readRaw, type RecordedCall, sendJson, SlackApiError, tokenOf } from './http.js';
import { filePaths } from './messages.js';
import { type Approval, FakeOAuth, type RecordedInstall } from './oauth.js';
import { PayloadBuilder } from './payloads.js';
import { type LostAnswerRule, LostAnswers, type RateLimitRule, RateLimiter } from './rate-limits.js';
import { acceptResponse } from './response-urls.js';
import { type CapturedResponse, sendSigned, type SignedRequestOptions } from './signed-requests.js';
import { FakeSocketMode, type Inbound, type RecordedAck, type SentEnvelope, type SocketDropMode } from './socket-mode.js';
import { type EphemeralMessage, FakeSlackState, type ResponseUrlPost, type StoredFile, type StoredMessage, type Violation } from './state.js';
import { type MethodContext, webApiMethods, type WebApiMethod } from './web-api.js';
import { defaultWorld, type FakeTeam, type FakeWorld } from './world.js';

/** Slack wants the first answer (HTTP response or socket ack) within 3 s. */
const ACK_DEADLINE_MS = 3000;

const MIME_BY_EXTENSION: Record<string, string> = {
  wav: 'audio/wav',
  mp3: 'audio/mpeg',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
  m4a: 'audio/mp4',
  zip: 'application/zip',
  txt: 'text/plain',
};

export interface FakeSlackOptions {
  /** Default: `defaultWorld()` (Acme and Globex). */
  world?: FakeWorld;
  /** Default `A0FAKEAPP`. */
  appId?: string;
  /** The app-level token `apps.connections.open` accepts; default `xapp-1-A0FAKEAPP-fake`. */
  appToken?: string;
  /** Default `fake-signing-secret`. */
  signingSecret?: string;
  /** OAuth client credentials; default `1111.2222` / `fake-client-secret`. */
  clientId?: string;
  clientSecret?: string;
  /** The app's configured Redirect URL (can be set later with `setRedirectUrl`). */
  redirectUrl?: string;
  /** How often the socket server pings; the client gives up after 30 s without one. Default 10 s. */
  socketPingIntervalMs?: number;
  /**
   * A download of a private file without a valid token: `status` answers 401 (no or unknown token)
   * or 403 (another workspace's token, or no `files:read`); `login-page` answers 200 with an HTML
   * sign-in page, as slack.com really does. Default `status`.
   */
  fileAuthFailure?: 'status' | 'login-page';
}

/** One download of a file from `url_private(_download)`. */
export interface FileDownload {
  fileId: string;
  /** The workspace of the token presented, if it was a known bot token. */
  teamId?: string;
  status: number;
  /** True when the bytes went out. */
  served: boolean;
  at: number;
}

/** One signed request sent to an app with `sendSigned`. */
export interface HttpDelivery {
  endpoint: string;
  inbound: Inbound;
  response: CapturedResponse;
}

/**
 * A local Slack for end-to-end tests: the Web API at `${url}/api/`, Socket Mode at the URLs
 * `apps.connections.open` returns, response URLs, private file downloads, upload URLs and the
 * OAuth authorize page. Point Bolt at it with `clientOptions: fake.clientOptions()`.
 */
export class FakeSlack {
  readonly url: string;
  readonly appId: string;
  readonly appToken: string;
  readonly signingSecret: string;
  readonly payloads: PayloadBuilder;
  readonly oauth: FakeOAuth;
  /** Every download of a private file, in arrival order. */
  readonly downloads: FileDownload[] = [];
  /** Every `sendSigned` delivery with the app's answer. */
  readonly httpDeliveries: HttpDelivery[] = [];
  private readonly state: FakeSlackState;
  private readonly socket: FakeSocketMode;
  private readonly methods: Record<string, WebApiMethod>;
  private readonly rateLimiter = new RateLimiter();
  private readonly lostAnswers = new LostAnswers();
  private readonly fileAuthFailure: 'status' | 'login-page';

  private constructor(
    private readonly server: Server,
    options: FakeSlackOptions,
  ) {
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.appId = options.appId ?? 'A0FAKEAPP';
    this.appToken = options.appToken ?? `xapp-1-${this.appId}-fake`;
    this.signingSecret = options.signingSecret ?? 'fake-signing-secret';
    this.fileAuthFailure = options.fileAuthFailure ?? 'status';
    this.state = new FakeSlackState(options.world ?? defaultWorld());
    this.state.baseUrl = this.url;
    this.socket = new FakeSocketMode(this.state, { appId: this.appId, pingIntervalMs: options.socketPingIntervalMs ?? 10_000 });
    this.oauth = new FakeOAuth(this.state, {
      clientId: options.clientId ?? '1111.2222',
      clientSecret: options.clientSecret ?? 'fake-client-secret',
      appId: this.appId,
      redirectUrl: options.redirectUrl,
    });
    this.payloads = new PayloadBuilder(this.state, this.appId);
    this.methods = webApiMethods({ openSocketUrl: () => this.socket.openUrl(), exchangeCode: (args, basic) => this.oauth.exchange(args, basic) });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.onRequest(req, res));
    server.on('upgrade', (req, socket, head: Buffer) => this.socket.handleUpgrade(req, socket, head));
  }

  static async start(options: FakeSlackOptions = {}): Promise<FakeSlack> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new FakeSlack(server, options);
  }

  /** `slackApiUrl` for @slack/web-api (with its trailing slash). */
  get apiUrl(): string {
    return `${this.url}/api/`;
  }

  /** Bolt's `clientOptions` (also used by its Socket Mode client and OAuth installer). */
  clientOptions(): { slackApiUrl: string } {
    return { slackApiUrl: this.apiUrl };
  }

  /** Bolt's `installerOptions.authorizationUrl`. */
  get authorizeUrl(): string {
    return `${this.url}/oauth/v2/authorize`;
  }

  get world(): FakeWorld {
    return this.state.world;
  }

  team(id: string): FakeTeam {
    const team = this.state.team(id);
    if (!team) throw new Error(`fake-slack: no team ${id}`);
    return team;
  }

  /** The workspace's bot token; throws until the workspace has installed the app. */
  botToken(teamId: string): string {
    const token = this.team(teamId).bot.token;
    if (token === undefined) throw new Error(`fake-slack: ${teamId} has not installed the app`);
    return token;
  }

  // ── What the app did ──────────────────────────────────────────────────────────────────────

  /** Every Web API call, in arrival order. */
  get calls(): readonly RecordedCall[] {
    return this.state.calls;
  }

  callsTo(method: string): RecordedCall[] {
    return this.state.calls.filter((c) => c.method === method);
  }

  get violations(): readonly Violation[] {
    return this.state.violations;
  }

  /** What everyone in the channel sees: undeleted top-level messages and replies, oldest first. */
  channelMessages(channel: string): StoredMessage[] {
    return (this.state.messages.get(channel) ?? []).filter((m) => !m.deleted);
  }

  /** Replies in a thread, oldest first (the parent not included). */
  threadReplies(channel: string, threadTs: string): StoredMessage[] {
    return this.channelMessages(channel).filter((m) => m.threadTs === threadTs);
  }

  message(channel: string, ts: string): StoredMessage | undefined {
    return this.state.findMessage(channel, ts);
  }

  /** Ephemeral messages shown to `user` (chat.postEphemeral and ephemeral response URL posts). */
  ephemeralsFor(user: string): EphemeralMessage[] {
    return this.state.ephemerals.filter((e) => e.user === user);
  }

  get responsePosts(): readonly ResponseUrlPost[] {
    return this.state.responsePosts;
  }

  file(id: string): StoredFile | undefined {
    return this.state.files.get(id);
  }

  /** The latest Home tab published for a user. */
  homeView(teamId: string, user: string): unknown {
    return this.state.homeViews.get(`${teamId}:${user}`)?.view;
  }

  get installs(): readonly RecordedInstall[] {
    return this.oauth.installs;
  }

  // ── What users do ─────────────────────────────────────────────────────────────────────────

  /**
   * A message a user posts (with uploaded files: a `file_share`). Nothing is delivered to the
   * app; build the event with `payloads.messageEvent(message)` or `payloads.appMention(message)`.
   */
  postAsUser(spec: { user: string; channel: string; text?: string; threadTs?: string; files?: { name: string; bytes: Buffer; mimetype?: string }[] }): StoredMessage {
    const user = this.state.world.users.find((u) => u.id === spec.user);
    if (!user) throw new Error(`fake-slack: no user ${spec.user}`);
    const conversation = this.state.conversation(user.teamId, spec.channel);
    if (!conversation) throw new Error(`fake-slack: no conversation ${spec.channel} in ${user.teamId}`);
    const files = (spec.files ?? []).map((f) => this.addFile({ teamId: user.teamId, userId: user.id, name: f.name, bytes: f.bytes, mimetype: f.mimetype, channel: conversation.id }));
    const message = this.state.addMessage({
      teamId: user.teamId,
      channel: conversation.id,
      user: user.id,
      text: spec.text ?? '',
      threadTs: spec.threadTs,
      fileIds: files.map((f) => f.id),
      ...(files.length > 0 ? { subtype: 'file_share' as const } : {}),
      via: 'user',
    });
    this.state.notify();
    return message;
  }

  /** A file in a workspace, served at its `url_private_download` to that workspace's bot token. */
  addFile(spec: { teamId: string; userId: string; name: string; bytes: Buffer; mimetype?: string; channel?: string }): StoredFile {
    const id = this.state.nextId('F');
    const file: StoredFile = {
      id,
      teamId: spec.teamId,
      userId: spec.userId,
      name: spec.name,
      title: spec.name,
      mimetype: spec.mimetype ?? mimeOf(spec.name),
      bytes: spec.bytes,
      state: 'complete',
      createdAt: Date.now(),
      channels: spec.channel === undefined ? [] : [spec.channel],
    };
    this.state.files.set(id, file);
    return file;
  }

  // ── Sending to the app ────────────────────────────────────────────────────────────────────

  /** Resolves when a Socket Mode connection is open (hello sent). */
  waitForSocket(): Promise<void> {
    return this.state.waitFor(() => this.socket.connected).then(() => undefined);
  }

  /** Whether a Socket Mode connection is open now. */
  get socketConnected(): boolean {
    return this.socket.connected;
  }

  get socketStats() {
    return this.socket.stats;
  }

  get envelopes(): readonly SentEnvelope[] {
    return this.socket.envelopes;
  }

  /** Sends an envelope over Socket Mode; `waitForAck()` resolves with the ack and its latency. */
  deliver(inbound: Inbound): { envelope: SentEnvelope; waitForAck(): Promise<RecordedAck> } {
    return this.socket.send(inbound);
  }

  dropSocket(mode: SocketDropMode = 'disconnect-message'): void {
    this.socket.drop(mode);
  }

  /** POSTs a signed request to the app's HTTP endpoint, with the fake's signing secret unless told otherwise. */
  async sendSigned(endpoint: string, inbound: Inbound, options: Partial<SignedRequestOptions> = {}): Promise<CapturedResponse> {
    const response = await sendSigned(endpoint, inbound, { signingSecret: this.signingSecret, ...options });
    this.httpDeliveries.push({ endpoint, inbound, response });
    if (response.status === 200 && response.elapsedMs > ACK_DEADLINE_MS) {
      this.state.violate({ kind: 'late-ack', detail: `${inbound.type} over HTTP answered after ${Math.round(response.elapsedMs)} ms` });
    }
    this.state.notify();
    return response;
  }

  // ── Steering ──────────────────────────────────────────────────────────────────────────────

  /** The next `count` calls of a method answer HTTP 429 with `Retry-After`. */
  rateLimitNext(rule: RateLimitRule): void {
    this.rateLimiter.add(rule);
  }

  /**
   * The next `count` calls of a method take effect (a message posted, files shared) but answer
   * HTTP 500 `internal_error`: the app cannot tell the work was done, as when it dies right after.
   */
  loseAnswerNext(rule: LostAnswerRule): void {
    this.lostAnswers.add(rule);
  }

  /** The app's configured OAuth Redirect URL (known only once the app listens). */
  setRedirectUrl(url: string): void {
    this.oauth.config.redirectUrl = url;
  }

  /** Who approves (or cancels) the next visit to the authorize page. */
  approveNextInstallAs(approval: Approval): void {
    this.oauth.nextApproval = approval;
  }

  waitFor<T>(check: () => T | undefined | false): Promise<T> {
    return this.state.waitFor(check);
  }

  /** Resolves with the first answered call of `method` that matches. */
  waitForCall(method: string, predicate: (call: RecordedCall) => boolean = () => true): Promise<RecordedCall> {
    return this.state.waitFor(() => this.state.calls.find((c) => c.method === method && c.status !== undefined && predicate(c)));
  }

  async close(): Promise<void> {
    await this.socket.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ── HTTP ──────────────────────────────────────────────────────────────────────────────────

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const path = url.pathname;
    try {
      if (req.method === 'POST' && path.startsWith('/api/')) return await this.webApi(path.slice('/api/'.length), req, res);
      if (req.method === 'POST' && path.startsWith('/upload/')) return await this.upload(path.slice('/upload/'.length), req, res);
      if (req.method === 'POST' && path.startsWith('/response/')) {
        const answer = acceptResponse(this.state, path.slice('/response/'.length), await readRaw(req));
        return sendJson(res, answer.status, answer.body);
      }
      if (req.method === 'GET' && path.startsWith('/files-pri/')) return this.download(path, req, res);
      if (req.method === 'GET' && path === '/oauth/v2/authorize') return this.oauth.authorize(url.searchParams, res);
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`fake-slack: nothing at ${req.method} ${path}`);
    } catch (error) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(`fake-slack: ${String(error)}`);
    } finally {
      this.state.notify();
    }
  }

  private async webApi(method: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const contentType = String(req.headers['content-type'] ?? '');
    const args = await parseArgs(await readRaw(req), contentType);
    const token = tokenOf(req, args);
    const call: RecordedCall = { seq: this.state.calls.length + 1, method, token, args, contentType, at: Date.now() };
    this.state.calls.push(call);
    const answer = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      call.status = status;
      call.ok = body.ok === true;
      if (typeof body.error === 'string') call.error = body.error;
      sendJson(res, status, body, headers);
    };
    const entry = this.methods[method];
    if (!entry) {
      this.state.violate({ kind: 'unknown-method', detail: method });
      return answer(200, { ok: false, error: 'unknown_method' });
    }
    try {
      const team = this.authenticate(entry, token);
      if (team) call.teamId = team.id;
      const retryAfter = this.rateLimiter.take(method, team?.id);
      if (retryAfter !== undefined) return answer(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(retryAfter) });
      if (team && entry.scope !== undefined && !team.bot.scopes.includes(entry.scope)) {
        throw new SlackApiError('missing_scope', { needed: entry.scope, provided: team.bot.scopes.join(',') });
      }
      const ctx: MethodContext = { state: this.state, args, team: team as FakeTeam, basic: basicCredentials(req) };
      const headers: Record<string, string> = team ? { 'x-oauth-scopes': team.bot.scopes.join(',') } : {};
      const result = entry.handle(ctx);
      if (this.lostAnswers.take(method, team?.id)) return answer(500, { ok: false, error: 'internal_error' });
      answer(200, { ok: true, ...result }, headers);
    } catch (error) {
      if (!(error instanceof SlackApiError)) throw error;
      answer(200, { ok: false, error: error.error, ...error.extra });
    }
  }

  /** The workspace for a bot token; undefined for app- and client-authenticated methods. */
  private authenticate(entry: WebApiMethod, token: string | undefined): FakeTeam | undefined {
    if (entry.auth === 'client') return undefined;
    if (token === undefined || token === '') throw new SlackApiError('not_authed');
    if (entry.auth === 'app') {
      if (token === this.appToken) return undefined;
      throw new SlackApiError(token.startsWith('xapp-') ? 'invalid_auth' : 'not_allowed_token_type');
    }
    if (token.startsWith('xapp-')) throw new SlackApiError('not_allowed_token_type');
    const team = this.state.teamByBotToken(token);
    if (!team) throw new SlackApiError('invalid_auth');
    return team;
  }

  /** The upload URL: the bytes, raw or as one multipart part, for a file `files.getUploadURLExternal` named. */
  private async upload(fileId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readRaw(req);
    const file = this.state.files.get(fileId);
    if (!file || file.state !== 'pending') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    const contentType = String(req.headers['content-type'] ?? '');
    let bytes = raw;
    if (contentType.startsWith('multipart/form-data')) {
      const part = Object.values(await parseArgs(raw, contentType)).find((v): v is Buffer => Buffer.isBuffer(v));
      bytes = part ?? Buffer.alloc(0);
    }
    if (file.declaredLength !== undefined && bytes.length !== file.declaredLength) {
      this.state.violate({ kind: 'upload-length-mismatch', detail: `${file.id} (${file.name}): declared ${file.declaredLength} bytes, sent ${bytes.length}` });
    }
    file.bytes = bytes;
    file.mimetype = mimeOf(file.name);
    file.state = 'uploaded';
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${bytes.length}`);
  }

  private download(path: string, req: IncomingMessage, res: ServerResponse): void {
    const match = /^\/files-pri\/([A-Z0-9]+)-([A-Z0-9]+)\//.exec(path);
    const file = match ? this.state.files.get(match[2] ?? '') : undefined;
    const record: FileDownload = { fileId: match?.[2] ?? '', status: 404, served: false, at: Date.now() };
    this.downloads.push(record);
    if (!file || file.state !== 'complete' || file.teamId !== match?.[1] || !file.bytes || !Object.values(filePaths(file)).includes(path)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    const header = req.headers.authorization;
    const team = header?.startsWith('Bearer ') ? this.state.teamByBotToken(header.slice('Bearer '.length)) : undefined;
    if (team) record.teamId = team.id;
    const refusal = !team ? 401 : team.id !== file.teamId || !team.bot.scopes.includes('files:read') ? 403 : undefined;
    if (refusal !== undefined) {
      if (this.fileAuthFailure === 'login-page') {
        record.status = 200;
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!DOCTYPE html><html><head><title>Slack</title></head><body><h1>Sign in to Slack</h1></body></html>');
        return;
      }
      record.status = refusal;
      res.writeHead(refusal, { 'content-type': 'text/plain' }).end(refusal === 401 ? 'Unauthorized' : 'Forbidden');
      return;
    }
    record.status = 200;
    record.served = true;
    res.writeHead(200, { 'content-type': file.mimetype, 'content-length': file.bytes.length, 'content-disposition': `attachment; filename="${file.name}"` }).end(file.bytes);
  }
}

function mimeOf(name: string): string {
  return MIME_BY_EXTENSION[name.split('.').pop()?.toLowerCase() ?? ''] ?? 'application/octet-stream';
}

function basicCredentials(req: IncomingMessage): { clientId: string; clientSecret: string } | undefined {
  const header = req.headers.authorization;
  if (!header?.startsWith('Basic ')) return undefined;
  const [clientId = '', clientSecret = ''] = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8').split(':');
  return { clientId, clientSecret };
}
