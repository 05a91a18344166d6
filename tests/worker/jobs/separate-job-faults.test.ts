import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Separation, SeparationRequest, UsageEntry } from '../../../core/db/entities/index.js';
import type { SubmitInput } from '../../../core/requests/submit.js';
import { separationPrefix } from '../../../core/storage.js';
import { locateFfmpeg } from '../../../worker/audio/ffmpeg.js';
import { AttachmentFetcher } from '../../../worker/fetch/attachment-fetcher.js';
import { runScript, waitForOutput } from '../../support/cli.js';
import { FakeDiscord } from '../../support/fake-discord/index.js';
import { captureLogger, makeTempDir } from '../../support/services.js';
import { isFinalUpdate, makeSong, startHarness, waitForUpdate, type Harness } from '../../support/stembot-harness.js';

let songs: { dir: string; remove(): Promise<void> };
let song: string;
beforeAll(async () => {
  songs = await makeTempDir('stembot-songs-');
  const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
  song = await makeSong(ffmpeg, path.join(songs.dir, 'song.mp3'), 18);
});
afterAll(async () => songs.remove());

/** What reached the process uncaught: in `stembot start` any of it would take the whole bot down. */
const uncaught: unknown[] = [];
const record = (error: unknown): void => void uncaught.push(error);
beforeAll(() => {
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
});
afterAll(() => {
  process.off('uncaughtException', record);
  process.off('unhandledRejection', record);
});

const ask = (source: SubmitInput['source']): SubmitInput => ({ platform: 'discord', tenantId: 'guild', userId: 'asker', channelId: 'channel', source, options: { stems: 'all', format: 'mp3' } });

async function separationOf(harness: Harness, requestId: string): Promise<Separation> {
  const request = await harness.runtime.orm.em.fork().findOneOrFail(SeparationRequest, requestId, { populate: ['separation'] });
  return request.separation as Separation;
}

async function ledger(harness: Harness, requestId: string): Promise<string[]> {
  return (await harness.runtime.orm.em.fork().find(UsageEntry, { requestId })).map((row) => row.kind).sort();
}

describe('an upload that fails while it downloads', () => {
  let harness: Harness;
  /** The platform's file host: its downloads can be slowed down and cut off. */
  let files: FakeDiscord;
  let songBytes: Buffer;
  let tempRoot: string;
  let leftByKilledWorker: string;

  beforeAll(async () => {
    songBytes = await readFile(song);
    files = await FakeDiscord.start();
    tempRoot = path.join(songs.dir, 'temp');
    const killed = runScript('./temp-dir-process.ts', [tempRoot], {});
    await waitForOutput(killed, 'claimed ');
    leftByKilledWorker = (/claimed (.+)/.exec(killed.stdout())?.[1] ?? '').trim();
    killed.child.kill('SIGKILL');
    await killed.exited;
    harness = await startHarness({
      backend: 'redis',
      env: { TEMP_DIR: tempRoot },
      fetchers: (_ffprobe, tools) => {
        const attachments = new AttachmentFetcher({ tools, logger: captureLogger('silent').logger, extraHosts: { discord: [new URL(files.url).host] }, retry: { attempts: 1, firstDelayMs: 10 } });
        return { youtube: attachments, attachment: attachments };
      },
    });
  });
  afterAll(async () => {
    await harness.stop();
    await files.close();
  });

  /** A fresh upload of the song; its worker downloads are the ones the look at submit (`stembot (inspect)`) did not make. */
  const upload = (): { source: SubmitInput['source']; workerDownloads: () => { state: string }[] } => {
    const attachment = files.registerAttachment('song.mp3', songBytes, 'audio/mpeg');
    return {
      source: { kind: 'attachment', platform: 'discord', url: attachment.url, filename: attachment.filename, bytes: songBytes.length },
      workerDownloads: () => files.downloads.filter((d) => d.attachmentId === attachment.id && !d.userAgent.includes('inspect')),
    };
  };

  /** The worker's own temp folder is all that is left under TEMP_DIR, and it is empty. */
  async function expectNoTempFiles(): Promise<void> {
    const folders = await readdir(tempRoot);
    expect(folders).toHaveLength(1);
    expect(await readdir(path.join(tempRoot, folders[0] as string))).toEqual([]);
  }

  it('the worker removed, when it started, the temp folder a killed worker had left', () => {
    expect(leftByKilledWorker).not.toBe('');
    expect(existsSync(leftByKilledWorker)).toBe(false);
  });

  it('a cancel while the upload is still downloading ends the download and the job, refunds, and the worker keeps serving', async () => {
    const slow = upload();
    files.throttleDownloads(40_000);
    let cancelled: Awaited<ReturnType<Harness['core']['submit']>>;
    try {
      cancelled = await harness.core.submit(ask(slow.source));
      await files.waitFor(() => slow.workerDownloads().find((d) => d.state === 'sending'));
      const final = waitForUpdate(harness.core, cancelled.requestId, isFinalUpdate);
      await harness.core.cancel(cancelled.requestId, { userId: 'asker', isAdmin: false });
      expect(await final).toEqual({ type: 'cancelled', requestId: cancelled.requestId });
      await files.waitFor(() => slow.workerDownloads().find((d) => d.state !== 'sending'));
      expect(slow.workerDownloads().map((d) => d.state)).toEqual(['cut']);
    } finally {
      files.throttleDownloads(undefined);
    }

    // One job at a time on this worker: the next request completes only once the cancelled one has ended.
    const next = await harness.core.submit(ask(upload().source));
    expect((await waitForUpdate(harness.core, next.requestId, isFinalUpdate)).type).toBe('completed');

    const separation = await separationOf(harness, cancelled.requestId);
    const queue = harness.runtime.queues.createQueue();
    try {
      const job = await queue.getJob(`separate-${separation.id}`);
      expect(await job?.getState()).toBe('failed');
      expect(job?.failedReason).toBe('[cancelled] This separation was cancelled.');
    } finally {
      await queue.close();
    }
    expect(separation.state).toBe('cancelled');
    expect(await ledger(harness, cancelled.requestId)).toEqual(['refund', 'reserve']);
    expect(existsSync(harness.storage.pathOf(separationPrefix(separation.id)))).toBe(false);
    await expectNoTempFiles();
    expect(uncaught).toEqual([]);
  });

  it('a host resetting the connection mid-download fails the request with a retry-later message after the retries, and refunds', async () => {
    const cut = upload();
    files.throttleDownloads(100_000);
    let outcome: Awaited<ReturnType<Harness['core']['submit']>>;
    try {
      outcome = await harness.core.submit(ask(cut.source));
      // From ffprobe's look at submit on, every download of it is cut after its first bytes.
      files.cutDownloadsAfter(1);
      const final = await waitForUpdate(harness.core, outcome.requestId, isFinalUpdate);
      expect(final).toEqual({ type: 'failed', requestId: outcome.requestId, code: 'attachment_unreachable', message: 'The uploaded file could not be downloaded; try again later.' });
    } finally {
      files.cutDownloadsAfter(undefined);
      files.throttleDownloads(undefined);
    }
    expect(cut.workerDownloads().map((d) => d.state)).toEqual(['cut', 'cut', 'cut']);
    const separation = await separationOf(harness, outcome.requestId);
    expect(separation.attempts).toBe(3);
    expect(await ledger(harness, outcome.requestId)).toEqual(['refund', 'reserve']);
    expect(existsSync(harness.storage.pathOf(separationPrefix(separation.id)))).toBe(false);
    await expectNoTempFiles();
    expect(uncaught).toEqual([]);
  });
});

