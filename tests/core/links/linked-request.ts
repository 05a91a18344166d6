import { randomBytes, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Separation, SeparationRequest, Tenant } from '../../../core/db/entities/index.js';
import { separationPrefix, type LocalStorage } from '../../../core/storage.js';

export interface FinishedRequest {
  requestId: string;
  separationId: string;
  /** The rendered folder's key, where the worker keeps peaks.json beside the files. */
  folder: string;
  files: { stem: string; name: string; storageKey: string; content: Buffer }[];
}

/**
 * A finished request as the worker and relay leave one: a completed separation, a completed
 * request whose `files` are rendered files in storage, each with bytes of its own.
 */
export async function addFinishedRequest(
  em: EntityManager,
  storage: LocalStorage,
  options: { title?: string; stems?: string[]; finishedAt?: Date; bytes?: number; state?: 'running' | 'failed' | 'cancelled' } = {},
): Promise<FinishedRequest> {
  const fork = em.fork();
  const finishedAt = options.finishedAt ?? new Date();
  const tenant = fork.create(Tenant, { platform: 'discord', externalId: `guild-${randomUUID()}` });
  const separation = fork.create(Separation, {
    sourceKey: `youtube:${randomBytes(6).toString('base64url').slice(0, 11)}`,
    model: 'htdemucs',
    state: 'completed',
    title: options.title ?? 'A song',
    durationSeconds: 187.5,
    finishedAt,
  });
  const folder = `${separationPrefix(separation.id)}/renders/mp3-192k-all`;
  const files = [];
  for (const stem of options.stems ?? ['drums', 'bass', 'other', 'vocals']) {
    const storageKey = `${folder}/${stem}.mp3`;
    const content = randomBytes(options.bytes ?? 50_000);
    await writeFile(await storage.prepare(storageKey), content);
    files.push({ stem, name: `${stem}.mp3`, storageKey, content });
  }
  const request = fork.create(SeparationRequest, {
    tenant,
    userId: 'user-1',
    channelId: 'channel-1',
    source: { kind: 'youtube', videoId: 'dQw4w9WgXcQ' },
    model: 'htdemucs',
    options: { stems: 'all', format: 'mp3' },
    state: options.state ?? 'completed',
    separation,
    files: files.map((file) => ({ name: file.stem, storageKey: file.storageKey, bytes: file.content.length })),
    finishedAt,
  });
  await fork.flush();
  return { requestId: request.id, separationId: separation.id, folder, files };
}
