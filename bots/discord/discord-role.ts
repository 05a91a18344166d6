import { Client, Events, GatewayIntentBits, Status } from 'discord.js';
import type { Logger } from '../../core/logging.js';
import type { RoleHandle } from '../../core/queue/relay-role.js';
import type { StembotCore } from '../../core/stembot-core.js';
import { DISCORD_COMMANDS } from './commands/index.js';
import { requestMessageEditor } from '../chat/edit-request-message.js';
import { MessageEdits } from '../chat/message-edits.js';
import { OutboxDelivery } from '../chat/outbox-delivery.js';
import { ProgressTracker } from '../chat/progress-tracker.js';
import type { DiscordContext } from './context.js';
import { createInteractionRouter } from './interaction-router.js';
import { NO_MENTIONS } from './render/user-text.js';
import { RequestMessages } from './request-messages.js';

export interface DiscordSettings {
  token: string;
  applicationId: string;
  /** REST base URL; unset means Discord itself. */
  apiUrl?: string;
}

export interface DiscordRoleOptions {
  core: StembotCore;
  settings: DiscordSettings;
  logger: Logger;
  knownModels: () => Promise<string[]>;
  /** The clock interaction tokens are aged by (Discord's own time in production). */
  now?: () => number;
}

/** The Discord bot: gateway client (Guilds intent only), interaction routing, progress and delivery. */
export async function startDiscordRole(options: DiscordRoleOptions): Promise<RoleHandle & { client: Client }> {
  const log = options.logger.child({ role: 'discord' });
  const now = options.now ?? Date.now;
  // Slash commands and buttons arrive as interactions, which need no privileged intents. Messages
  // carry titles and file names users chose: by default nothing in them may ping anyone.
  const client = new Client({ intents: [GatewayIntentBits.Guilds], allowedMentions: NO_MENTIONS, ...(options.settings.apiUrl ? { rest: { api: options.settings.apiUrl } } : {}) });
  const messages = new RequestMessages(client, options.settings.apiUrl, now);
  // Progress edits and the outbox's posts of one request's message, one at a time.
  const edits = new MessageEdits();
  const progress = new ProgressTracker({ core: options.core, edit: requestMessageEditor(options.core, messages, edits), minEditIntervalMs: messages.minEditIntervalMs, logger: log, now });
  const context: DiscordContext = { core: options.core, client, progress, messages, logger: log, knownModels: options.knownModels };
  const route = createInteractionRouter(DISCORD_COMMANDS, context);
  client.on(Events.InteractionCreate, (interaction) => void route(interaction));
  client.on(Events.Error, (error) => log.warn({ err: error.message }, 'discord client error'));
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(options.settings.token);
  await ready;
  const delivery = new OutboxDelivery(options.core, messages, log, edits);
  delivery.start();
  log.info({ user: client.user?.tag, guilds: client.guilds.cache.size }, 'discord bot ready');
  return {
    name: 'discord',
    client,
    // The gateway reconnects by itself; while it does, interactions go unanswered.
    readiness: async () => (client.isReady() && client.ws.status === Status.Ready ? { ok: true } : { ok: false, detail: `gateway ${Status[client.ws.status]?.toLowerCase() ?? 'not connected'}` }),
    async stop() {
      progress.stopAll();
      await delivery.stop();
      messages.close();
      await client.destroy();
    },
  };
}
