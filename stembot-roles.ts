/**
 * The long-running process's composition root: the only module besides stembot.ts that sees
 * bots, core and worker together, and wires them into roles. The command line loads it only for
 * the commands that start roles or open the database, so `stembot separate` and `--help` start
 * without loading the chat clients, the ORM and the storage SDKs (seconds on a small VM).
 */
import { startDiscordRole } from './bots/discord/discord-role.js';
import { slackFileTokens } from './bots/slack/file-tokens.js';
import { startSlackRole } from './bots/slack/slack-role.js';
import { DEFAULT_MODEL, REGISTRY } from './worker/engine/registry.js';
import { enabledPlatforms, type Config } from './core/config.js';
import { createShutdown, exitOnCrash } from './core/cli/shutdown.js';
import { applyMigrations, createMigration } from './core/db/migrate.js';
import type { Orm } from './core/db/orm.js';
import type { Logger } from './core/logging.js';
import { migrateQueueStore } from './core/queue/queue-backend.js';
import { startRelayRole, type RoleHandle } from './core/queue/relay-role.js';
import { openRuntime } from './core/runtime.js';
import type { SourceFetchers } from './core/sources.js';
import { StembotCore } from './core/stembot-core.js';
import { startWebRole, type WebRole } from './core/web/web-role.js';
import { locateFfmpeg, type FfmpegTools } from './worker/audio/ffmpeg.js';
import { AttachmentFetcher } from './worker/fetch/attachment-fetcher.js';
import { createYouTubeFetcher } from './worker/fetch/youtube-fetcher.js';
import { startConfiguredWorker } from './worker/start-worker.js';

/** How long a worker may finish its current step after SIGTERM before jobs are left to stall over. */
const SHUTDOWN_GRACE_MS = 3_000;

/** YouTube and platform-file fetchers, shared by core (inspect at submit) and the worker (download). */
async function createFetchers(config: Config, logger: Logger, tools: FfmpegTools, orm: Orm): Promise<SourceFetchers> {
  const hostOf = (url: string | undefined) => (url ? [new URL(url).host] : []);
  return {
    youtube: await createYouTubeFetcher(config.youtube, { tempDir: config.tempDir, searchPath: process.env.PATH, logger: logger.child({ component: 'youtube' }) }),
    attachment: new AttachmentFetcher({
      tools,
      tempDir: config.tempDir,
      logger: logger.child({ component: 'attachments' }),
      // Each Slack file is downloaded with its own workspace's bot token (OAuth installs), or the one SLACK_BOT_TOKEN.
      ...(config.slack ? { slackToken: slackFileTokens({ settings: config.slack, orm, logger: logger.child({ component: 'slack-file-tokens' }) }) } : {}),
      // A configured API endpoint (a proxy, or the test servers) serves that platform's files too.
      extraHosts: { discord: hostOf(config.discord?.apiUrl), slack: hostOf(config.slack?.apiUrl) },
    }),
  };
}

