import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatSurface } from '../../../bots/chat/chat-surface.js';
import { OutboxDelivery } from '../../../bots/chat/outbox-delivery.js';
import type { PlatformMessage } from '../../../core/db/entities/separation-request.js';
import { sweepRetention } from '../../../core/retention.js';
import { separationPrefix } from '../../../core/storage.js';
import { locateFfmpeg } from '../../../worker/audio/ffmpeg.js';
import { LocalVideoSource } from '../../support/local-sources.js';
import { startS3Server, type S3Server } from '../../support/s3-server.js';
import { makeTempDir } from '../../support/services.js';
import { isFinalUpdate, makeSong, startHarness, waitForUpdate, type Harness } from '../../support/stembot-harness.js';

const VIDEO = 'sssssssssss';
const PREFIX = 'deploy';

/** Every file under `dir`, as paths relative to it; none when it does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));
}

/** A chat platform that keeps what it was given to post: each attached file's name, path and bytes at posting time. */
function recordingSurface() {
  const posted: { name: string; path: string; bytes: Buffer }[] = [];
  const surface: ChatSurface<PlatformMessage> = {
    platform: 'discord',
    minEditIntervalMs: 0,
    defaultFileLimitBytes: 25 * 1024 * 1024,
    maxFilesPerMessage: 10,
    parse: (stored) => stored,
    async show(message, view) {
      if (view.kind !== 'result') throw new Error(`expected a result, got ${JSON.stringify(view)}`);
      for (const file of view.files.attach) posted.push({ name: file.name, path: file.path, bytes: await readFile(file.path) });
      return message;
    },
    alreadyCarries: async () => false,
    explainUndeliverable: async () => false,
  };
  return { surface, posted };
}

// The embedded default a new user runs, and PostgreSQL: the bucket is the same either way, the rows are not.
describe.each(['embedded', 'postgres'] as const)('stems in an S3-compatible bucket, on %s', (backend) => {
  let songs: { dir: string; remove(): Promise<void> };
  let s3: S3Server;
  let harness: Harness;

  beforeAll(async () => {
    songs = await makeTempDir('stembot-s3-songs-');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    const song = await makeSong(ffmpeg, path.join(songs.dir, 'song.mp3'), 9);
    s3 = await startS3Server();
    harness = await startHarness({
      backend,
      env: s3.env(PREFIX),
      fetchers: (ffprobe) => {
        const videos = new LocalVideoSource(ffprobe, { [VIDEO]: song });
        return { youtube: videos, attachment: videos };
      },
    });
  });
  afterAll(async () => {
    await harness?.stop();
    await s3?.stop();
    await songs?.remove();
  });

  it('workers put masters and renders in the bucket, bots post them from there, and retention deletes them there', async () => {
    expect(harness.core.storage.kind).toBe('s3');
    const outcome = await harness.core.submit({
      platform: 'discord',
      tenantId: 'guild-s3',
      userId: 'user-1',
      channelId: 'channel-1',
      source: { kind: 'youtube', videoId: VIDEO },
      options: { stems: 'karaoke', format: 'mp3' },
    });
    const last = await waitForUpdate(harness.core, outcome.requestId, isFinalUpdate);
    expect(last.type, JSON.stringify(last)).toBe('completed');

    const status = await harness.core.status(outcome.requestId);
    expect(status.files.map((file) => file.name)).toEqual(['vocals', 'accompaniment']);
    const separation = /^separations\/([^/]+)\//.exec(status.files[0]?.storageKey ?? '')?.[1] as string;
    const stored = [...['bass', 'drums', 'other', 'vocals'].map((stem) => `${separationPrefix(separation)}/masters/${stem}.flac`), ...status.files.map((file) => file.storageKey)];
    // All under the prefix; what else a render keeps beside its files (waveforms) is not counted here.
    expect(await s3.keys()).toEqual(expect.arrayContaining(stored.map((key) => `${PREFIX}/${key}`)));
    expect((await s3.keys()).filter((key) => !key.startsWith(`${PREFIX}/${separationPrefix(separation)}/`))).toEqual([]);
    for (const file of status.files) {
      expect(file.storageKey).toMatch(/\.mp3$/);
      expect(await harness.core.storage.size(file.storageKey)).toBe(file.bytes);
      const head = await buffer(await harness.core.storage.openRead(file.storageKey, { start: 0, end: 2 }));
      // An mp3 starts with an ID3 tag or a frame header.
      expect(head.toString('latin1') === 'ID3' || (head[0] === 0xff && ((head[1] ?? 0) & 0xe0) === 0xe0)).toBe(true);
    }
    // Nothing in the local directory, nothing left behind in the worker's temp folder.
    expect(await filesUnder(harness.config.storageDir)).toEqual([]);
    expect((await filesUnder(harness.config.tempDir)).filter((file) => /\.(flac|mp3)$/.test(file))).toEqual([]);

    const { surface, posted } = recordingSurface();
    const delivery = new OutboxDelivery(harness.core, surface, pino({ level: 'silent' }));
    delivery.start();
    await expect.poll(() => posted.length, { timeout: 30_000 }).toBe(2);
    await delivery.stop();
    for (const file of status.files) {
      const copy = posted.find((post) => post.name === file.storageKey.split('/').pop());
      expect(copy?.bytes.equals(await buffer(await harness.core.storage.openRead(file.storageKey)))).toBe(true);
      // The copy was a temp file of the bot's, gone once posted.
      expect(existsSync(copy?.path ?? '')).toBe(false);
    }

    const later = new Date(Date.now() + (harness.config.retentionDays + 1) * 24 * 3600 * 1000);
    expect(await sweepRetention(harness.runtime.orm.em, harness.core.storage, harness.config.retentionDays, harness.logger, later)).toEqual({ requests: 1, separations: 1 });
    expect(await s3.keys(`${PREFIX}/`)).toEqual([]);
    expect(harness.logLines()).toEqual([]);
  });
});
