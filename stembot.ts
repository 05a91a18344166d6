#!/usr/bin/env node
/**
 * The stembot command line and the process's composition root: the only module that sees bots,
 * core and worker together and wires them into roles.
 */
import { Command } from 'commander';
import { enabledPlatforms, type Config } from './core/config.js';
import { loadConfig } from './core/cli/load-config.js';
import { runCliAction } from './core/cli/run-cli.js';
import { applyMigrations, createMigration } from './core/db/migrate.js';
import type { Logger } from './core/logging.js';
import { migrateQueueStore } from './core/queue/queue-backend.js';
import { startRelayRole, type RoleHandle } from './core/queue/relay-role.js';
import { openRuntime } from './core/runtime.js';
import { registerModelsCommand } from './worker/cli/models-command.js';
import { registerSeparateCommand } from './worker/cli/separate-command.js';

/** How long a worker may finish its current step after SIGTERM before jobs are left to stall over. */
const SHUTDOWN_GRACE_MS = 3_000;

async function start(config: Config, logger: Logger): Promise<void> {
  const startedAt = performance.now();
  const runtime = await openRuntime(config, logger);
  const roles: RoleHandle[] = [];
  const stopAll = async () => {
    // Reverse start order: chat and workers stop taking work before the relay and connections go.
    for (const role of roles.reverse()) await role.stop().catch((error: unknown) => logger.error({ err: error, role: role.name }, 'role did not stop cleanly'));
    await runtime.close();
  };
  try {
    if (config.roles.includes('relay')) roles.push(await startRelayRole(runtime, logger));
  } catch (error) {
    await stopAll();
    throw error;
  }
  if (enabledPlatforms(config).length === 0) {
    logger.info(
      'no chat platform configured: set DISCORD_TOKEN and DISCORD_APPLICATION_ID for Discord, or SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN for Slack',
    );
  }
  logger.info({ roles: roles.map((role) => role.name), startupMs: Math.round(performance.now() - startedAt) }, 'stembot is ready');
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info({ signal }, 'shutting down');
  const forced = setTimeout(() => {
    logger.warn('shutdown is taking too long; exiting');
    process.exit(1);
  }, SHUTDOWN_GRACE_MS + 1_500);
  forced.unref();
  await stopAll();
  logger.info('stopped');
}

async function migrate(config: Config, logger: Logger, options: { create?: boolean }): Promise<void> {
  const runtime = await openRuntime(config, logger, { migrate: false });
  try {
    const applied = await applyMigrations(runtime.orm, runtime.databaseUrl, logger);
    await migrateQueueStore(runtime.queues.connection);
    console.log(applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'database schema is up to date');
    if (options.create) {
      const file = await createMigration(runtime.orm);
      console.log(file ? `wrote migrations/${file}; add it to migrations/index.ts` : 'entities and database agree: no migration needed');
    }
  } finally {
    await runtime.close();
  }
}

export function buildProgram(): Command {
  const program = new Command('stembot').description('Separate songs into stems from Discord and Slack.').showHelpAfterError();
  program
    .command('start')
    .description('run the bot: queue relay, separation worker and the configured chat platforms')
    .option('--role <roles>', 'only these roles, comma-separated: relay, worker, discord, slack (default: ROLES or all)')
    .action(async (options: { role?: string }) => {
      const { config, logger } = loadConfig({ ROLES: options.role });
      await start(config, logger);
    });
  program
    .command('migrate')
    .description('apply database migrations (start does this too)')
    .option('--create', 'development: also write a migration for entity changes')
    .action(async (options: { create?: boolean }) => {
      const { config, logger } = loadConfig();
      await migrate(config, logger, options);
    });
  registerSeparateCommand(program, () => {
    const { config, logger } = loadConfig();
    return { modelsDir: config.modelsDir, ffmpegPath: config.ffmpegPath, device: config.onnx.device, threads: config.onnx.threads, logger };
  });
  registerModelsCommand(program, () => {
    const { config, logger } = loadConfig();
    return { modelsDir: config.modelsDir, logger };
  });
  return program;
}

await runCliAction(() => buildProgram().parseAsync(process.argv).then(() => undefined));
