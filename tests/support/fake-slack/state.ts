import { ChangeSignal } from '../change-signal.js';
import type { RecordedCall } from './http.js';
import type { FakeConversation, FakeSlackUser, FakeTeam, FakeWorld } from './world.js';

/** A rule of Slack's the client broke, recorded even when the client swallows the error. */
export interface Violation {
  kind:
    | 'unknown-method'
    | 'late-ack'
    | 'bad-ack'
    | 'response-url-overused'
    | 'upload-length-mismatch'
    | 'unknown-thread'
    | 'bad-response-url-body';
  detail: string;
  at: number;
}

/** A file in a workspace: uploaded by a user (`addUserFile`) or by the app (files.uploadV2). */
export interface StoredFile {
  id: string;
  teamId: string;
  /** The uploader's user id (the bot user for the app's uploads). */
  userId: string;
  name: string;
  title: string;
  mimetype: string;
  /** `files.getUploadURLExternal`'s `length`; the bytes must match it. */
  declaredLength?: number;
  bytes?: Buffer;
  /** `pending`: URL handed out; `uploaded`: bytes in; `complete`: files.completeUploadExternal done. */
  state: 'pending' | 'uploaded' | 'complete';
  createdAt: number;
  /** Channels it was shared into. */
  channels: string[];
}

export interface MessageRevision {
  at: number;
  text: string;
  blocks: unknown[] | undefined;
}

/** A message everyone in the channel sees (ephemeral ones are kept apart). */
export interface StoredMessage {
  teamId: string;
  channel: string;
  ts: string;
  /** Set on a reply: the parent's ts. */
  threadTs?: string;
  /** Author: a user id, or the bot user. */
  user: string;
  botId?: string;
  text: string;
  blocks?: unknown[];
  fileIds: string[];
  subtype?: 'file_share';
  /** How it got here. */
  via: 'chat.postMessage' | 'files.completeUploadExternal' | 'response_url' | 'user';
  deleted: boolean;
  /** Every version, the first one included; `chat.update` adds one. */
  revisions: MessageRevision[];
}

export interface EphemeralMessage {
  teamId: string;
  channel: string;
  /** Who sees it. */
  user: string;
  ts: string;
  threadTs?: string;
  text: string;
  blocks?: unknown[];
  via: 'chat.postEphemeral' | 'response_url';
  at: number;
}

/** A POST to a response URL, as received. */
export interface ResponseUrlPost {
  responseUrlId: string;
  body: unknown;
  /** The HTTP status the fake answered. */
  status: number;
  at: number;
}

export interface HostedResponseUrl {
  id: string;
  url: string;
  teamId: string;
  channel: string;
  user: string;
  /** For interactions on a message: the message `replace_original` / `delete_original` act on. */
  messageTs?: string;
  uses: number;
  createdAt: number;
}

/** Slack allows a response URL 5 uses within 30 minutes. */
export const RESPONSE_URL_USES = 5;
export const RESPONSE_URL_LIFETIME_MS = 30 * 60_000;

/** Everything the fake knows; the Web API, Socket Mode and the HTTP helpers read and change it. */
export class FakeSlackState {
  readonly calls: RecordedCall[] = [];
  readonly violations: Violation[] = [];
  /** Per channel, oldest first. */
  readonly messages = new Map<string, StoredMessage[]>();
  readonly ephemerals: EphemeralMessage[] = [];
  readonly files = new Map<string, StoredFile>();
  readonly responseUrls = new Map<string, HostedResponseUrl>();
  readonly responsePosts: ResponseUrlPost[] = [];
  /** `views.publish` results, keyed `team:user`: the latest Home tab view. */
  readonly homeViews = new Map<string, { view: unknown; publishedAt: number; hash: string }>();
  /** Emits `change` after every request and delivery, so waits are event-driven. */
  private readonly signal = new ChangeSignal();
  baseUrl = '';
  private lastTsMicros = 0;
  private idCounter = 0;

  constructor(readonly world: FakeWorld) {
  }

  team(id: string): FakeTeam | undefined {
    return this.world.teams.find((t) => t.id === id);
  }

  teamByBotToken(token: string): FakeTeam | undefined {
    return this.world.teams.find((t) => t.bot.token !== undefined && t.bot.token === token);
  }

  user(teamId: string, id: string): FakeSlackUser | undefined {
    return this.world.users.find((u) => u.teamId === teamId && u.id === id);
  }

  conversation(teamId: string, id: string): FakeConversation | undefined {
    return this.world.conversations.find((c) => c.teamId === teamId && c.id === id);
  }

  /** A message ts: seconds.microseconds, unique and increasing, as Slack's are. */
  nextTs(): string {
    this.lastTsMicros = Math.max(this.lastTsMicros + 1, Date.now() * 1000);
    const micros = String(this.lastTsMicros);
    return `${micros.slice(0, -6)}.${micros.slice(-6)}`;
  }

  /** An id with Slack's letter prefix (`F` file, `V` view, …). */
  nextId(prefix: string): string {
    this.idCounter += 1;
    return `${prefix}0FAKE${String(this.idCounter).padStart(5, '0')}`;
  }

  channelMessages(channel: string): StoredMessage[] {
    let list = this.messages.get(channel);
    if (!list) {
      list = [];
      this.messages.set(channel, list);
    }
    return list;
  }

  findMessage(channel: string, ts: string): StoredMessage | undefined {
    return this.messages.get(channel)?.find((m) => m.ts === ts && !m.deleted);
  }

  addMessage(init: Omit<StoredMessage, 'ts' | 'deleted' | 'revisions' | 'fileIds'> & { fileIds?: string[] }): StoredMessage {
    if (init.threadTs !== undefined && !this.findMessage(init.channel, init.threadTs)) {
      this.violate({ kind: 'unknown-thread', detail: `thread_ts ${init.threadTs} names no message in ${init.channel}` });
    }
    const message: StoredMessage = { fileIds: [], ...init, ts: this.nextTs(), deleted: false, revisions: [] };
    message.revisions.push({ at: Date.now(), text: message.text, blocks: message.blocks });
    this.channelMessages(init.channel).push(message);
    return message;
  }

  violate(violation: Omit<Violation, 'at'>): void {
    this.violations.push({ ...violation, at: Date.now() });
  }

  notify(): void {
    this.signal.notify();
  }

  /** Resolves once `predicate` returns a value, checking again after every change. */
  waitFor<T>(predicate: () => T | undefined | false): Promise<T> {
    return this.signal.waitFor(predicate);
  }
}
