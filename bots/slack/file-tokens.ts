import { UserError } from '../../core/errors.js';
import type { Orm } from '../../core/db/orm.js';
import type { Logger } from '../../core/logging.js';
import { PostgresInstallationStore, SlackTokenKeyError } from './installation-store.js';
import type { SlackSettings } from './slack-role.js';

/** The bot token that downloads a Slack file, given the file's workspace (the worker's AttachmentFetcher asks). */
export type SlackFileToken = (teamId: string | undefined) => Promise<string | undefined>;

/**
 * One workspace (SLACK_BOT_TOKEN): its token for every file. OAuth installs: the bot token of the
 * file's own workspace, read from the installation store on each download (a reinstall's new token
 * is used at once). A workspace that uninstalled the app is told so; tokens are never logged.
 */
export function slackFileTokens(options: { settings: SlackSettings; orm: Orm; logger: Logger }): SlackFileToken {
  const { settings } = options;
  if (!settings.oauth) return async () => settings.botToken;
  const store = new PostgresInstallationStore({ orm: options.orm, tokenKey: settings.oauth.tokenKey, logger: options.logger });
  return async (teamId) => {
    if (!teamId) throw new UserError('attachment_gone', 'This file’s Slack workspace is unknown; share it again and ask once more.');
    // A changed SLACK_TOKEN_KEY (the store logged it) or a database outage is the operator's, not the workspace's: thrown as is.
    const installation = await store.fetchInstallation({ teamId, enterpriseId: undefined, isEnterpriseInstall: false }).catch((error: unknown) => {
      if (error instanceof SlackTokenKeyError || !(error instanceof Error) || !error.message.startsWith('no Slack installation')) throw error;
      return undefined;
    });
    const token = installation?.bot?.token;
    if (token) return token;
    options.logger.warn({ teamId }, 'no Slack installation for a file download');
    // attachment_gone: core's code for a file that can no longer be fetched; the words say why.
    throw new UserError('attachment_gone', 'This workspace’s installation of stembot is gone; reinstall it, then ask again.');
  };
}
