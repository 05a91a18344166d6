#!/usr/bin/env node
/**
 * The stembot command line. What a command needs is loaded when it runs: the roles and the
 * database behind `start` and `migrate` (stembot-roles.ts) and the Discord client behind
 * `discord register` are seconds of module loading that `separate` and `--help` do without.
 */
import { Command } from 'commander';
import { registerSlackManifestCommand } from './bots/slack/manifest-command.js';
import { UserError } from './core/errors.js';
import { loadConfig } from './core/cli/load-config.js';
import { runCliAction } from './core/cli/run-cli.js';
import { registerStatusCommand } from './core/cli/status-command.js';
import { registerModelsCommand } from './worker/cli/models-command.js';
import { registerSeparateCommand } from './worker/cli/separate-command.js';
import { registerYouTubeCommand } from './worker/cli/youtube-command.js';

export function buildProgram(): Command {
  const program = new Command('stembot').description('Separate songs into stems from Discord and Slack.').showHelpAfterError();
  program
    .command('start')
    .description('run the bot: queue relay, separation worker, web endpoints and the configured chat platforms')
    .option('--role <roles>', 'only these roles, comma-separated: relay, worker, discord, slack, web (default: ROLES or all)')
    .action(async (options: { role?: string }) => {
      const { config, logger } = loadConfig({ ROLES: options.role });
      const { start } = await import('./stembot-roles.js');
      await start(config, logger);
    });
  program
    .command('migrate')
    .description('apply database migrations (start does this too)')
    .option('--create', 'development: also write a migration for entity changes')
    .action(async (options: { create?: boolean }) => {
      const { config, logger } = loadConfig();
      const { migrate } = await import('./stembot-roles.js');
      for (const line of await migrate(config, logger, options)) console.log(line);
    });
  program
    .command('discord')
    .description('Discord setup')
    .command('register')
    .description('register the slash commands (bulk overwrite): in one guild with --guild, else globally')
    .option('--guild <id>', 'a guild id, for development (changes show at once)')
    .action(async (options: { guild?: string }) => {
      const { config } = loadConfig();
      if (!config.discord) throw new UserError('discord_not_configured', 'Set DISCORD_TOKEN and DISCORD_APPLICATION_ID first.');
      const { registerDiscordCommands } = await import('./bots/discord/register-commands.js');
      const names = await registerDiscordCommands(config.discord, options.guild);
      console.log(`registered ${names.join(', ')} ${options.guild ? `in guild ${options.guild}` : 'globally'}`);
    });
  registerSlackManifestCommand(program);
  registerStatusCommand(program, () => {
    const { config, logger } = loadConfig();
    // The report is the output: routine start-up lines would bury it (warnings still show).
    if (logger.level === 'info') logger.level = 'warn';
    return { config, logger };
  });
  registerSeparateCommand(program, () => {
    const { config, logger } = loadConfig();
    return { modelsDir: config.modelsDir, ffmpegPath: config.ffmpegPath, device: config.onnx.device, threads: config.onnx.threads, tempDir: config.tempDir, diskMinFreeBytes: config.diskMinFreeBytes, logger };
  });
  registerModelsCommand(program, () => {
    const { config, logger } = loadConfig();
    return { modelsDir: config.modelsDir, registryUrl: config.modelRegistryUrl, logger };
  });
  registerYouTubeCommand(program, () => {
    const { config } = loadConfig();
    return { settings: config.youtube, tempDir: config.tempDir, searchPath: process.env.PATH };
  });
  return program;
}

// Internal errors print one line; with LOG_LEVEL=debug (or trace) the stack follows, for whoever debugs.
const showStack = (error: unknown) => {
  if (/^(debug|trace)$/.test(process.env.LOG_LEVEL ?? '') && error instanceof Error) console.error(error.stack);
};
await runCliAction(() => buildProgram().parseAsync(process.argv).then(() => undefined), showStack);
