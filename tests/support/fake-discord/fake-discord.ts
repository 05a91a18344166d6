import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Events, GatewayIntentBits } from 'discord.js';
import { type Clock, TestClock } from './clock.js';
import { DiscordErrors, DiscordHttpError } from './errors.js';
import { type DropMode, FakeGateway, type GatewayStats } from './gateway.js';
import { matchRoute, readBody, type RecordedRequest, type Route, sendError, sendJson } from './http.js';
import { buildInteraction, type FakeInteraction, type InteractionSpec } from './interactions.js';
import { MessageFlag, type StoredAttachment, type StoredMessage } from './messages.js';
import { bucketHeaders, type RateLimitRule, RateLimiter } from './rate-limits.js';
import { botRoutes } from './routes-bot.js';
import { interactionRoutes } from './routes-interactions.js';
import { FakeState, type StoredCommand, type Violation } from './state.js';
import { apiGuildCreate, apiUser, defaultGuild, type FakeGuild, type FakeUser } from './world.js';

const API_PREFIX = '/api/v10';
const MIB = 1024 * 1024;
/** A throttled download sends a slice this often. */
const TRICKLE_EVERY_MS = 50;

/** One download of an uploaded file from the fake's CDN, as it goes. */
export interface AttachmentDownload {
  attachmentId: string;
  userAgent: string;
  sent: number;
  total: number;
  /** `done`: every byte went out; `cut`: the client went away first. */
  state: 'sending' | 'done' | 'cut';
}

/** A request the fake holds, unanswered, until the test lets it go (or its client disappears). */
interface HeldRequest {
  predicate: (request: RecordedRequest) => boolean;
  /** `before`: Discord has not acted on it yet; `after`: it has, only the answer is held back. */
  acted: 'before' | 'after';
  held: { request: RecordedRequest; release: () => void }[];
  released: boolean;
}

export interface FakeDiscordOptions {
  /** Default: a TestClock (real time plus what the test advances). */
  clock?: Clock;
  /** The bot token clients must log in with; default `fake-bot-token`. */
  token?: string;
  /** Default: user `stembot` (bot) with id 1100000000000000050. */
  bot?: FakeUser;
  /** Default: the bot's user id, as for applications made in the developer portal. */
  applicationId?: string;
  /** Default: `defaultGuild(bot)`. */
  guilds?: FakeGuild[];
  /** Per-file upload limit in bytes, also sent as `attachment_size_limit`; default 10 MiB. */
  fileSizeLimit?: number;
  /** Default 10, Discord's limit. */
  maxAttachments?: number;
  /** Default 3000 ms, Discord's limit. */
  firstCallbackMs?: number;
  /** Default 15 min, Discord's limit. */
  tokenLifetimeMs?: number;
  /** HELLO's heartbeat_interval; default 41 250 ms like Discord. */
  heartbeatIntervalMs?: number;
}

/**
 * A local Discord for end-to-end tests: REST under `${url}/api/v10`, the gateway at `${url}/gateway`,
 * attachment bytes at `${url}/attachments/:id/:filename`. Point discord.js at it with `clientOptions()`.
 */
export class FakeDiscord {
  readonly clock: Clock;
  readonly token: string;
  readonly url: string;
  private readonly state: FakeState;
  private readonly gateway: FakeGateway;
  private readonly rateLimiter = new RateLimiter();
  private readonly routes: Route[];
  /** Every download of an uploaded file, in arrival order. */
  readonly downloads: AttachmentDownload[] = [];
  private downloadBytesPerSecond?: number;
  private downloadCutAfter?: number;
  private readonly attachmentRedirects = new Map<string, string>();
  private readonly holds: HeldRequest[] = [];

