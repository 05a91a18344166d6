import { cancelCommand } from './cancel.js';
import type { DiscordCommand, DiscordMessageCommand } from './command.js';
import { helpCommand } from './help.js';
import { jobsCommand } from './jobs.js';
import { quotaAdminCommand } from './quota-admin.js';
import { quotaCommand } from './quota.js';
import { separateMessageCommand } from './separate-message.js';
import { separateCommand } from './separate.js';
import { statusCommand } from './status.js';

/** Every slash command, registered in one place (registration and routing both read this list). */
export const DISCORD_COMMANDS: DiscordCommand[] = [separateCommand, jobsCommand, cancelCommand, quotaCommand, quotaAdminCommand, statusCommand, helpCommand];

/** Every message context-menu command (Apps > on a message), registered alongside the slash commands. */
export const DISCORD_MESSAGE_COMMANDS: DiscordMessageCommand[] = [separateMessageCommand];