describe('a separation whose row claims a length no disk has room for', () => {
  let harness: Harness;
  let files: FakeDiscord;
  let songBytes: Buffer;
  beforeAll(async () => {
    songBytes = await readFile(song);
    files = await FakeDiscord.start();
    harness = await startHarness({
      backend: 'postgres',
      worker: false,
      fetchers: (_ffprobe, tools) => {
        const attachments = new AttachmentFetcher({ tools, logger: captureLogger('silent').logger, extraHosts: { discord: [new URL(files.url).host] } });
        return { youtube: attachments, attachment: attachments };
      },
    });
  });
  afterAll(async () => {
    await harness.stop();
    await files.close();
  });

  it('fails as disk_full before anything is written, in words without server paths, ends the download, and refunds', async () => {
    const huge = files.registerAttachment('huge.mp3', songBytes, 'audio/mpeg');
    const outcome = await harness.core.submit(ask({ kind: 'attachment', platform: 'discord', url: huge.url, filename: 'huge.mp3', bytes: songBytes.length }));
    const separation = await separationOf(harness, outcome.requestId);
    // 1e7 s (about 16 weeks) of audio would need 28 TB for spools and masters.
    await harness.runtime.orm.em.fork().nativeUpdate(Separation, { id: separation.id }, { durationSeconds: 1e7 });
    const final = waitForUpdate(harness.core, outcome.requestId, isFinalUpdate);
    files.throttleDownloads(40_000);
    try {
      await harness.startWorker();
      expect(await final).toEqual({
        type: 'failed',
        requestId: outcome.requestId,
        code: 'disk_full',
        message: 'The server is short of disk space for a track this long right now; try again later or send a shorter one.',
      });
      const worker = () => files.downloads.filter((d) => d.attachmentId === huge.id && !d.userAgent.includes('inspect'));
      await files.waitFor(() => worker().find((d) => d.state !== 'sending'));
      expect(worker().map((d) => d.state)).toEqual(['cut']);
    } finally {
      files.throttleDownloads(undefined);
    }
    expect(await ledger(harness, outcome.requestId)).toEqual(['refund', 'reserve']);
    expect(existsSync(harness.storage.pathOf(separationPrefix(separation.id)))).toBe(false);
  });
});
