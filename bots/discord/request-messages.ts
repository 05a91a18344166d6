import { PermissionFlagsBits, WebhookClient, type BaseMessageOptions, type Client, type CommandInteraction, type GuildTextBasedChannel } from 'discord.js';
import { z } from 'zod';
import type { ChatAsk } from '../chat/submit-input.js';
import type { PlatformMessage } from '../../core/db/entities/separation-request.js';
import type { ChatSurface } from '../chat/chat-surface.js';
import type { RequestMessageView } from '../chat/message-view.js';
import { renderPreview, renderProgress } from './render/progress.js';
import { renderFailure, renderResult } from './render/result.js';
import { NO_MENTIONS } from './render/user-text.js';

/** Interaction tokens live 15 minutes; after 14 we stop relying on one and use the channel. */
const TOKEN_USABLE_MS = 14 * 60 * 1000;
const TOKEN_LIFETIME_MS = 15 * 60 * 1000;
/** Discord documents no edit rate; one edit per 2 s per message keeps well inside any bucket. */
const MIN_EDIT_INTERVAL_MS = 2000;
/** Discord's default per-file upload limit when the interaction did not say (10 MiB). */
const DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024;
/** Discord's cap on attachments in one message. */
const MAX_ATTACHMENTS = 10;

/** What stembot keeps about a request's Discord message (stored on the request as platformMessage). */
export const discordMessageSchema = z.object({
  applicationId: z.string(),
  interactionToken: z.string(),
  /** When Discord created the interaction (ms since epoch): the token's clock starts there. */
  interactionAt: z.number(),
  guildId: z.string(),
  channelId: z.string(),
  /** The bot's reply message, for jump links. */
  messageId: z.string().optional(),
  /** Set once progress continues in a channel message of the bot's own (after the token ran out). */
  channelMessageId: z.string().optional(),
});
export type DiscordMessage = z.infer<typeof discordMessageSchema>;

/** Where a request asked by this command is shown: the interaction's reply, until its token runs out. */
export function discordMessageOf(interaction: CommandInteraction, guildId: string): DiscordMessage {
  return { applicationId: interaction.applicationId, interactionToken: interaction.token, interactionAt: interaction.createdTimestamp, guildId, channelId: interaction.channelId };
}

/** Who asks where, for the shared submit-input builder: the part of an ask every Discord command fills in alike. */
export function discordAskOrigin(interaction: CommandInteraction, guildId: string, message: DiscordMessage): Pick<ChatAsk, 'platform' | 'tenantId' | 'tenantName' | 'userId' | 'channelId' | 'platformMessage' | 'maxFileBytes'> {
  return {
    platform: 'discord',
    tenantId: guildId,
    tenantName: interaction.guild?.name,
    userId: interaction.user.id,
    channelId: interaction.channelId,
    platformMessage: message,
    maxFileBytes: interaction.attachmentSizeLimit,
  };
}

export class MissingPermissionsError extends Error {
  constructor(readonly missing: string[]) {
    super(`missing channel permissions: ${missing.join(', ')}`);
  }
}

const NEEDED = [
  [PermissionFlagsBits.ViewChannel, 'View Channel'],
  [PermissionFlagsBits.SendMessages, 'Send Messages'],
  [PermissionFlagsBits.AttachFiles, 'Attach Files'],
] as const;

/** Discord nonces are at most 25 characters: the post key (a delivery's uuid) without its dashes, cut to fit. */
function nonceOf(postKey: string): string {
  return postKey.replaceAll('-', '').slice(0, 25);
}

/**
 * Discord's surface for the shared flow: writes to the message a request is shown in, the
 * interaction's reply while its token is good, then a channel message posted with the bot's own
 * permissions (checked first).
 */
export class RequestMessages implements ChatSurface<DiscordMessage> {
  readonly platform = 'discord';
  readonly minEditIntervalMs = MIN_EDIT_INTERVAL_MS;
  readonly defaultFileLimitBytes = DEFAULT_ATTACHMENT_LIMIT;
  readonly maxFilesPerMessage = MAX_ATTACHMENTS;

  /**
   * One webhook client per interaction token, kept while the token lives: its request queue
   * orders the edits of one message and carries the rate-limit state a 429 leaves behind.
   */
  private readonly webhooks = new Map<string, { client: WebhookClient; expiresAt: number }>();

  constructor(
    private readonly client: Client,
    private readonly apiUrl: string | undefined,
    private readonly now: () => number,
  ) {}

  parse(platformMessage: PlatformMessage): DiscordMessage | undefined {
    const parsed = discordMessageSchema.safeParse(platformMessage);
    return parsed.success ? parsed.data : undefined;
  }

