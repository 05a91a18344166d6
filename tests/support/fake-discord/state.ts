import { ChangeSignal } from '../change-signal.js';
import { type Clock, SnowflakeFactory } from './clock.js';
import type { RecordedRequest, UploadedFile } from './http.js';
import type { FakeInteraction } from './interactions.js';
import { applyMessageBody, describeUploads, snapshot, type MessageLimits, type StoredAttachment, type StoredMessage } from './messages.js';
import type { FakeGuild, FakeUser } from './world.js';

/** A rule of the protocol the bot broke, recorded even when discord.js swallows the error. */
export interface Violation {
  kind: 'late-first-callback' | 'expired-token' | 'unknown-route' | 'double-acknowledge';
  detail: string;
  at: number;
  interactionId?: string;
}

/** An application command as registered through a bulk overwrite, with the ids Discord assigns. */
export interface StoredCommand {
  id: string;
  application_id: string;
  guild_id?: string;
  name: string;
  type: number;
  options?: unknown[];
  [field: string]: unknown;
}

export interface Timing {
  /** The first callback must arrive within this long of the dispatch; Discord says 3 s. */
  firstCallbackMs: number;
  /** Interaction tokens work this long for webhook routes; Discord says 15 min. */
  tokenLifetimeMs: number;
}

/** Everything the fake knows; REST routes and the gateway read and change it. */
export class FakeState {
  readonly ids: SnowflakeFactory;
  readonly requests: RecordedRequest[] = [];
  readonly violations: Violation[] = [];
  readonly messages = new Map<string, StoredMessage>();
  readonly attachments = new Map<string, StoredAttachment>();
  readonly interactions = new Map<string, FakeInteraction>();
  /** Global commands under the key `global`, guild commands under the guild id. */
  readonly commands = new Map<string, StoredCommand[]>();
  /** Emits `change` after every request and dispatch, so waits are event-driven. */
  private readonly signal = new ChangeSignal();
  baseUrl = '';

  constructor(
    readonly clock: Clock,
    readonly bot: FakeUser,
    readonly applicationId: string,
    readonly guilds: FakeGuild[],
    readonly limits: MessageLimits,
    readonly timing: Timing,
  ) {
    this.ids = new SnowflakeFactory(clock);
  }

  guild(id: string): FakeGuild | undefined {
    return this.guilds.find((g) => g.id === id);
  }

  channel(id: string) {
    for (const guild of this.guilds) {
      const channel = guild.channels.find((c) => c.id === id);
      if (channel) return { guild, channel };
    }
    return undefined;
  }

  addAttachment(filename: string, bytes: Buffer, contentType: string, description?: string): StoredAttachment {
    const id = this.ids.next();
    const attachment: StoredAttachment = {
      id,
      filename,
      contentType,
      bytes,
      url: `${this.baseUrl}/attachments/${id}/${encodeURIComponent(filename)}`,
      ...(description ? { description } : {}),
    };
    this.attachments.set(id, attachment);
    return attachment;
  }

  storeUploads(body: Parameters<typeof describeUploads>[0], files: UploadedFile[]): StoredAttachment[] {
    return describeUploads(body, files).map((u) => this.addAttachment(u.filename, u.file.bytes, u.file.contentType, u.description));
  }

  /**
   * Creates a message from a body; without one it is a deferred reply's "thinking…" placeholder.
   * `flags` may carry ephemeral and loading, which later edits keep and clear.
   */
  createMessage(
    init: Pick<StoredMessage, 'channelId' | 'authorId' | 'flags'> & Partial<Pick<StoredMessage, 'guildId' | 'webhookId' | 'interactionId'>>,
    body: Parameters<typeof applyMessageBody>[1] | undefined,
    uploads: StoredAttachment[] = [],
  ): StoredMessage {
    const message: StoredMessage = {
      id: this.ids.next(),
      content: '',
      embeds: [],
      components: [],
      attachments: [],
      createdAt: this.clock.now(),
      deleted: false,
      revisions: [],
      ...init,
    };
    if (body) applyMessageBody(message, body, uploads, this.limits, message.createdAt);
    else message.revisions.push(snapshot(message, message.createdAt));
    this.messages.set(message.id, message);
    return message;
  }

  violate(violation: Omit<Violation, 'at'>): void {
    this.violations.push({ ...violation, at: this.clock.now() });
  }

  notify(): void {
    this.signal.notify();
  }

  /** Resolves once `predicate` returns a value, checking again after every change. */
  waitFor<T>(predicate: () => T | undefined | false): Promise<T> {
    return this.signal.waitFor(predicate);
  }
}
