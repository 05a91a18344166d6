/**
 * The Slack app manifest a newcomer pastes into "Create app from manifest": it must declare what
 * the bot listens for and the scopes its Web API calls need, or the app Slack creates silently
 * never delivers a command, a shortcut or an event (or answers calls with missing_scope).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '@slack/bolt';
import type { SlackContext } from '../../../bots/slack/context.js';
import { registerListeners } from '../../../bots/slack/listeners/index.js';
import { buildSlackManifest, type SlackAppManifest } from '../../../bots/slack/manifest.js';
import { SLACK_BOT_SCOPES } from '../../../bots/slack/slack-role.js';
import { runStembot } from '../../support/cli.js';
import { BOT_SCOPES } from '../../support/fake-slack/index.js';
import { makeTempDir } from '../../support/services.js';

/** Every URL anywhere in the manifest, where Slack would send something. */
function urlsIn(manifest: SlackAppManifest): string[] {
  return JSON.stringify(manifest).match(/https?:\/\/[^"]+/g) ?? [];
}

/** What the Slack role listens for, read by registering its listeners on a recording stand-in for Bolt's App. */
function listenedFor() {
  const heard = { commands: [] as string[], shortcuts: [] as string[], events: [] as string[], actions: 0 };
  const app = {
    command: (name: string) => heard.commands.push(name),
    shortcut: (callbackId: string) => heard.shortcuts.push(callbackId),
    event: (name: string) => heard.events.push(name),
    action: () => (heard.actions += 1),
  };
  registerListeners(app as unknown as App, {} as SlackContext);
  return heard;
}

describe('Slack app manifest', () => {
  const socket = buildSlackManifest({ kind: 'socket-mode' });
  const http = buildSlackManifest({ kind: 'http', publicUrl: 'https://stembot.example.com' });

  it('declares exactly the commands and shortcut the bot answers, and subscribes to every event it listens for', () => {
    const heard = listenedFor();
    for (const manifest of [socket, http]) {
      expect(manifest.features.slash_commands.map((c) => c.command).sort()).toEqual([...heard.commands].sort());
      expect(manifest.features.shortcuts.filter((s) => s.type === 'message').map((s) => s.callback_id)).toEqual(heard.shortcuts);
      // Bolt's `message` listener hears only the message events subscribed to: DMs, here.
      const subscribed = manifest.settings.event_subscriptions.bot_events.map((event) => (event.startsWith('message.') ? 'message' : event));
      expect(subscribed).toEqual(expect.arrayContaining(heard.events));
      expect(manifest.settings.interactivity.is_enabled).toBe(heard.actions > 0 || heard.shortcuts.length > 0);
    }
  });

  it('shows users the command hints and shortcut name they look for, and keeps the Messages tab open for DMs', () => {
    expect(socket.features.slash_commands.map((c) => [c.command, c.usage_hint])).toEqual([
      ['/separate', '<YouTube link> [stems] [format] [preview:false]'],
      ['/stembot', 'jobs | quota | cancel | status | help | quota set <limit> <value>'],
    ]);
    expect(socket.features.shortcuts).toEqual([expect.objectContaining({ name: 'Separate stems', type: 'message', callback_id: 'separate_stems' })]);
    expect(socket.settings.event_subscriptions.bot_events).toEqual(['app_mention', 'message.im', 'app_home_opened', 'app_uninstalled', 'tokens_revoked']);
    // The Home tab shows the quota; a read-only Messages tab would stop anyone sending the bot a file.
    expect(socket.features.app_home).toEqual({ home_tab_enabled: true, messages_tab_enabled: true, messages_tab_read_only_enabled: false });
  });

  it('asks for the scopes an OAuth install asks for and the end-to-end tests grant, and no more', () => {
    for (const manifest of [socket, http]) {
      expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...SLACK_BOT_SCOPES].sort());
      expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...BOT_SCOPES].sort());
    }
  });

  it('Socket Mode: no public URL anywhere; HTTP: every request and the OAuth redirect go to the public address', () => {
    expect(socket.settings.socket_mode_enabled).toBe(true);
    expect(urlsIn(socket)).toEqual([]);

    expect(http.settings.socket_mode_enabled).toBe(false);
    const events = 'https://stembot.example.com/slack/events';
    expect(http.features.slash_commands.map((c) => c.url)).toEqual([events, events]);
    expect(http.settings.event_subscriptions.request_url).toBe(events);
    expect(http.settings.interactivity.request_url).toBe(events);
    expect(http.oauth_config.redirect_urls).toEqual(['https://stembot.example.com/slack/oauth_redirect']);
  });
});

describe('stembot slack manifest', () => {
  let temp: { dir: string; remove(): Promise<void> };
  beforeAll(async () => {
    temp = await makeTempDir();
  });
  afterAll(async () => {
    await temp?.remove();
  });

  /** Runs the built CLI; a broken DATABASE_URL proves it prints the manifest without reading settings. */
  async function manifestCli(...args: string[]) {
    const run = runStembot(['slack', 'manifest', ...args], { cwd: temp.dir, env: { DATABASE_URL: 'not-a-url' } });
    return { exit: await run.exited, stdout: run.stdout(), stderr: run.stderr() };
  }

  it('--socket-mode prints the Socket Mode manifest as JSON', async () => {
    const { exit, stdout, stderr } = await manifestCli('--socket-mode');
    expect(exit.code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual(buildSlackManifest({ kind: 'socket-mode' }));
  });

  it('--url prints the HTTP manifest with the bot’s paths under that address (a trailing slash is fine)', async () => {
    const { exit, stdout, stderr } = await manifestCli('--url', 'https://bots.example.org/stembot/');
    expect(exit.code, stderr).toBe(0);
    const manifest = JSON.parse(stdout) as SlackAppManifest;
    expect(manifest.settings.event_subscriptions.request_url).toBe('https://bots.example.org/stembot/slack/events');
    expect(manifest.oauth_config.redirect_urls).toEqual(['https://bots.example.org/stembot/slack/oauth_redirect']);
  });

  it('refuses an address Slack would not send to, and a call that names no receiver, in one line each', async () => {
    const plain = await manifestCli('--url', 'http://stembot.example.com');
    expect(plain.exit.code).toBe(1);
    expect(plain.stdout).toBe('');
    expect(plain.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^stembot: Give the https address Slack reaches the bot at/)]);

    const neither = await manifestCli();
    expect(neither.exit.code).toBe(1);
    expect(neither.stderr).toMatch(/--socket-mode .* or --url/);
  });
});
