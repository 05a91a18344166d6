/** The Web API methods the fake serves under `${url}/api/<method>`. */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { SlackApiError } from './http.js';
import { apiFile, apiMessage } from './messages.js';
import type { FakeSlackState, StoredMessage } from './state.js';
import { apiConversation, apiUser, type FakeConversation, type FakeTeam } from './world.js';

/** Who may call a method: a workspace's bot token, the app-level token (`xapp-`), or client credentials. */
export type MethodAuth = 'bot' | 'app' | 'client';

export interface MethodContext {
  state: FakeSlackState;
  args: Record<string, unknown>;
  /** Set for `bot` methods: the workspace the token belongs to. */
  team: FakeTeam;
  /** Basic credentials from `Authorization: Basic …`, for `oauth.v2.access`. */
  basic?: { clientId: string; clientSecret: string };
}

export interface MethodServices {
  /** A fresh single-use Socket Mode URL. */
  openSocketUrl(): string;
  /** `oauth.v2.access`: a code for an installation. */
  exchangeCode(args: Record<string, unknown>, basic: MethodContext['basic']): Record<string, unknown>;
}

export interface WebApiMethod {
  auth: MethodAuth;
  /** The bot scope the method needs; `missing_scope` otherwise. */
  scope?: string;
  handle(ctx: MethodContext): Record<string, unknown>;
}

/** Form bodies carry objects as JSON strings; JSON bodies carry them as they are. */
const jsonValue = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }, schema);
const blocks = jsonValue(z.array(z.record(z.string(), z.unknown())));
const messageContent = { text: z.string().optional(), blocks: blocks.optional() };

function parse<T extends z.ZodType>(schema: T, args: Record<string, unknown>): z.infer<T> {
  const result = schema.safeParse(args);
  if (!result.success) throw new SlackApiError('invalid_arguments', { response_metadata: { messages: result.error.issues.map((i) => `[ERROR] ${i.path.join('.')}: ${i.message}`) } });
  return result.data;
}

/** The channel by id (or `#name`), in the token's workspace. */
function conversationOf(ctx: MethodContext, channel: string): FakeConversation {
  const conversation = channel.startsWith('#')
    ? ctx.state.world.conversations.find((c) => c.teamId === ctx.team.id && c.name === channel.slice(1))
    : ctx.state.conversation(ctx.team.id, channel);
  if (!conversation) throw new SlackApiError('channel_not_found');
  return conversation;
}

/** Posting needs membership, or `chat:write.public` in a public channel. */
function writableConversation(ctx: MethodContext, channel: string): FakeConversation {
  const conversation = conversationOf(ctx, channel);
  if (conversation.members.includes(ctx.team.bot.userId)) return conversation;
  const publicChannel = !conversation.isIm && !conversation.isPrivate;
  if (publicChannel && ctx.team.bot.scopes.includes('chat:write.public')) return conversation;
  throw new SlackApiError('not_in_channel');
}

function ownMessage(ctx: MethodContext, channel: string, ts: string, refusal: string): StoredMessage {
  const message = ctx.state.findMessage(conversationOf(ctx, channel).id, ts);
  if (!message) throw new SlackApiError('message_not_found');
  if (message.user !== ctx.team.bot.userId) throw new SlackApiError(refusal);
  return message;
}

function requireContent(content: { text?: string | undefined; blocks?: unknown[] | undefined }): void {
  if (!content.text && (content.blocks?.length ?? 0) === 0) throw new SlackApiError('no_text');
}

