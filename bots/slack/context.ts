import type { InstallationStore } from '@slack/bolt';
import type { Logger } from '../../core/logging.js';
import type { StembotCore } from '../../core/stembot-core.js';
import type { ProgressTracker } from '../chat/progress-tracker.js';
import type { SlackRequestMessages } from './request-messages.js';

/** What every listener gets besides Bolt's own arguments (whose `client` speaks for the event's workspace). */
export interface SlackContext {
  core: StembotCore;
  progress: ProgressTracker;
  /** Slack's surface: writes to a request's message, in order. */
  messages: SlackRequestMessages;
  logger: Logger;
  /** Models a user may name (the registry's names and any added ones). */
  knownModels: () => Promise<string[]>;
  /** OAuth installs' store (absent with one SLACK_BOT_TOKEN): uninstall events delete from it. */
  installationStore?: InstallationStore;
}
