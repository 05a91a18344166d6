/** The guilds, channels, roles and members the fake knows, and how they look on the wire. */

export const Permission = {
  administrator: 1n << 3n,
  viewChannel: 1n << 10n,
  sendMessages: 1n << 11n,
  embedLinks: 1n << 14n,
  attachFiles: 1n << 15n,
  readMessageHistory: 1n << 16n,
  useApplicationCommands: 1n << 31n,
} as const;

const ALL_PERMISSIONS = (1n << 53n) - 1n;

/** What an ordinary member may do in an ordinary text channel. */
export const MEMBER_PERMISSIONS =
  Permission.viewChannel | Permission.sendMessages | Permission.embedLinks | Permission.attachFiles |
  Permission.readMessageHistory | Permission.useApplicationCommands;

export interface FakeUser {
  id: string;
  username: string;
  bot?: boolean;
}

export interface FakeRole {
  id: string;
  name: string;
  permissions: bigint;
}

export interface FakeOverwrite {
  /** A role id or a user id, as `type` says. */
  id: string;
  type: 'role' | 'member';
  allow?: bigint;
  deny?: bigint;
}

export interface FakeChannel {
  id: string;
  name: string;
  overwrites?: FakeOverwrite[];
}

export interface FakeMember {
  user: FakeUser;
  /** Role ids besides @everyone (whose id is the guild id). */
  roles: string[];
}

export interface FakeGuild {
  id: string;
  name: string;
  ownerId: string;
  /** Must include @everyone, whose id is the guild id. */
  roles: FakeRole[];
  channels: FakeChannel[];
  members: FakeMember[];
}

const GUILD_TEXT = 0;

/**
 * One guild with a #general channel, an "Admins" role, the bot and a user "alice". Ids are fixed
 * so tests can name them.
 */
export function defaultGuild(bot: FakeUser): FakeGuild {
  return {
    id: '1100000000000000001',
    name: 'Fake Guild',
    ownerId: '1100000000000000100',
    roles: [
      { id: '1100000000000000001', name: '@everyone', permissions: MEMBER_PERMISSIONS },
      { id: '1100000000000000002', name: 'Admins', permissions: Permission.administrator },
    ],
    channels: [{ id: '1100000000000000010', name: 'general' }],
    members: [
      { user: bot, roles: [] },
      { user: { id: '1100000000000000100', username: 'alice' }, roles: ['1100000000000000002'] },
    ],
  };
}

/** Discord's permission algorithm: base from roles, then @everyone, role and member overwrites. */
export function permissionsIn(guild: FakeGuild, userId: string, channel?: FakeChannel): bigint {
  if (userId === guild.ownerId) return ALL_PERMISSIONS;
  const member = guild.members.find((m) => m.user.id === userId);
  const roleIds = new Set([guild.id, ...(member?.roles ?? [])]);
  let perms = guild.roles.filter((r) => roleIds.has(r.id)).reduce((acc, r) => acc | r.permissions, 0n);
  if (perms & Permission.administrator) return ALL_PERMISSIONS;
  if (!channel) return perms;
  const overwrites = channel.overwrites ?? [];
  const apply = (list: FakeOverwrite[]) => {
    const deny = list.reduce((acc, o) => acc | (o.deny ?? 0n), 0n);
    const allow = list.reduce((acc, o) => acc | (o.allow ?? 0n), 0n);
    perms = (perms & ~deny) | allow;
  };
  apply(overwrites.filter((o) => o.type === 'role' && o.id === guild.id));
  apply(overwrites.filter((o) => o.type === 'role' && o.id !== guild.id && roleIds.has(o.id)));
  apply(overwrites.filter((o) => o.type === 'member' && o.id === userId));
  return perms;
}

const JOINED_AT = '2024-01-01T00:00:00.000Z';

export function apiUser(user: FakeUser) {
  return {
    id: user.id,
    username: user.username,
    discriminator: '0',
    global_name: user.bot ? null : user.username,
    avatar: null,
    bot: user.bot ?? false,
    system: false,
    flags: 0,
    public_flags: 0,
  };
}

export function apiRole(role: FakeRole, position: number) {
  return {
    id: role.id,
    name: role.name,
    permissions: role.permissions.toString(),
    position,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    managed: false,
    mentionable: false,
    flags: 0,
  };
}

export function apiChannel(guild: FakeGuild, channel: FakeChannel, position: number) {
  return {
    id: channel.id,
    type: GUILD_TEXT,
    guild_id: guild.id,
    name: channel.name,
    position,
    parent_id: null,
    topic: null,
    nsfw: false,
    last_message_id: null,
    rate_limit_per_user: 0,
    flags: 0,
    permission_overwrites: (channel.overwrites ?? []).map((o) => ({
      id: o.id,
      type: o.type === 'role' ? 0 : 1,
      allow: (o.allow ?? 0n).toString(),
      deny: (o.deny ?? 0n).toString(),
    })),
  };
}

export function apiMember(member: FakeMember) {
  return {
    user: apiUser(member.user),
    nick: null,
    avatar: null,
    banner: null,
    roles: member.roles,
    joined_at: JOINED_AT,
    premium_since: null,
    deaf: false,
    mute: false,
    flags: 0,
    pending: false,
    communication_disabled_until: null,
  };
}

/** The guild as `GET /guilds/:id` returns it (no channels or members). */
export function apiGuild(guild: FakeGuild) {
  return {
    id: guild.id,
    name: guild.name,
    icon: null,
    splash: null,
    discovery_splash: null,
    banner: null,
    description: null,
    owner_id: guild.ownerId,
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    mfa_level: 0,
    nsfw_level: 0,
    premium_tier: 0,
    premium_subscription_count: 0,
    premium_progress_bar_enabled: false,
    system_channel_id: null,
    system_channel_flags: 0,
    rules_channel_id: null,
    public_updates_channel_id: null,
    safety_alerts_channel_id: null,
    vanity_url_code: null,
    preferred_locale: 'en-US',
    application_id: null,
    max_members: 500_000,
    max_video_channel_users: 25,
    features: [],
    roles: guild.roles.map(apiRole),
    emojis: [],
    stickers: [],
  };
}

/** The guild as the GUILD_CREATE dispatch carries it: channels, members and the gateway-only fields. */
export function apiGuildCreate(guild: FakeGuild) {
  return {
    ...apiGuild(guild),
    joined_at: JOINED_AT,
    large: false,
    unavailable: false,
    member_count: guild.members.length,
    members: guild.members.map(apiMember),
    channels: guild.channels.map((c, i) => apiChannel(guild, c, i)),
    threads: [],
    presences: [],
    voice_states: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
  };
}
