import type { App } from '@slack/bolt';
import type { SlackContext } from '../context.js';
import { CANCEL_ACTION } from '../render/progress.js';
import { JOBS_PAGE_ACTION } from '../render/jobs.js';
import { appHomeOpened } from './app-home.js';
import { appMention } from './app-mention.js';
import { cancelAction } from './cancel-action.js';
import { directMessageFile } from './direct-message-file.js';
import { jobsPageAction } from './jobs-page-action.js';
import { separateCommand } from './separate-command.js';
import { SEPARATE_SHORTCUT, separateShortcut } from './separate-shortcut.js';
import { stembotCommand } from './stembot-command.js';
import { appUninstalled, tokensRevoked } from './uninstall.js';

/** Every listener, wired in one place. Names match the app manifest. */
export function registerListeners(app: App, context: SlackContext): void {
  app.command('/separate', (args) => separateCommand(args, context));
  app.command('/stembot', (args) => stembotCommand(args, context));
  app.shortcut(SEPARATE_SHORTCUT, (args) => separateShortcut(args, context));
  app.action({ type: 'block_actions', action_id: CANCEL_ACTION }, (args) => cancelAction(args, context));
  app.action({ type: 'block_actions', action_id: new RegExp(`^${JOBS_PAGE_ACTION}_`) }, (args) => jobsPageAction(args, context));
  app.event('app_mention', (args) => appMention(args, context));
  app.event('message', (args) => directMessageFile(args, context));
  app.event('app_home_opened', (args) => appHomeOpened(args, context));
  app.event('app_uninstalled', (args) => appUninstalled(args, context));
  app.event('tokens_revoked', (args) => tokensRevoked(args, context));
}
