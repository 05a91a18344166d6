import path from 'node:path/posix';
import type { EntityManager } from '@mikro-orm/postgresql';
import { SeparationRequest } from '../db/entities/index.js';
import type { Logger } from '../logging.js';
import type { Storage } from '../storage.js';
import { WAVEFORM_PEAKS } from '../render-files.js';

/** One file a link opens: the request's rendered stem, as the page and the download routes name it. */
export interface LinkedFile {
  /** The stem it holds (`vocals`, `no_vocals`): what the page labels its row with. */
  stem: string;
  /** Its file name (`vocals.mp3`): the only name the file routes accept for it. */
  name: string;
  storageKey: string;
  bytes: number;
}

/** What a link opens: a finished request and its files. */
export interface LinkedStems {
  title?: string;
  durationSeconds?: number;
  model: string;
  finishedAt: Date;
  files: LinkedFile[];
}

/** The stems page's data.json; every string in it is the page's to put into textContent, never HTML. */
export interface StemsPageData {
  title: string | null;
  durationSeconds: number | null;
  model: string;
  expiresAt: string;
  files: { stem: string; name: string; bytes: number; url: string; downloadUrl: string }[];
  /** URLs are relative to data.json itself, so the page works behind a PUBLIC_URL with a path. */
  zipUrl: string;
  /** Waveform peaks by stem, as the worker stored them beside the files; null where there are none. */
  peaks: Record<string, unknown>;
}

/** The name of the waveform peaks the worker stores in each render folder, beside the files. */
export const PEAKS_FILE = WAVEFORM_PEAKS;
/** A generous bound for a few thousand int8 min/max bins per stem; anything bigger is not read. */
const MAX_PEAKS_BYTES = 2 * 1024 * 1024;

/**
 * The request a verified link names, if it finished with files; undefined once retention removed
 * it. Whether its files are all still stored is the caller's to check (storage.size), per file
 * or for all of them, as the route needs.
 */
export async function findLinkedStems(em: EntityManager, requestId: string): Promise<LinkedStems | undefined> {
  const request = await em.fork().findOne(SeparationRequest, requestId, { populate: ['separation'] });
  if (!request || request.state !== 'completed' || request.files.length === 0 || !request.finishedAt) return undefined;
  return {
    title: request.separation?.title,
    durationSeconds: request.separation?.durationSeconds,
    model: request.model,
    finishedAt: request.finishedAt,
    files: request.files.map((file) => ({ stem: file.name, name: path.basename(file.storageKey), storageKey: file.storageKey, bytes: file.bytes })),
  };
}

export async function stemsPageData(storage: Storage, stems: LinkedStems, expiresAt: Date, logger: Logger): Promise<StemsPageData> {
  return {
    title: stems.title ?? null,
    durationSeconds: stems.durationSeconds ?? null,
    model: stems.model,
    expiresAt: expiresAt.toISOString(),
    files: stems.files.map((file) => {
      const url = `files/${encodeURIComponent(file.name)}`;
      return { stem: file.stem, name: file.name, bytes: file.bytes, url, downloadUrl: `${url}?download=1` };
    }),
    zipUrl: 'stems.zip',
    peaks: await readPeaks(storage, stems.files, logger),
  };
}

/**
 * Peaks by stem from the `peaks.json` beside the files. Its format is the worker's business: the
 * entry for each stem is passed to the page as it is, and only the file's size is checked.
 */
async function readPeaks(storage: Storage, files: LinkedFile[], logger: Logger): Promise<Record<string, unknown>> {
  const byFolder = new Map<string, Promise<Record<string, unknown>>>();
  // No prototype: a stem name can never reach Object.prototype through an assignment.
  const peaks = Object.create(null) as Record<string, unknown>;
  for (const file of files) {
    const folder = path.dirname(file.storageKey);
    if (!byFolder.has(folder)) byFolder.set(folder, readPeaksFile(storage, `${folder}/${PEAKS_FILE}`, logger));
    const stored = await (byFolder.get(folder) as Promise<Record<string, unknown>>);
    peaks[file.stem] = Object.hasOwn(stored, file.stem) ? stored[file.stem] : null;
  }
  return peaks;
}

async function readPeaksFile(storage: Storage, key: string, logger: Logger): Promise<Record<string, unknown>> {
  const bytes = await storage.size(key);
  if (bytes === undefined) return {};
  if (bytes > MAX_PEAKS_BYTES) {
    logger.warn({ key, bytes, limit: MAX_PEAKS_BYTES }, 'waveform peaks too large to serve; the page draws them from the audio');
    return {};
  }
  try {
    const chunks: Buffer[] = [];
    let read = 0;
    for await (const chunk of await storage.openRead(key)) {
      read += (chunk as Buffer).length;
      if (read > MAX_PEAKS_BYTES) throw new Error('peaks file grew while it was read');
      chunks.push(chunk as Buffer);
    }
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    logger.warn({ key }, 'waveform peaks are not a JSON object by stem; ignored');
  } catch (error) {
    logger.warn({ key, err: error }, 'waveform peaks unreadable; ignored');
  }
  return {};
}
