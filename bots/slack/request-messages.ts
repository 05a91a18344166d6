import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import type { PlatformMessage } from '../../core/db/entities/separation-request.js';
import { UserError } from '../../core/errors.js';
import type { ChatSurface } from '../chat/chat-surface.js';
import type { DeliverableFile } from '../chat/attachment-plan.js';
import type { RequestMessageView } from '../chat/message-view.js';
import type { SlackPayload } from './render/payload.js';
import { renderPreview, renderPreviewComment, renderProgress } from './render/progress.js';
import { renderFailure, renderResult, renderStemsComment } from './render/result.js';

/**
 * chat.update is Tier 3: about 50 a minute per workspace for the app. One edit a second per
 * message keeps progress lively; the workspace pacer below keeps many messages inside the budget.
 */
const MIN_EDIT_INTERVAL_MS = 1000;
/** 60 s / 50: the least gap between two chat.update calls in one workspace. */
const WORKSPACE_UPDATE_GAP_MS = 1200;
/** Slack takes files up to 1 GB; stems of a song are far below it. */
const SLACK_FILE_LIMIT = 1024 * 1024 * 1024;
/** files.completeUploadExternal shares at most 10 files in one message. */
const MAX_FILES = 10;

/** What stembot keeps about a request's Slack message (stored on the request as platformMessage). */
export const slackMessageSchema = z.object({
  teamId: z.string(),
  channelId: z.string(),
  /** Who asked: told directly when the channel is closed to the bot. */
  userId: z.string(),
  /** Identifies the request's message before it is posted, so a show racing the first post finds it. */
  key: z.string(),
  /** The request's message, once posted. */
  ts: z.string().optional(),
  /** The thread the request's message is a reply in (a shortcut's or mention's message); absent at top level. */
  threadTs: z.string().optional(),
});
export type SlackMessage = z.infer<typeof slackMessageSchema>;

/** The Web API client that speaks for a workspace: the one bot token, or the workspace's installation. */
export type ClientForTeam = (teamId: string) => Promise<WebClient>;

/** The part of a conversations.replies page alreadyCarries reads. */
const threadPageSchema = z.object({
  messages: z.array(z.object({ user: z.string().optional(), files: z.array(z.object({ name: z.string().optional() })).optional() })).default([]),
  response_metadata: z.object({ next_cursor: z.string().optional() }).optional(),
});

const slackErrorSchema = z.object({ data: z.object({ error: z.string() }) });

/** Slack's error code of a failed Web API call, if it was one. */
export function slackErrorOf(error: unknown): string | undefined {
  const parsed = slackErrorSchema.safeParse(error);
  return parsed.success ? parsed.data.data.error : undefined;
}

/**
 * Slack's surface for the shared flow: posts a request's message with chat.postMessage, updates it
 * in place with chat.update, and uploads the stems into its thread with files.uploadV2. Shows of
 * one request run one after another, in the order asked.
 */
export class SlackRequestMessages implements ChatSurface<SlackMessage> {
  readonly platform = 'slack';
  readonly minEditIntervalMs = MIN_EDIT_INTERVAL_MS;
  readonly defaultFileLimitBytes = SLACK_FILE_LIMIT;
  readonly maxFilesPerMessage = MAX_FILES;

  /** The ts each request's message got when posted, by key, while this process runs. */
  private readonly posted = new Map<string, string>();
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Per workspace, when the next chat.update may go. */
  private readonly nextUpdateAt = new Map<string, number>();
  /** The bot's user id per workspace, for telling its messages apart in a thread. */
  private readonly botUsers = new Map<string, string>();

  constructor(private readonly clientFor: ClientForTeam) {}

  parse(platformMessage: PlatformMessage): SlackMessage | undefined {
    const parsed = slackMessageSchema.safeParse(platformMessage);
    return parsed.success ? parsed.data : undefined;
  }

  show(message: SlackMessage, view: RequestMessageView): Promise<SlackMessage> {
    return this.inOrder(message.key, () => this.showNow(message, render(view), view));
  }

  /** Puts something other than a request view in the request's message (a cancel note), in order with its shows. */
  async replace(message: SlackMessage, payload: SlackPayload): Promise<void> {
    await this.inOrder(message.key, () => this.showNow(message, payload));
  }

  private inOrder<T>(key: string, task: () => Promise<T>): Promise<T> {
    const next = (this.queues.get(key) ?? Promise.resolve()).catch(() => undefined).then(task);
    this.queues.set(key, next);
    const forget = () => {
      if (this.queues.get(key) === next) this.queues.delete(key);
    };
    next.then(forget, forget);
    return next;
  }

