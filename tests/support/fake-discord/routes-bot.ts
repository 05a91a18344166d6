import { apiMessage } from './api-message.js';
import { DiscordErrors } from './errors.js';
import type { Route, RouteContext, RouteResult } from './http.js';
import { applyMessageBody, checkMessageBody, MessageFlag, readMessageBody, type StoredMessage } from './messages.js';
import type { FakeState, StoredCommand } from './state.js';
import { apiChannel, apiGuild, apiMember, apiRole, apiUser, Permission, permissionsIn } from './world.js';

/** Routes a bot calls with its own token: gateway discovery, commands, channels, guilds. */
export function botRoutes(state: FakeState, gatewayUrl: () => string): Route[] {
  const route = (method: string, template: string, handle: Route['handle']): Route => ({ method, template, auth: true, handle });
  return [
    route('GET', '/gateway/bot', () =>
      ok({ url: gatewayUrl(), shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 } }),
    ),
    { method: 'GET', template: '/gateway', auth: false, handle: () => ok({ url: gatewayUrl() }) },
    route('GET', '/users/@me', () => ok(apiUser(state.bot))),
    route('GET', '/applications/@me', () => ok(apiApplication(state))),
    route('GET', '/applications/:app/commands', (ctx) => ok(commandsOf(state, ctx, 'global'))),
    route('PUT', '/applications/:app/commands', (ctx) => ok(overwriteCommands(state, ctx, undefined))),
    route('GET', '/applications/:app/guilds/:guild/commands', (ctx) => ok(commandsOf(state, ctx, guildOf(state, ctx).id))),
    route('PUT', '/applications/:app/guilds/:guild/commands', (ctx) => ok(overwriteCommands(state, ctx, guildOf(state, ctx).id))),
    route('GET', '/channels/:channel', (ctx) => {
      const { guild, channel } = channelOf(state, ctx);
      return ok(apiChannel(guild, channel, guild.channels.indexOf(channel)));
    }),
    route('POST', '/channels/:channel/messages', (ctx) => createChannelMessage(state, ctx)),
    route('GET', '/channels/:channel/messages/:message', (ctx) => ok(apiMessage(state, channelMessage(state, ctx)))),
    route('PATCH', '/channels/:channel/messages/:message', (ctx) => editChannelMessage(state, ctx)),
    route('DELETE', '/channels/:channel/messages/:message', (ctx) => {
      channelMessage(state, ctx).deleted = true;
      return { status: 204 };
    }),
    route('GET', '/guilds/:guild', (ctx) => ok(apiGuild(guildOf(state, ctx)))),
    route('GET', '/guilds/:guild/channels', (ctx) => {
      const guild = guildOf(state, ctx);
      return ok(guild.channels.map((c, i) => apiChannel(guild, c, i)));
    }),
    route('GET', '/guilds/:guild/roles', (ctx) => ok(guildOf(state, ctx).roles.map(apiRole))),
    route('GET', '/guilds/:guild/members/:user', (ctx) => {
      const member = guildOf(state, ctx).members.find((m) => m.user.id === ctx.params.user);
      if (!member) throw DiscordErrors.unknownMember();
      return ok(apiMember(member));
    }),
  ];
}

function ok(body: unknown): RouteResult {
  return { status: 200, body };
}

function apiApplication(state: FakeState) {
  return { id: state.applicationId, name: state.bot.username, description: '', icon: null, bot_public: true, bot_require_code_grant: false, flags: 0, bot: apiUser(state.bot) };
}

function guildOf(state: FakeState, ctx: RouteContext) {
  const guild = state.guild(ctx.params.guild ?? '');
  if (!guild) throw DiscordErrors.unknownGuild();
  return guild;
}

function channelOf(state: FakeState, ctx: RouteContext) {
  const found = state.channel(ctx.params.channel ?? '');
  if (!found) throw DiscordErrors.unknownChannel();
  return found;
}

function commandsOf(state: FakeState, ctx: RouteContext, key: string): StoredCommand[] {
  if (ctx.params.app !== state.applicationId) throw DiscordErrors.missingAccess();
  return state.commands.get(key) ?? [];
}