export function webApiMethods(services: MethodServices): Record<string, WebApiMethod> {
  return {
    'auth.test': {
      auth: 'bot',
      handle: ({ team }) => ({
        url: `https://${team.domain}.slack.com/`,
        team: team.name,
        user: 'stembot',
        team_id: team.id,
        user_id: team.bot.userId,
        bot_id: team.bot.botId,
        is_enterprise_install: false,
      }),
    },

    'chat.postMessage': {
      auth: 'bot',
      scope: 'chat:write',
      handle: (ctx) => {
        const args = parse(z.object({ channel: z.string(), thread_ts: z.string().optional(), ...messageContent }), ctx.args);
        requireContent(args);
        const conversation = writableConversation(ctx, args.channel);
        const message = ctx.state.addMessage({
          teamId: ctx.team.id,
          channel: conversation.id,
          user: ctx.team.bot.userId,
          botId: ctx.team.bot.botId,
          text: args.text ?? '',
          blocks: args.blocks,
          threadTs: args.thread_ts,
          via: 'chat.postMessage',
        });
        return { channel: conversation.id, ts: message.ts, message: apiMessage(ctx.state, message) };
      },
    },

    'chat.update': {
      auth: 'bot',
      scope: 'chat:write',
      handle: (ctx) => {
        const args = parse(z.object({ channel: z.string(), ts: z.string(), ...messageContent }), ctx.args);
        requireContent(args);
        const message = ownMessage(ctx, args.channel, args.ts, 'cant_update_message');
        if (args.text !== undefined) message.text = args.text;
        if (args.blocks !== undefined) message.blocks = args.blocks;
        message.revisions.push({ at: Date.now(), text: message.text, blocks: message.blocks });
        return { channel: message.channel, ts: message.ts, text: message.text, message: apiMessage(ctx.state, message) };
      },
    },

    'chat.delete': {
      auth: 'bot',
      scope: 'chat:write',
      handle: (ctx) => {
        const args = parse(z.object({ channel: z.string(), ts: z.string() }), ctx.args);
        const message = ownMessage(ctx, args.channel, args.ts, 'cant_delete_message');
        message.deleted = true;
        return { channel: message.channel, ts: message.ts };
      },
    },

    'chat.postEphemeral': {
      auth: 'bot',
      scope: 'chat:write',
      handle: (ctx) => {
        const args = parse(z.object({ channel: z.string(), user: z.string(), thread_ts: z.string().optional(), ...messageContent }), ctx.args);
        requireContent(args);
        const conversation = conversationOf(ctx, args.channel);
        if (!conversation.members.includes(ctx.team.bot.userId)) throw new SlackApiError('not_in_channel');
        if (!conversation.members.includes(args.user)) throw new SlackApiError('user_not_in_channel');
        const ts = ctx.state.nextTs();
        ctx.state.ephemerals.push({
          teamId: ctx.team.id,
          channel: conversation.id,
          user: args.user,
          ts,
          threadTs: args.thread_ts,
          text: args.text ?? '',
          blocks: args.blocks,
          via: 'chat.postEphemeral',
          at: Date.now(),
        });
        return { message_ts: ts };
      },
    },

    'users.info': {
      auth: 'bot',
      scope: 'users:read',
      handle: (ctx) => {
        const args = parse(z.object({ user: z.string() }), ctx.args);
        const user = ctx.state.user(ctx.team.id, args.user);
        if (!user) throw new SlackApiError('user_not_found');
        return { user: apiUser(user, ctx.team) };
      },
    },

    'conversations.info': {
      auth: 'bot',
      scope: 'channels:read',
      handle: (ctx) => {
        const args = parse(z.object({ channel: z.string() }), ctx.args);
        return { channel: apiConversation(conversationOf(ctx, args.channel), ctx.team.bot.userId) };
      },
    },

    'conversations.replies': {
      auth: 'bot',
      handle: (ctx) => {
        const args = parse(
          z.object({ channel: z.string(), ts: z.string(), cursor: z.string().optional(), limit: z.coerce.number().int().positive().optional(), include_all_metadata: z.unknown().optional() }),
          ctx.args,
        );
        const conversation = conversationOf(ctx, args.channel);
        // Reading needs the history scope of the conversation's type, as Slack's own check does.
        const scope = conversation.isIm ? 'im:history' : conversation.isPrivate ? 'groups:history' : 'channels:history';
        if (!ctx.team.bot.scopes.includes(scope)) throw new SlackApiError('missing_scope', { needed: scope, provided: ctx.team.bot.scopes.join(',') });
        // A bot reads a private channel or DM only as a member; a public one it has not joined answers not_in_channel.
        if (!conversation.members.includes(ctx.team.bot.userId)) throw new SlackApiError(conversation.isPrivate || conversation.isIm ? 'channel_not_found' : 'not_in_channel');
        const parent = ctx.state.findMessage(conversation.id, args.ts);
        if (!parent) throw new SlackApiError('thread_not_found');
        // The ts of a reply names just that reply; a parent's names the parent and its replies, oldest first.
        const thread = parent.threadTs !== undefined && parent.threadTs !== parent.ts ? [parent] : [parent, ...ctx.state.channelMessages(conversation.id).filter((m) => m.threadTs === parent.ts && !m.deleted)];
        const limit = Math.min(args.limit ?? 1000, 1000);
        const start = args.cursor === undefined ? 0 : Number(Buffer.from(args.cursor, 'base64').toString('utf8').replace(/^offset:/, ''));
        if (!Number.isInteger(start) || start < 0) throw new SlackApiError('invalid_cursor');
        const page = thread.slice(start, start + limit);
        const more = start + limit < thread.length;
        return {
          messages: page.map((m) => (m === parent && thread.length > 1 ? { ...apiMessage(ctx.state, m), thread_ts: m.ts, reply_count: thread.length - 1 } : apiMessage(ctx.state, m))),
          has_more: more,
          response_metadata: { next_cursor: more ? Buffer.from(`offset:${start + limit}`).toString('base64') : '' },
        };
      },
    },

    'views.publish': {
      auth: 'bot',
      handle: (ctx) => {
        const args = parse(
          z.object({ user_id: z.string(), hash: z.string().optional(), view: jsonValue(z.object({ type: z.literal('home'), blocks: z.array(z.unknown()) }).loose()) }),
          ctx.args,
        );
        if (!ctx.state.user(ctx.team.id, args.user_id)) throw new SlackApiError('user_not_found');
        const key = `${ctx.team.id}:${args.user_id}`;
        const previous = ctx.state.homeViews.get(key);
        if (args.hash !== undefined && previous && previous.hash !== args.hash) throw new SlackApiError('hash_conflict');
        const hash = createHash('sha1').update(JSON.stringify(args.view) + Date.now()).digest('hex').slice(0, 16);
        const view = { ...args.view, id: ctx.state.nextId('V'), team_id: ctx.team.id, app_id: 'A0FAKEAPP', bot_id: ctx.team.bot.botId, hash };
        ctx.state.homeViews.set(key, { view, publishedAt: Date.now(), hash });
        return { view };
      },
    },

    'files.getUploadURLExternal': {
      auth: 'bot',
      scope: 'files:write',
      handle: (ctx) => {
        const args = parse(z.object({ filename: z.string().min(1), length: z.coerce.number().int().positive(), alt_txt: z.string().optional() }), ctx.args);
        const id = ctx.state.nextId('F');
        ctx.state.files.set(id, {
          id,
          teamId: ctx.team.id,
          userId: ctx.team.bot.userId,
          name: args.filename,
          title: args.filename,
          mimetype: 'application/octet-stream',
          declaredLength: args.length,
          state: 'pending',
          createdAt: Date.now(),
          channels: [],
        });
        return { upload_url: `${ctx.state.baseUrl}/upload/${id}`, file_id: id };
      },
    },

    'files.completeUploadExternal': {
      auth: 'bot',
      scope: 'files:write',
      handle: (ctx) => {
        const args = parse(
          z.object({
            files: jsonValue(z.array(z.object({ id: z.string(), title: z.string().optional() })).min(1)),
            channel_id: z.string().optional(),
            channels: z.string().optional(),
            thread_ts: z.string().optional(),
            initial_comment: z.string().optional(),
            blocks: blocks.optional(),
          }),
          ctx.args,
        );
        const files = args.files.map(({ id, title }) => {
          const file = ctx.state.files.get(id);
          if (!file || file.teamId !== ctx.team.id || file.state !== 'uploaded') throw new SlackApiError('file_not_found');
          if (title) file.title = title;
          return file;
        });
        const channel = args.channel_id ?? args.channels?.split(',')[0];
        const conversation = channel === undefined ? undefined : writableConversation(ctx, channel);
        for (const file of files) {
          file.state = 'complete';
          if (conversation) file.channels.push(conversation.id);
        }
        if (conversation) {
          ctx.state.addMessage({
            teamId: ctx.team.id,
            channel: conversation.id,
            user: ctx.team.bot.userId,
            botId: ctx.team.bot.botId,
            text: args.initial_comment ?? '',
            blocks: args.blocks,
            threadTs: args.thread_ts,
            fileIds: files.map((f) => f.id),
            via: 'files.completeUploadExternal',
          });
        }
        return { files: files.map((f) => apiFile(ctx.state, f)) };
      },
    },

    'files.info': {
      auth: 'bot',
      scope: 'files:read',
      handle: (ctx) => {
        const args = parse(z.object({ file: z.string() }), ctx.args);
        const file = ctx.state.files.get(args.file);
        if (!file || file.teamId !== ctx.team.id || file.state === 'pending') throw new SlackApiError('file_not_found');
        return { file: apiFile(ctx.state, file) };
      },
    },

    'apps.connections.open': {
      auth: 'app',
      handle: () => ({ url: services.openSocketUrl() }),
    },

    'oauth.v2.access': {
      auth: 'client',
      handle: (ctx) => services.exchangeCode(ctx.args, ctx.basic),
    },
  };
}
