import { DiscordErrors } from './errors.js';
import type { UploadedFile } from './http.js';

/** A file the fake serves from `GET /attachments/:id/:filename`: uploaded by the bot or registered by a test. */
export interface StoredAttachment {
  id: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
  url: string;
  description?: string;
}

export function apiAttachment(a: StoredAttachment) {
  return {
    id: a.id,
    filename: a.filename,
    size: a.bytes.length,
    url: a.url,
    proxy_url: a.url,
    content_type: a.contentType,
    ...(a.description ? { description: a.description } : {}),
  };
}

/** What a user saw of a message at one moment. */
export interface MessageRevision {
  at: number;
  content: string;
  embeds: unknown[];
  components: unknown[];
  attachments: string[];
  flags: number;
}

export const MessageFlag = { ephemeral: 64, loading: 128 } as const;

export interface StoredMessage {
  id: string;
  channelId: string;
  guildId?: string;
  authorId: string;
  /** Set for interaction responses and follow-ups: they are sent through the application's webhook. */
  webhookId?: string;
  interactionId?: string;
  content: string;
  embeds: unknown[];
  components: unknown[];
  attachments: StoredAttachment[];
  flags: number;
  createdAt: number;
  editedAt?: number;
  deleted: boolean;
  /** The nonce the message was created with, when the sender gave one. */
  nonce?: string;
  /** Every state the message went through, first to last. */
  revisions: MessageRevision[];
}

/** Limits Discord enforces on a message body; numbers from the API reference. */
export interface MessageLimits {
  maxAttachments: number;
  fileSizeLimit: number;
}

const MAX_CONTENT = 2000;
const CUSTOM_ID_MAX = 100;

interface MessageBody {
  content?: string | null;
  embeds?: unknown[] | null;
  components?: unknown[] | null;
  flags?: number | null;
  attachments?: { id: string | number; filename?: string; description?: string }[] | null;
}

export function readMessageBody(json: unknown): MessageBody {
  return json && typeof json === 'object' ? (json as MessageBody) : {};
}

/** Validates the parts of a body Discord checks before it touches a message. */
export function checkMessageBody(body: MessageBody, files: UploadedFile[], limits: MessageLimits): void {
  if (typeof body.content === 'string' && body.content.length > MAX_CONTENT) {
    throw DiscordErrors.invalidFormBody('content', 'BASE_TYPE_MAX_LENGTH', `Must be ${MAX_CONTENT} or fewer in length.`);
  }
  if (files.length > limits.maxAttachments || (body.attachments?.length ?? 0) > limits.maxAttachments) {
    throw DiscordErrors.invalidFormBody('attachments', 'BASE_TYPE_MAX_LENGTH', `Must be ${limits.maxAttachments} or fewer in length.`);
  }
  if (files.some((f) => f.bytes.length > limits.fileSizeLimit)) throw DiscordErrors.entityTooLarge();
  for (const customId of customIds(body.components ?? [])) {
    if (customId.length < 1 || customId.length > CUSTOM_ID_MAX) {
      throw DiscordErrors.invalidFormBody('components', 'BASE_TYPE_BAD_LENGTH', `Must be between 1 and ${CUSTOM_ID_MAX} in length.`);
    }
  }
}

function customIds(components: unknown[]): string[] {
  return components.flatMap((c) => {
    if (!c || typeof c !== 'object') return [];
    const { custom_id: id, components: inner } = c as { custom_id?: unknown; components?: unknown };
    return [...(typeof id === 'string' ? [id] : []), ...(Array.isArray(inner) ? customIds(inner) : [])];
  });
}

/**
 * Applies a create or edit body. On an edit, `attachments` lists the existing attachments to keep
 * (by id) and describes the new files (by their index in the upload); without it existing ones stay.
 */
export function applyMessageBody(
  message: StoredMessage,
  body: MessageBody,
  newAttachments: StoredAttachment[],
  limits: MessageLimits,
  at: number,
): void {
  if (body.content !== undefined) message.content = body.content ?? '';
  if (body.embeds !== undefined) message.embeds = body.embeds ?? [];
  if (body.components !== undefined) message.components = body.components ?? [];
  if (typeof body.flags === 'number') message.flags = (message.flags & MessageFlag.ephemeral) | (body.flags & ~(MessageFlag.loading | MessageFlag.ephemeral));
  const keep = body.attachments
    ? message.attachments.filter((a) => body.attachments?.some((k) => String(k.id) === a.id))
    : message.attachments;
  const attachments = [...keep, ...newAttachments];
  if (attachments.length > limits.maxAttachments) {
    throw DiscordErrors.invalidFormBody('attachments', 'BASE_TYPE_MAX_LENGTH', `Must be ${limits.maxAttachments} or fewer in length.`);
  }
  message.attachments = attachments;
  message.flags &= ~MessageFlag.loading;
  if (message.revisions.length > 0) message.editedAt = at;
  message.revisions.push(snapshot(message, at));
}

export function snapshot(message: StoredMessage, at: number): MessageRevision {
  return {
    at,
    content: message.content,
    embeds: message.embeds,
    components: message.components,
    attachments: message.attachments.map((a) => a.filename),
    flags: message.flags,
  };
}

/** Matches uploaded `files[n]` parts to the `attachments` metadata discord.js sends alongside them. */
export function describeUploads(body: MessageBody, files: UploadedFile[]): { file: UploadedFile; filename: string; description?: string }[] {
  return files.map((file) => {
    const index = /^files\[(\d+)\]$/.exec(file.field)?.[1];
    const meta = body.attachments?.find((a) => String(a.id) === index);
    return { file, filename: meta?.filename ?? file.name, ...(meta?.description ? { description: meta.description } : {}) };
  });
}
