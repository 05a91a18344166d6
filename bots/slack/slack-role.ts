import type { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, type AppOptions, type InstallationStore } from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import type { Config } from '../../core/config.js';
import type { Orm } from '../../core/db/orm.js';
import type { Logger } from '../../core/logging.js';
import type { RoleHandle } from '../../core/queue/relay-role.js';
import type { StembotCore } from '../../core/stembot-core.js';
import { requestMessageEditor } from '../chat/edit-request-message.js';
import { MessageEdits } from '../chat/message-edits.js';
import { OutboxDelivery } from '../chat/outbox-delivery.js';
import { ProgressTracker } from '../chat/progress-tracker.js';
import { boltLogger } from './bolt-logger.js';
import type { SlackContext } from './context.js';
import { PostgresInstallationStore } from './installation-store.js';
import { registerListeners } from './listeners/index.js';
import { SlackRequestMessages, type ClientForTeam } from './request-messages.js';

export type SlackSettings = NonNullable<Config['slack']>;

/** The bot scopes an OAuth install asks for (the app manifest lists the same). */
export const SLACK_BOT_SCOPES = ['app_mentions:read', 'channels:history', 'channels:read', 'chat:write', 'commands', 'files:read', 'files:write', 'groups:history', 'im:history', 'users:read'];

export interface SlackRoleOptions {
  core: StembotCore;
  settings: SlackSettings;
  logger: Logger;
  knownModels: () => Promise<string[]>;
  /** Holds the workspaces' installations; needed with OAuth (settings.oauth). */
  orm?: Orm;
  /** Slack's authorize page; tests point it at their fake. Default: Slack's. */
  authorizationUrl?: string;
}

/** The receiver, token and OAuth options Bolt gets from the settings. */
function boltOptions(options: SlackRoleOptions, installationStore: InstallationStore | undefined, logger: Logger): AppOptions {
  const { settings } = options;
  const common: AppOptions = { logger: boltLogger(logger), clientOptions: { slackApiUrl: settings.apiUrl } };
  // Socket Mode when an app token is given: no public URL needed. Otherwise Slack POSTs signed
  // requests to the HTTP receiver, which refuses a bad signature and anything over 5 minutes old.
  const receiver: AppOptions = settings.appToken ? { socketMode: true, appToken: settings.appToken } : { signingSecret: settings.signingSecret };
  if (!settings.oauth) return { ...common, ...receiver, token: settings.botToken };
  const { oauth } = settings;
  return {
    ...common,
    ...receiver,
    // Socket Mode needs the signing secret for nothing, but Bolt's OAuth wants one set.
    signingSecret: settings.signingSecret ?? oauth.stateSecret,
    clientId: oauth.clientId,
    clientSecret: oauth.clientSecret,
    stateSecret: oauth.stateSecret,
    scopes: SLACK_BOT_SCOPES,
    installationStore,
    ...(oauth.redirectUri ? { redirectUri: oauth.redirectUri } : {}),
    installerOptions: {
      directInstall: true,
      redirectUriPath: oauth.redirectPath,
      ...(settings.appToken ? { port: settings.port } : {}),
      ...(options.authorizationUrl ? { authorizationUrl: options.authorizationUrl } : {}),
    },
  };
}

/** The Web API client for a workspace outside Bolt's listeners (progress, delivery): the one token, or its installation's. */
function clientsFor(settings: SlackSettings, installationStore: InstallationStore | undefined, logger: Logger): ClientForTeam {
  const clientOptions = { slackApiUrl: settings.apiUrl, logger: boltLogger(logger) };
  if (settings.botToken) {
    const client = new WebClient(settings.botToken, clientOptions);
    return async () => client;
  }
  const clients = new Map<string, WebClient>();
  return async (teamId) => {
    const installation = await installationStore?.fetchInstallation({ teamId, enterpriseId: undefined, isEnterpriseInstall: false });
    const token = installation?.bot?.token;
    if (!token) throw new Error(`no bot token installed for Slack workspace ${teamId}`);
    // Keyed by token: a reinstall (new token) gets a fresh client.
    let client = clients.get(token);
    if (!client) {
      client = new WebClient(token, clientOptions);
      clients.set(token, client);
    }
    return client;
  };
}

/**
 * Follows the Socket Mode connection's state. Bolt keeps its receiver private, so this reads the
 * receiver's documented SocketModeClient (an EventEmitter of `connected`, `reconnecting` and
 * `disconnected`) through a narrow cast; without one it reports connected, as Bolt started.
 */
function socketModeConnection(app: App): { state: string } {
  const connection = { state: 'connected' };
  const client = (app as unknown as { receiver?: { client?: EventEmitter } }).receiver?.client;
  for (const state of ['connected', 'reconnecting', 'disconnected']) client?.on(state, () => (connection.state = state));
  return connection;
}

/** The Slack bot: Bolt (Socket Mode or HTTP; one workspace or OAuth installs), listeners, progress and delivery. */
export async function startSlackRole(options: SlackRoleOptions): Promise<RoleHandle & { app: App; url?: string }> {
  const log = options.logger.child({ role: 'slack' });
  const { settings } = options;
  if (settings.oauth && !options.orm) throw new Error('Slack OAuth installs need the database for their installation store');
  const installationStore = settings.oauth && options.orm ? new PostgresInstallationStore({ orm: options.orm, tokenKey: settings.oauth.tokenKey, logger: log }) : undefined;
  const app = new App(boltOptions(options, installationStore, log));
  const messages = new SlackRequestMessages(clientsFor(settings, installationStore, log));
  // Progress edits and the outbox's posts of one request's message, one at a time.
  const edits = new MessageEdits();
  const progress = new ProgressTracker({ core: options.core, edit: requestMessageEditor(options.core, messages, edits), minEditIntervalMs: messages.minEditIntervalMs, logger: log });
  const context: SlackContext = { core: options.core, progress, messages, logger: log, knownModels: options.knownModels, ...(installationStore ? { installationStore } : {}) };
  registerListeners(app, context);
  app.error(async (error) => {
    log.warn({ err: error.message, code: error.code }, 'slack listener failed');
  });
  const started = settings.appToken ? await app.start() : await app.start(settings.port);
  const address = !settings.appToken && started && typeof (started as Server).address === 'function' ? ((started as Server).address() as AddressInfo | null) : null;
  const delivery = new OutboxDelivery(options.core, messages, log, edits);
  delivery.start();
  log.info({ receiver: settings.appToken ? 'socket-mode' : 'http', port: address?.port, oauth: Boolean(settings.oauth) }, 'slack bot ready');
  const connection = settings.appToken ? socketModeConnection(app) : undefined;
  return {
    name: 'slack',
    app,
    // HTTP: the endpoint listens as long as the process runs. Socket Mode: the socket may drop and reconnect.
    readiness: async () => (!connection || connection.state === 'connected' ? { ok: true } : { ok: false, detail: `socket mode ${connection.state}` }),
    ...(address ? { url: `http://127.0.0.1:${address.port}` } : {}),
    async stop() {
      progress.stopAll();
      await delivery.stop();
      await app.stop();
    },
  };
}