  private tokenUsable(message: DiscordMessage): boolean {
    return this.now() - message.interactionAt < TOKEN_USABLE_MS;
  }

  /**
   * Edits the request's message in place; returns the updated platform message (its ids may be
   * new). Every edit of one request goes through here, so they reach Discord in order. A result
   * posted in the channel, not as the requester's own reply, mentions them.
   */
  async show(message: DiscordMessage, view: RequestMessageView, options: { postKey?: string } = {}): Promise<DiscordMessage> {
    const inChannel = message.channelMessageId !== undefined || !this.tokenUsable(message);
    return this.post(message, this.render(view, inChannel), options.postKey === undefined ? undefined : nonceOf(options.postKey));
  }

  private render(view: RequestMessageView, inChannel: boolean): BaseMessageOptions {
    if (view.kind === 'progress') return renderProgress(view);
    if (view.kind === 'preview') return renderPreview(view);
    if (view.kind === 'result') return renderResult(view, { mention: inChannel });
    return renderFailure(view);
  }

  /** A `nonce` makes a message the bot has to post anew safe to send twice: Discord returns the first one. */
  private async post(message: DiscordMessage, payload: BaseMessageOptions, nonce: string | undefined): Promise<DiscordMessage> {
    if (!message.channelMessageId && this.tokenUsable(message)) {
      const edited = await this.webhookFor(message).editMessage('@original', payload);
      return message.messageId ? message : { ...message, messageId: edited.id };
    }
    const channel = await this.channel(message.channelId);
    if (message.channelMessageId) {
      const existing = await channel.messages.fetch(message.channelMessageId);
      // A message with new files is sent anew; attachments cannot be added to a posted message.
      if (!payload.files?.length) {
        await existing.edit(payload);
        return message;
      }
    }
    const sent = await channel.send(nonce ? { ...payload, nonce, enforceNonce: true } : payload);
    return { ...message, channelMessageId: sent.id };
  }

  /**
   * Whether the interaction's reply already carries exactly these files: a delivery whose poster
   * died after Discord took the upload, but before it could say so, is not posted a second time.
   */
  async alreadyCarries(message: DiscordMessage, fileNames: string[]): Promise<boolean> {
    if (message.channelMessageId || !this.tokenUsable(message)) return false;
    const reply = await this.webhookFor(message).fetchMessage('@original');
    const shown = reply.attachments.map((attachment) => attachment.filename).sort();
    return fileNames.length > 0 && JSON.stringify(shown) === JSON.stringify([...fileNames].sort());
  }

  /** Tells the requester, in the last reply that still works, that the channel is closed to the bot. */
  async explainUndeliverable(message: DiscordMessage, error: unknown): Promise<boolean> {
    if (!(error instanceof MissingPermissionsError)) return false;
    // The last minute we kept in reserve is for exactly this: the token still works until 15 min.
    if (this.now() - message.interactionAt >= TOKEN_LIFETIME_MS) return false;
    await this.webhookFor(message).editMessage('@original', {
      content: `Your stems are ready, but I can't post them in this channel: I'm missing ${error.missing.join(', ')}. Ask an admin to allow that, then run /jobs.`,
      components: [],
    });
    return true;
  }

  close(): void {
    for (const { client } of this.webhooks.values()) client.destroy();
    this.webhooks.clear();
  }

  private webhookFor(message: DiscordMessage): WebhookClient {
    const now = this.now();
    for (const [token, entry] of this.webhooks) {
      if (entry.expiresAt <= now) {
        entry.client.destroy();
        this.webhooks.delete(token);
      }
    }
    let entry = this.webhooks.get(message.interactionToken);
    if (!entry) {
      // A client of its own, so the bot client's allowedMentions default does not reach it: set it again.
      const client = new WebhookClient({ id: message.applicationId, token: message.interactionToken }, { allowedMentions: NO_MENTIONS, ...(this.apiUrl ? { rest: { api: this.apiUrl } } : {}) });
      entry = { client, expiresAt: message.interactionAt + TOKEN_LIFETIME_MS };
      this.webhooks.set(message.interactionToken, entry);
    }
    return entry.client;
  }

  private async channel(channelId: string): Promise<GuildTextBasedChannel> {
    const channel = await this.client.channels.fetch(channelId);
    if (!channel || !channel.isTextBased() || channel.isDMBased()) throw new MissingPermissionsError(['View Channel']);
    const permissions = channel.permissionsFor(this.client.user?.id ?? '');
    const missing = NEEDED.filter(([flag]) => !permissions?.has(flag)).map(([, name]) => name);
    if (missing.length > 0) throw new MissingPermissionsError(missing);
    return channel;
  }
}