export async function start(config: Config, logger: Logger): Promise<void> {
  const startedAt = performance.now();
  const runtime = await openRuntime(config, logger);
  const roles: RoleHandle[] = [];
  let web: WebRole | undefined;
  let stopping = false;
  const shutdown = createShutdown({
    logger,
    deadlineMs: SHUTDOWN_GRACE_MS + 1_500,
    async stop() {
      stopping = true;
      // Readiness goes false first, so nothing new is sent this way while the roles wind down.
      if (web) {
        web.markStopping();
        logger.info({ role: 'web' }, 'readiness withdrawn: /readyz answers 503 while the roles stop');
      }
      // Reverse start order: chat and workers stop taking work before the relay, web and connections go.
      for (const role of roles.reverse()) await stopRole(role, logger);
      await runtime.close();
    },
  });
  exitOnCrash({ logger, shutdown });
  const startRole = async <T extends RoleHandle>(name: string, begin: () => Promise<T>): Promise<T> => {
    const began = performance.now();
    const role = await begin();
    roles.push(role);
    logger.info({ role: name, startupMs: Math.round(performance.now() - began) }, 'role started');
    return role;
  };
  try {
    const { ffmpeg, ffprobe } = await locateFfmpeg({ ffmpegPath: config.ffmpegPath, searchPath: process.env.PATH });
    const fetchers = await createFetchers(config, logger, { ffmpeg, ffprobe }, runtime.orm);
    const core = new StembotCore({ em: runtime.orm.em, config, queues: runtime.queues, fetchers, logger });
    roles.push({ name: 'core', stop: () => core.close() });
    // First, so /healthz answers and /readyz tells what is still missing while the rest starts.
    if (config.roles.includes('web')) {
      web = await startRole('web', () =>
        startWebRole({
          settings: config.web,
          core,
          runtime,
          roles: () => [...roles],
          defaultModel: config.quotaDefaults.allowedModels[0] ?? DEFAULT_MODEL,
          links: { settings: config.links, retentionDays: config.retentionDays },
          logger,
        }),
      );
    }
    if (config.roles.includes('relay')) {
      await startRole('relay', () => startRelayRole(runtime, logger, { listeners: [core.recorder.onEvent], reconciler: core.reconciler }));
      await core.scheduleRetention();
    }
    if (config.roles.includes('worker')) {
      const worker = await startRole('worker', () => startConfiguredWorker({ config, runtime, fetchers, ffmpeg, logger, graceMs: SHUTDOWN_GRACE_MS }));
      // The worker takes jobs once its models are in (a download can take minutes); a worker that
      // cannot start at all takes the process down, so a supervisor sees it.
      worker.ready.catch((error: unknown) => {
        if (stopping) return;
        process.exitCode = 1;
        logger.fatal({ err: error }, 'the worker could not start; shutting down');
        void shutdown();
      });
    }
    const knownModels = async () => [...new Set([...REGISTRY.map((entry) => entry.name), ...config.quotaDefaults.allowedModels])];
    if (config.roles.includes('discord') && config.discord) {
      const discord = config.discord;
      await startRole('discord', () => startDiscordRole({ core, settings: discord, logger, knownModels }));
    }
    if (config.roles.includes('slack') && config.slack) {
      const slack = config.slack;
      await startRole('slack', () => startSlackRole({ core, settings: slack, logger, knownModels, orm: runtime.orm }));
    }
  } catch (error) {
    await shutdown();
    throw error;
  }
  if (enabledPlatforms(config).length === 0) {
    logger.info(
      'no chat platform configured: set DISCORD_TOKEN and DISCORD_APPLICATION_ID for Discord, or SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN for Slack',
    );
  }
  logger.info({ roles: roles.map((role) => role.name), startupMs: Math.round(performance.now() - startedAt), ...(web ? { web: web.url } : {}) }, 'stembot is ready');
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info({ signal }, 'shutting down');
  await shutdown();
  logger.info({ shutdownMs: Math.round(performance.now() - startedAt) }, 'stopped');
}

/** Stops one role and says how long it took; one that fails to stop is logged, and the rest still stop. */
async function stopRole(role: RoleHandle, logger: Logger): Promise<void> {
  const began = performance.now();
  try {
    await role.stop();
    logger.info({ role: role.name, stopMs: Math.round(performance.now() - began) }, 'role stopped');
  } catch (error) {
    logger.error({ err: error, role: role.name }, 'role did not stop cleanly');
  }
}

/** Applies the migrations (and with `create`, writes one for entity changes); returns what it did, for the terminal. */
export async function migrate(config: Config, logger: Logger, options: { create?: boolean }): Promise<string[]> {
  const runtime = await openRuntime(config, logger, { migrate: false });
  try {
    const applied = await applyMigrations(runtime.orm, runtime.databaseUrl, logger);
    await migrateQueueStore(runtime.queues.connection);
    const said = [applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'database schema is up to date'];
    if (options.create) {
      const file = await createMigration(runtime.orm);
      said.push(file ? `wrote migrations/${file}; add it to migrations/index.ts` : 'entities and database agree: no migration needed');
    }
    return said;
  } finally {
    await runtime.close();
  }
}
