import type { EntityManager } from '@mikro-orm/postgresql';
import { SeparationRequest, type PlatformMessage, type RequestOptions, type RequestState, type StoredFile, type StoredPreview } from '../db/entities/index.js';
import type { Platform } from '../db/entities/tenant.js';
import { UserError, toErrorCode, type ErrorCode } from '../errors.js';

/** One request as adapters see it: plain data, never the entity. */
export interface RequestSummary {
  requestId: string;
  state: RequestState;
  title?: string;
  durationSeconds?: number;
  model: string;
  options: RequestOptions;
  userId: string;
  channelId: string;
  platformMessage: PlatformMessage;
  files: StoredFile[];
  /** The separation's preview, once stored (every request on it sees it; whether to post it is the outbox's). */
  preview?: StoredPreview;
  error?: { code: ErrorCode; message: string };
  createdAt: Date;
  finishedAt?: Date;
}

export function summarize(request: SeparationRequest): RequestSummary {
  return {
    requestId: request.id,
    state: request.state,
    title: request.separation?.title,
    durationSeconds: request.separation?.durationSeconds,
    model: request.model,
    options: request.options,
    userId: request.userId,
    channelId: request.channelId,
    platformMessage: request.platformMessage,
    files: request.files,
    preview: request.separation?.preview ?? undefined,
    error: request.errorCode ? { code: toErrorCode(request.errorCode), message: request.errorMessage ?? '' } : undefined,
    createdAt: request.createdAt,
    finishedAt: request.finishedAt,
  };
}

export async function requestStatus(em: EntityManager, requestId: string): Promise<RequestSummary> {
  const request = await em.fork().findOne(SeparationRequest, requestId, { populate: ['separation'] });
  if (!request) throw new UserError('request_not_found', 'That request does not exist any more.');
  return summarize(request);
}

/** An opaque position in a user's request list: the last row's (created_at, id). */
function encodeCursor(request: SeparationRequest): string {
  return Buffer.from(`${request.createdAt.toISOString()}|${request.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (!id || Number.isNaN(createdAt.getTime())) throw new UserError('bad_cursor', 'That page no longer exists; run the command again.');
  return { createdAt, id };
}

/** A user's requests in one guild, newest first, `pageSize` at a time (keyset pagination). */
export async function listRequests(
  em: EntityManager,
  tenant: { platform: Platform; externalId: string },
  userId: string,
  cursor: string | undefined,
  pageSize: number,
): Promise<{ items: RequestSummary[]; nextCursor?: string }> {
  const after = cursor ? decodeCursor(cursor) : undefined;
  const rows = await em.fork().find(
    SeparationRequest,
    {
      tenant: { platform: tenant.platform, externalId: tenant.externalId },
      userId,
      ...(after ? { $or: [{ createdAt: { $lt: after.createdAt } }, { createdAt: after.createdAt, id: { $lt: after.id } }] } : {}),
    },
    { orderBy: { createdAt: 'desc', id: 'desc' }, limit: pageSize + 1, populate: ['separation'] },
  );
  const page = rows.slice(0, pageSize);
  const last = page[page.length - 1];
  return { items: page.map(summarize), nextCursor: rows.length > pageSize && last ? encodeCursor(last) : undefined };
}

/** The user's newest request still queued or running in this guild (what `/cancel` cancels). */
export async function latestActiveRequest(em: EntityManager, tenant: { platform: Platform; externalId: string }, userId: string): Promise<string | undefined> {
  const request = await em.fork().findOne(
    SeparationRequest,
    { tenant: { platform: tenant.platform, externalId: tenant.externalId }, userId, state: { $in: ['queued', 'running'] } },
    { orderBy: { createdAt: 'desc' }, fields: ['id'] },
  );
  return request?.id;
}
