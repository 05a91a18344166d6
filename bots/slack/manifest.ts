/**
 * The Slack app manifest: everything Slack must know about the app (scopes, slash commands, the
 * message shortcut, events, both receivers), in the shape of Slack's "Create app from manifest"
 * (https://api.slack.com/reference/manifests). tests/bots/slack/manifest.test.ts holds it against
 * the listeners the Slack role registers and the scopes its OAuth install asks for, so the app Slack
 * is told about and the app that answers cannot drift apart.
 */

/** Slack's path for events, commands and interactivity alike (Bolt's HTTP receiver default). */
const EVENTS_PATH = '/slack/events';
/** Where Slack sends an installer back with the OAuth code (Bolt's default, SLACK_REDIRECT_URI's default path). */
const OAUTH_REDIRECT_PATH = '/slack/oauth_redirect';

/** The two slash commands. Few, because every workspace app competes for the same `/` names. */
const SLACK_COMMANDS = {
  /** Asks for stems; the same name as on Discord, so people who use both type the same thing. */
  separate: '/separate',
  /** Everything else under the bot's own name, where no other app's command collides with it. */
  stembot: '/stembot',
} as const;

/** callback_id of the "Separate stems" message shortcut (slash commands cannot carry files). */
const SEPARATE_SHORTCUT_ID = 'separate_stems';

/**
 * Bot events the app subscribes to. The last two need no scope: Slack sends them to every app so
 * a workspace's installation can be deleted when it removes the bot or revokes its tokens.
 */
const SLACK_BOT_EVENTS = ['app_mention', 'message.im', 'app_home_opened', 'app_uninstalled', 'tokens_revoked'] as const;

/**
 * Every bot scope the app asks for, and the one reason each is needed; nothing else is requested.
 * Not `chat:write.public`: the bot would then post in any public channel; without it, a channel
 * that wants stembot invites it, and the bot says so when it is not there.
 */
const SLACK_BOT_SCOPE_REASONS = {
  commands: 'the /separate and /stembot commands and the "Separate stems" message shortcut',
  'chat:write': 'the request message (chat.postMessage, then chat.update for progress), refusals only the asker sees (chat.postEphemeral)',
  'channels:read': 'conversations.info: whether the bot is in a channel, to say "invite @stembot" before a job rather than after it',
  'files:read': "downloading a user's audio file from url_private (shortcut, mention, DM)",
  'files:write': 'uploading the stems into the request thread (files.getUploadURLExternal + files.completeUploadExternal)',
  'users:read': 'users.info: is the member a workspace admin or owner, checked before /stembot quota set or reset and /stembot status',
  'app_mentions:read': 'the app_mention event (@stembot <link>)',
  'im:history': 'the message.im event: a link or an audio file sent to the bot in a DM; conversations.replies on a DM request thread, as below',
  'channels:history':
    'conversations.replies on a request thread in a public channel: after a restart, whether the stems were already uploaded there, so they are posted exactly once (file-share messages carry no metadata to mark them otherwise)',
  'groups:history': 'the same check in a private channel the bot was invited to',
} as const;

type SlackBotScope = keyof typeof SLACK_BOT_SCOPE_REASONS;
type SlackBotEvent = (typeof SLACK_BOT_EVENTS)[number];

/** How Slack reaches the bot: a websocket the bot opens, or HTTPS requests to a public URL. */
export type SlackReceiver = { kind: 'socket-mode' } | { kind: 'http'; publicUrl: string };

interface ManifestSlashCommand {
  command: string;
  description: string;
  usage_hint: string;
  /** Off: the bot reads links as pasted; Slack's escaping would wrap them as <url> anyway. */
  should_escape: false;
  /** Only over HTTP; in Socket Mode commands arrive on the websocket. */
  url?: string;
}

/** The parts of Slack's manifest schema stembot fills in. */
export interface SlackAppManifest {
  display_information: { name: string; description: string; long_description: string; background_color: string };
  features: {
    app_home: { home_tab_enabled: boolean; messages_tab_enabled: boolean; messages_tab_read_only_enabled: boolean };
    bot_user: { display_name: string; always_online: boolean };
    slash_commands: ManifestSlashCommand[];
    shortcuts: { name: string; type: 'message' | 'global'; callback_id: string; description: string }[];
  };
  oauth_config: { redirect_urls?: string[]; scopes: { bot: SlackBotScope[] } };
  settings: {
    event_subscriptions: { request_url?: string; bot_events: SlackBotEvent[] };
    interactivity: { is_enabled: boolean; request_url?: string };
    org_deploy_enabled: boolean;
    socket_mode_enabled: boolean;
    /** Off: a rotated token expires after 12 h, and a SLACK_BOT_TOKEN set in the environment cannot be refreshed. */
    token_rotation_enabled: boolean;
  };
}

/** Slack's limit on a long_description is 4000 characters and it must be at least 174. */
const LONG_DESCRIPTION =
  'Paste a YouTube link with /separate, or use the "Separate stems" shortcut on a message with an audio file, ' +
  'and stembot splits the song into vocals, drums, bass and other with a Demucs model. Progress shows in one message; ' +
  'the stems are uploaded into its thread. Workspace admins set daily and monthly limits with /stembot quota.';

export function buildSlackManifest(receiver: SlackReceiver): SlackAppManifest {
  const eventsUrl = receiver.kind === 'http' ? `${receiver.publicUrl}${EVENTS_PATH}` : undefined;
  const command = (name: string, description: string, usageHint: string): ManifestSlashCommand => ({
    command: name,
    description,
    usage_hint: usageHint,
    should_escape: false,
    ...(eventsUrl ? { url: eventsUrl } : {}),
  });
  return {
    display_information: {
      name: 'stembot',
      description: 'Splits songs into vocals, drums, bass and other stems.',
      long_description: LONG_DESCRIPTION,
      background_color: '#2c2d30',
    },
    features: {
      // The Messages tab stays writable: sending the bot an audio file in a DM is one way to ask.
      app_home: { home_tab_enabled: true, messages_tab_enabled: true, messages_tab_read_only_enabled: false },
      bot_user: { display_name: 'stembot', always_online: true },
      slash_commands: [
        command(SLACK_COMMANDS.separate, 'Split a YouTube song into stems', '<YouTube link> [stems] [format] [preview:false]'),
        command(SLACK_COMMANDS.stembot, 'Your jobs, cancel, this workspace’s quota, status, help', 'jobs | quota | cancel | status | help | quota set <limit> <value>'),
      ],
      shortcuts: [{ name: 'Separate stems', type: 'message', callback_id: SEPARATE_SHORTCUT_ID, description: 'Split the YouTube link or audio file in this message' }],
    },
    oauth_config: {
      // A Socket Mode bot has no public URL to name; installs in other workspaces go through the HTTP receiver.
      ...(receiver.kind === 'http' ? { redirect_urls: [`${receiver.publicUrl}${OAUTH_REDIRECT_PATH}`] } : {}),
      scopes: { bot: Object.keys(SLACK_BOT_SCOPE_REASONS) as SlackBotScope[] },
    },
    settings: {
      event_subscriptions: { ...(eventsUrl ? { request_url: eventsUrl } : {}), bot_events: [...SLACK_BOT_EVENTS] },
      interactivity: { is_enabled: true, ...(eventsUrl ? { request_url: eventsUrl } : {}) },
      org_deploy_enabled: false,
      socket_mode_enabled: receiver.kind === 'socket-mode',
      token_rotation_enabled: false,
    },
  };
}