  private constructor(private readonly server: Server, options: FakeDiscordOptions) {
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.clock = options.clock ?? new TestClock();
    this.token = options.token ?? 'fake-bot-token';
    const bot = options.bot ?? { id: '1100000000000000050', username: 'stembot', bot: true };
    this.state = new FakeState(
      this.clock,
      bot,
      options.applicationId ?? bot.id,
      options.guilds ?? [defaultGuild(bot)],
      { maxAttachments: options.maxAttachments ?? 10, fileSizeLimit: options.fileSizeLimit ?? 10 * MIB },
      { firstCallbackMs: options.firstCallbackMs ?? 3000, tokenLifetimeMs: options.tokenLifetimeMs ?? 15 * 60_000 },
    );
    this.state.baseUrl = this.url;
    this.gateway = new FakeGateway({
      token: this.token,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 41_250,
      ready: (sessionId) => this.readyPayload(sessionId),
      guildCreates: () => this.state.guilds.map(apiGuildCreate),
      onChange: () => this.state.notify(),
    });
    this.routes = [...interactionRoutes(this.state), ...botRoutes(this.state, () => this.gatewayUrl)];
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.onRequest(req, res));
    server.on('upgrade', (req, socket, head: Buffer) => this.gateway.handleUpgrade(req, socket, head));
  }

  static async start(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new FakeDiscord(server, options);
  }

  get gatewayUrl(): string {
    return `${this.url.replace(/^http/, 'ws')}/gateway`;
  }

  get applicationId(): string {
    return this.state.applicationId;
  }

  get bot(): FakeUser {
    return this.state.bot;
  }

  get guilds(): FakeGuild[] {
    return this.state.guilds;
  }

  /** Spread into `new Client({ intents, ...fake.clientOptions() })`: every URL discord.js builds points here. */
  clientOptions() {
    return { rest: { api: `${this.url}/api`, cdn: `${this.url}/cdn`, mediaProxy: `${this.url}/media` } };
  }

  /** A real discord.js client (Guilds intent), logged in here and ready. */
  async loginClient(): Promise<Client> {
    const client = new Client({ intents: [GatewayIntentBits.Guilds], ...this.clientOptions() });
    const ready = once(client, Events.ClientReady);
    await client.login(this.token);
    await ready;
    return client;
  }

  /** Every REST request, in arrival order, with its answer's status. */
  get requests(): readonly RecordedRequest[] {
    return this.state.requests;
  }

  get violations(): readonly Violation[] {
    return this.state.violations;
  }

  get gatewayStats(): Readonly<GatewayStats> {
    return this.gateway.stats;
  }

  /** Commands registered by bulk overwrite: global ones, or a guild's when `guildId` is given. */
  commands(guildId?: string): StoredCommand[] {
    return this.state.commands.get(guildId ?? 'global') ?? [];
  }

  /** What everyone in the channel sees: its non-ephemeral, undeleted messages, oldest first. */
  channelMessages(channelId: string): StoredMessage[] {
    return [...this.state.messages.values()].filter((m) => m.channelId === channelId && !m.deleted && (m.flags & MessageFlag.ephemeral) === 0);
  }

  message(id: string): StoredMessage | undefined {
    return this.state.messages.get(id);
  }

  /** A file a user "uploaded": pass it as an attachment option; the bot downloads it from the fake. */
  registerAttachment(filename: string, bytes: Buffer, contentType = 'application/octet-stream'): StoredAttachment {
    return this.state.addAttachment(filename, bytes, contentType);
  }

  /**
   * A message a member posted (by default the guild's first non-bot member, in its first channel),
   * for message commands to act on. `attachments` are files from `registerAttachment`.
   */
  postUserMessage(options: { content?: string; attachments?: StoredAttachment[]; userId?: string; channelId?: string } = {}): StoredMessage {
    const channelId = options.channelId ?? this.state.guilds[0]?.channels[0]?.id;
    const found = channelId ? this.state.channel(channelId) : undefined;
    if (!found) throw new Error(`fake-discord: no channel ${channelId ?? '(none configured)'}`);
    const authorId = options.userId ?? found.guild.members.find((m) => !m.user.bot)?.user.id;
    if (!authorId) throw new Error(`fake-discord: no member to post as in guild ${found.guild.id}`);
    return this.state.createMessage({ channelId: found.channel.id, guildId: found.guild.id, authorId, flags: 0 }, { content: options.content ?? '' }, options.attachments ?? []);
  }

  /** Sends INTERACTION_CREATE to the logged-in client; the 3 s clock starts now. */
  dispatchInteraction(spec: InteractionSpec): FakeInteraction {
    const interaction = buildInteraction(this.state, spec);
    this.gateway.dispatch('INTERACTION_CREATE', interaction.payload);
    return interaction;
  }

  /** The next `count` requests matching the rule get 429 with Discord's headers and body. */
  rateLimitNext(rule: RateLimitRule): void {
    this.rateLimiter.add(rule);
  }

  /** Drops the gateway connection; with `invalidateSession` the client's RESUME gets op 9 and it must IDENTIFY again. */
  dropGateway(options: { mode?: DropMode; invalidateSession?: boolean } = {}): void {
    this.gateway.drop(options.mode ?? 'close-4000', options.invalidateSession ?? false);
  }

  /** Resolves when the gateway has a live, identified or resumed connection. */
  waitForGatewayReady(): Promise<void> {
    return this.state.waitFor(() => this.gateway.ready).then(() => undefined);
  }

  /** Downloads of this uploaded file are answered `302 Location: location`, as a CDN that moved it (or a hostile one) would. */
  redirectAttachment(attachmentId: string, location: string): void {
    this.attachmentRedirects.set(attachmentId, location);
  }

  /** Uploaded files are sent at this rate from now on (undefined: at once), so a download can be caught in the middle. */
  throttleDownloads(bytesPerSecond: number | undefined): void {
    this.downloadBytesPerSecond = bytesPerSecond;
  }

  /** Downloads of uploaded files, running ones included, are cut (the connection reset) once past this many bytes (undefined: never). */
  cutDownloadsAfter(bytes: number | undefined): void {
    this.downloadCutAfter = bytes;
  }

  /**
   * REST requests matching `predicate` are read in full and then held, as if Discord were still
   * busy with an upload: before Discord acts on them (a held request whose client goes away is
   * dropped, never acted on), or with `acted: 'after'` once it has and only the answer is held
   * back. `release` lets them (and later ones) through.
   */
  holdRequests(predicate: (request: RecordedRequest) => boolean, acted: 'before' | 'after' = 'before'): { waitForHeld(): Promise<RecordedRequest>; release(): void } {
    const hold: HeldRequest = { predicate, acted, held: [], released: false };
    this.holds.push(hold);
    return {
      waitForHeld: () => this.state.waitFor(() => hold.held[0]?.request),
      release: () => {
        hold.released = true;
        for (const entry of hold.held.splice(0)) entry.release();
        this.holds.splice(this.holds.indexOf(hold), 1);
      },
    };
  }

  waitFor<T>(check: () => T | undefined): Promise<T> {
    return this.state.waitFor(check);
  }

  waitForRequest(predicate: (request: RecordedRequest) => boolean): Promise<RecordedRequest> {
    return this.state.waitFor(() => this.state.requests.find((r) => r.status !== undefined && predicate(r)));
  }

  async close(): Promise<void> {
    this.gateway.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private readyPayload(sessionId: string) {
    return {
      v: 10,
      user: { ...apiUser(this.state.bot), verified: true, mfa_enabled: false, email: null },
      guilds: this.state.guilds.map((g) => ({ id: g.id, unavailable: true })),
      session_id: sessionId,
      session_type: 'normal',
      resume_gateway_url: this.gatewayUrl,
      shard: [0, 1],
      application: { id: this.state.applicationId, flags: 0 },
      private_channels: [],
      relationships: [],
      presences: [],
      user_settings: {},
      guild_join_requests: [],
      geo_ordered_rtc_regions: [],
    };
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    if (req.method === 'GET' && url.pathname.startsWith('/attachments/')) {
      this.serveAttachment(url.pathname, req, res);
      return;
    }
    const path = url.pathname.startsWith(API_PREFIX) ? url.pathname.slice(API_PREFIX.length) : url.pathname;
    const method = req.method ?? 'GET';
    const match = url.pathname.startsWith(API_PREFIX) ? matchRoute(this.routes, method, path) : undefined;
    const record: RecordedRequest = {
      seq: this.state.requests.length + 1,
      method,
      path,
      route: match?.route.template ?? null,
      query: url.searchParams,
      json: undefined,
      files: [],
      at: this.clock.now(),
      wallAt: Date.now(),
    };
    this.state.requests.push(record);
    try {
      Object.assign(record, await readBody(req));
      const limited = this.rateLimiter.take(record, Date.now());
      if (limited) {
        record.status = 429;
        sendJson(res, 429, limited.body, limited.headers);
        return;
      }
      if (!match) {
        this.state.violate({ kind: 'unknown-route', detail: `${method} ${url.pathname}` });
        throw DiscordErrors.notFound();
      }
      if (match.route.auth && req.headers.authorization !== `Bot ${this.token}`) throw DiscordErrors.unauthorized();
      if (!(await this.passHolds(record, res, 'before'))) {
        record.status = 499; // nginx's "client closed request": Discord never acted on it
        return;
      }
      const result = await match.route.handle({ request: record, params: match.params });
      record.status = result.status;
      // Acted on, but the answer never reached the client: it cannot tell the two apart.
      if (!(await this.passHolds(record, res, 'after'))) return;
      sendJson(res, result.status, result.body, bucketHeaders(record));
    } catch (error) {
      const discordError = error instanceof DiscordHttpError ? error : new DiscordHttpError(500, 0, `fake-discord: ${String(error)}`);
      record.status = discordError.status;
      record.errorCode = discordError.code;
      sendError(res, discordError);
    } finally {
      this.state.notify();
    }
  }

  /** Resolves true once no hold applies to the request, false when its client went away while held. */
  private async passHolds(record: RecordedRequest, res: ServerResponse, acted: 'before' | 'after'): Promise<boolean> {
    const hold = this.holds.find((h) => !h.released && h.acted === acted && h.predicate(record));
    if (!hold) return true;
    return new Promise<boolean>((resolve) => {
      const entry = { request: record, release: () => resolve(!res.destroyed) };
      hold.held.push(entry);
      this.state.notify();
      res.once('close', () => {
        if (!res.writableEnded) resolve(false);
      });
    });
  }

  private serveAttachment(pathname: string, req: IncomingMessage, res: ServerResponse): void {
    const id = pathname.split('/')[2] ?? '';
    const attachment = this.state.attachments.get(id);
    if (!attachment) {
      sendError(res, DiscordErrors.notFound());
      return;
    }
    const redirect = this.attachmentRedirects.get(id);
    if (redirect !== undefined) {
      res.writeHead(302, { location: redirect }).end();
      return;
    }
    const { bytes } = attachment;
    const download: AttachmentDownload = { attachmentId: id, userAgent: String(req.headers['user-agent'] ?? ''), sent: 0, total: bytes.length, state: 'sending' };
    this.downloads.push(download);
    res.on('close', () => {
      if (download.state === 'sending') download.state = 'cut';
      this.state.notify();
    });
    res.writeHead(200, { 'content-type': attachment.contentType, 'content-length': bytes.length });
    const rate = this.downloadBytesPerSecond;
    const slice = rate === undefined ? bytes.length : Math.max(1, Math.floor((rate * TRICKLE_EVERY_MS) / 1000));
    const sendNext = () => {
      if (res.destroyed) return;
      // Read at every slice, so a cut ordered mid-download applies to downloads already running.
      const cutAfter = this.downloadCutAfter;
      if (cutAfter !== undefined && download.sent >= cutAfter) {
        download.state = 'cut';
        res.socket?.resetAndDestroy();
        return;
      }
      const chunk = bytes.subarray(download.sent, Math.min(download.sent + slice, cutAfter ?? Infinity));
      download.sent += chunk.length;
      this.state.notify();
      if (download.sent >= bytes.length) {
        download.state = 'done';
        res.end(chunk);
        return;
      }
      res.write(chunk);
      setTimeout(sendNext, TRICKLE_EVERY_MS);
    };
    sendNext();
  }
}