  /**
   * Whether the request's thread already holds a message of the bot's carrying exactly these files:
   * a poster that died (or lost the answer) after files.completeUploadExternal went through does
   * not upload the stems a second time. Reads the thread with conversations.replies, which needs
   * the channel type's history scope (channels:, groups:, im:history); without it this says false
   * and the stems are posted again rather than risk posting none.
   */
  async alreadyCarries(message: SlackMessage, fileNames: string[]): Promise<boolean> {
    const threadTs = message.threadTs ?? message.ts;
    if (threadTs === undefined || fileNames.length === 0) return false;
    const client = await this.clientFor(message.teamId);
    const botUserId = await this.botUserOf(message.teamId, client);
    const wanted = JSON.stringify([...fileNames].sort());
    let cursor: string | undefined;
    do {
      const page = threadPageSchema.parse(await client.conversations.replies({ channel: message.channelId, ts: threadTs, limit: 200, ...(cursor ? { cursor } : {}) }));
      const carried = page.messages.some((m) => m.user === botUserId && m.files !== undefined && JSON.stringify(m.files.map((f) => f.name).sort()) === wanted);
      if (carried) return true;
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor);
    return false;
  }

  /** The bot's own user id in a workspace (auth.test), asked once per workspace. */
  private async botUserOf(teamId: string, client: WebClient): Promise<string> {
    let known = this.botUsers.get(teamId);
    if (known === undefined) {
      known = z.string().parse((await client.auth.test()).user_id);
      this.botUsers.set(teamId, known);
    }
    return known;
  }

  /** A channel closed to the bot: the requester hears why in a direct message from the bot. */
  async explainUndeliverable(message: SlackMessage, error: unknown): Promise<boolean> {
    if (!(error instanceof UserError) || error.code !== 'not_in_channel') return false;
    const client = await this.clientFor(message.teamId);
    await client.chat.postMessage({ channel: message.userId, text: `Your stems are ready, but ${error.message}` });
    return true;
  }

  private async showNow(message: SlackMessage, payload: SlackPayload, view?: RequestMessageView): Promise<SlackMessage> {
    const client = await this.clientFor(message.teamId);
    let ts = message.ts ?? this.posted.get(message.key);
    try {
      if (ts === undefined) {
        const posted = await client.chat.postMessage({ channel: message.channelId, ...payload, ...(message.threadTs ? { thread_ts: message.threadTs } : {}) });
        ts = z.string().parse(posted.ts);
        this.posted.set(message.key, ts);
      } else {
        await this.paceUpdate(message.teamId);
        await client.chat.update({ channel: message.channelId, ts, ...payload });
      }
      const upload = view && uploadOf(view);
      if (upload && upload.files.length > 0) {
        await client.files.uploadV2({
          channel_id: message.channelId,
          // A reply cannot start a thread of its own: stems of a reply go into the same thread.
          thread_ts: message.threadTs ?? ts,
          initial_comment: upload.comment,
          file_uploads: upload.files.map((file) => ({ file: file.path, filename: file.name })),
        });
      }
    } catch (error) {
      throw explain(error);
    }
    return ts === message.ts ? message : { ...message, ts };
  }

  /** Spaces this workspace's chat.update calls WORKSPACE_UPDATE_GAP_MS apart, in the order they come. */
  private async paceUpdate(teamId: string): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.nextUpdateAt.get(teamId) ?? 0);
    this.nextUpdateAt.set(teamId, at + WORKSPACE_UPDATE_GAP_MS);
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  }
}

/** The files a view puts into the request's thread, and their comment. */
function uploadOf(view: RequestMessageView): { files: DeliverableFile[]; comment: string } | undefined {
  if (view.kind === 'preview') return { files: view.files, comment: renderPreviewComment(view) };
  if (view.kind === 'result') return { files: [...(view.picture ? [view.picture] : []), ...view.files.attach], comment: renderStemsComment(view) };
  return undefined;
}

function render(view: RequestMessageView): SlackPayload {
  if (view.kind === 'progress') return renderProgress(view);
  if (view.kind === 'preview') return renderPreview(view);
  if (view.kind === 'result') return renderResult(view);
  return renderFailure(view);
}

/** A channel the bot may not post in is something the user can fix: say how. */
function explain(error: unknown): unknown {
  const code = slackErrorOf(error);
  if (code !== 'not_in_channel' && code !== 'channel_not_found') return error;
  return new UserError('not_in_channel', 'I’m not in that channel: invite me with `/invite @stembot` (or ask an admin to give the app the chat:write.public scope), then ask again.', { cause: error });
}
