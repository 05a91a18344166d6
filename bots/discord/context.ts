import type { Client } from 'discord.js';
import type { Logger } from '../../core/logging.js';
import type { StembotCore } from '../../core/stembot-core.js';
import type { ProgressTracker } from '../chat/progress-tracker.js';
import type { RequestMessages } from './request-messages.js';

/** What every command handler gets besides its interaction. */
export interface DiscordContext {
  core: StembotCore;
  client: Client;
  progress: ProgressTracker;
  /** Discord's surface: writes to a request's reply or channel message, in order. */
  messages: RequestMessages;
  logger: Logger;
  /** Models offered by autocomplete (the registry's names and any added ones). */
  knownModels: () => Promise<string[]>;
}