/** A bulk overwrite replaces the set; a command keeps its id when its name stays, as on Discord. */
function overwriteCommands(state: FakeState, ctx: RouteContext, guildId: string | undefined): StoredCommand[] {
  if (ctx.params.app !== state.applicationId) throw DiscordErrors.missingAccess();
  const key = guildId ?? 'global';
  const previous = state.commands.get(key) ?? [];
  const body = Array.isArray(ctx.request.json) ? (ctx.request.json as Record<string, unknown>[]) : [];
  const commands = body.map((definition): StoredCommand => {
    const name = String(definition.name);
    return {
      type: 1,
      description: '',
      default_member_permissions: null,
      nsfw: false,
      ...definition,
      name,
      id: previous.find((c) => c.name === name)?.id ?? state.ids.next(),
      application_id: state.applicationId,
      version: state.ids.next(),
      ...(guildId ? { guild_id: guildId } : {}),
    } as StoredCommand;
  });
  state.commands.set(key, commands);
  return commands;
}

/** The bot's own rights in the channel decide what it may post, as after an interaction token expires. */
function requireBotPermissions(state: FakeState, ctx: RouteContext, needed: bigint): ReturnType<typeof channelOf> {
  const found = channelOf(state, ctx);
  const perms = permissionsIn(found.guild, state.bot.id, found.channel);
  if ((perms & Permission.viewChannel) === 0n) throw DiscordErrors.missingAccess();
  if ((perms & needed) !== needed) throw DiscordErrors.missingPermissions();
  return found;
}

/** Discord checks an enforced nonce against the author's messages of "the past few minutes". */
const NONCE_WINDOW_MS = 5 * 60_000;

function createChannelMessage(state: FakeState, ctx: RouteContext): RouteResult {
  const needed = Permission.sendMessages | (ctx.request.files.length > 0 ? Permission.attachFiles : 0n);
  const { guild, channel } = requireBotPermissions(state, ctx, needed);
  const { nonce, enforce_nonce: enforceNonce } = (ctx.request.json ?? {}) as { nonce?: string | number; enforce_nonce?: boolean };
  if (nonce !== undefined && enforceNonce) {
    const earlier = [...state.messages.values()].find((m) => m.nonce === String(nonce) && m.authorId === state.bot.id && m.channelId === channel.id && ctx.request.at - m.createdAt < NONCE_WINDOW_MS);
    // The same message again, not a second one: that is what makes a retried send safe.
    if (earlier) return ok(apiMessage(state, earlier));
  }
  const body = readMessageBody(ctx.request.json);
  checkMessageBody(body, ctx.request.files, state.limits);
  const message = state.createMessage({ channelId: channel.id, guildId: guild.id, authorId: state.bot.id, flags: 0 }, body, state.storeUploads(body, ctx.request.files));
  if (nonce !== undefined) message.nonce = String(nonce);
  return ok(apiMessage(state, message));
}

function channelMessage(state: FakeState, ctx: RouteContext): StoredMessage {
  const { channel } = channelOf(state, ctx);
  const message = state.messages.get(ctx.params.message ?? '');
  // Ephemeral replies exist only for the user who invoked the interaction, never in the channel.
  if (!message || message.deleted || message.channelId !== channel.id || message.flags & MessageFlag.ephemeral) throw DiscordErrors.unknownMessage();
  return message;
}

function editChannelMessage(state: FakeState, ctx: RouteContext): RouteResult {
  const needed = ctx.request.files.length > 0 ? Permission.attachFiles : 0n;
  requireBotPermissions(state, ctx, needed);
  const message = channelMessage(state, ctx);
  if (message.authorId !== state.bot.id) throw DiscordErrors.notAuthor();
  const body = readMessageBody(ctx.request.json);
  checkMessageBody(body, ctx.request.files, state.limits);
  applyMessageBody(message, body, state.storeUploads(body, ctx.request.files), state.limits, ctx.request.at);
  return ok(apiMessage(state, message));
}
