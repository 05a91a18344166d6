import { Option, type Command } from 'commander';
import { z } from 'zod';
import { UserError } from '../../core/errors.js';
import { buildSlackManifest, type SlackReceiver } from './manifest.js';

/**
 * A public base URL as the operator types it. Slack sends requests only to https, and the bot's
 * paths are appended to it, so a query or fragment would end up in the middle of every URL.
 */
const publicUrlSchema = z
  .url({ protocol: /^https$/, error: 'Give the https address Slack reaches the bot at, like https://stembot.example.com (Slack sends requests only to https).' })
  .transform((text) => new URL(text))
  .refine((url) => url.search === '' && url.hash === '', 'Give the base address without ?query or #fragment, like https://stembot.example.com.')
  .transform((url) => `${url.origin}${url.pathname.replace(/\/+$/, '')}`);

function receiverOf(options: { socketMode?: boolean; url?: string }): SlackReceiver {
  if (options.socketMode) return { kind: 'socket-mode' };
  if (options.url === undefined) {
    throw new UserError('bad_option', 'Say how Slack reaches the bot: --socket-mode (no public address needed) or --url https://your-public-address.');
  }
  const parsed = publicUrlSchema.safeParse(options.url);
  if (!parsed.success) throw new UserError('bad_option', parsed.error.issues[0]?.message ?? 'That is not a public https address.');
  return { kind: 'http', publicUrl: parsed.data };
}

/**
 * `stembot slack manifest --socket-mode | --url <public base url>`: prints the app manifest as
 * JSON for Slack's "Create app from manifest". It reads no settings, so it works before any are set.
 */
export function registerSlackManifestCommand(program: Command, stdout: NodeJS.WritableStream = process.stdout): void {
  // `stembot slack` may gain other setup commands: join the group if one is already registered.
  const slack = program.commands.find((command) => command.name() === 'slack') ?? program.command('slack').description('Slack setup');
  slack
    .command('manifest')
    .description('print the Slack app manifest (JSON) to paste into "Create app from manifest"')
    .addOption(new Option('--socket-mode', 'Slack talks to the bot over a websocket it opens (needs SLACK_APP_TOKEN; no public address)').conflicts('url'))
    .addOption(new Option('--url <public base url>', 'the https address Slack sends events to (<url>/slack/events) and installs return to (<url>/slack/oauth_redirect)'))
    .action((options: { socketMode?: boolean; url?: string }) => {
      stdout.write(`${JSON.stringify(buildSlackManifest(receiverOf(options)), null, 2)}\n`);
    });
}
