import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageEntry } from '../../core/db/entities/index.js';
import type { RequestUpdate } from '../../core/request-updates.js';
import type { SubmitInput } from '../../core/requests/submit.js';
import { LocalVideoSource } from '../support/local-sources.js';
import { isFinalUpdate, makeSong, startHarness, waitForUpdate, type Harness } from '../support/stembot-harness.js';
import { makeTempDir } from '../support/services.js';
import { locateFfmpeg } from '../../worker/audio/ffmpeg.js';

const VIDEO = 'aaaaaaaaaaa';
const OTHER_VIDEO = 'bbbbbbbbbbb';

function request(overrides: Partial<SubmitInput> = {}): SubmitInput {
  return {
    platform: 'discord',
    tenantId: 'guild-1',
    userId: 'user-1',
    channelId: 'channel-1',
    source: { kind: 'youtube', videoId: VIDEO },
    options: { stems: 'karaoke', format: 'mp3' },
    ...overrides,
  };
}

/** Resolves with the request's last update once it is completed, failed or cancelled. */
function finished(harness: Harness, requestId: string, seen: RequestUpdate[] = []): Promise<RequestUpdate> {
  return waitForUpdate(harness.core, requestId, (update) => {
    seen.push(update);
    return isFinalUpdate(update);
  });
}

let songs: { dir: string; remove(): Promise<void> };
let song: string;
let otherSong: string;

beforeAll(async () => {
  songs = await makeTempDir('stembot-songs-');
  const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
  song = await makeSong(ffmpeg, path.join(songs.dir, 'song.mp3'), 12);
  otherSong = await makeSong(ffmpeg, path.join(songs.dir, 'other.mp3'), 8, 330);
});
afterAll(async () => songs.remove());

describe.each(['redis', 'postgres'] as const)('submit to delivery on %s', (backend) => {
  let harness: Harness;
  let videos: LocalVideoSource;
  beforeAll(async () => {
    harness = await startHarness({
      backend,
      fetchers: (ffprobe) => {
        videos = new LocalVideoSource(ffprobe, { [VIDEO]: song, [OTHER_VIDEO]: otherSong });
        return { youtube: videos, attachment: videos };
      },
    });
  });
  afterAll(async () => harness.stop());

  it('queues, separates with a real worker, stores the stems, and delivers once through the outbox', async () => {
    const outcome = await harness.core.submit(request());
    expect(outcome).toMatchObject({ reuse: 'none', title: `Local ${VIDEO}` });
    expect(outcome.durationSeconds).toBeGreaterThan(11.9);
    const seen: RequestUpdate[] = [];
    const last = await finished(harness, outcome.requestId, seen);
    expect(last.type, JSON.stringify(last)).toBe('completed');
    expect(seen.filter((u) => u.type === 'progress').map((u) => (u.type === 'progress' ? u.progress.stage : ''))).toContain('separating');

    const status = await harness.core.status(outcome.requestId);
    expect(status.state).toBe('completed');
    expect(status.files.map((f) => f.name)).toEqual(['vocals', 'accompaniment']);
    for (const file of status.files) {
      expect(file.storageKey).toMatch(/\.mp3$/);
      expect(existsSync(harness.storage.pathOf(file.storageKey))).toBe(true);
      expect(file.bytes).toBeGreaterThan(10_000);
    }

    const claimA = await harness.core.outbox.claim({ platform: 'discord', claimer: 'bot-a', limit: 10, leaseMs: 60_000 });
    const claimB = await harness.core.outbox.claim({ platform: 'discord', claimer: 'bot-b', limit: 10, leaseMs: 60_000 });
    expect(claimA.map((d) => d.request.requestId)).toEqual([outcome.requestId]);
    expect(claimB).toEqual([]);
    expect(await harness.core.outbox.complete(claimA[0]!.deliveryId, 'bot-b')).toBe(false);
    expect(await harness.core.outbox.complete(claimA[0]!.deliveryId, 'bot-a')).toBe(true);
    expect(await harness.core.outbox.claim({ platform: 'discord', claimer: 'bot-b', limit: 10, leaseMs: 60_000 })).toEqual([]);

    const ledger = await harness.runtime.orm.em.fork().find(UsageEntry, { requestId: outcome.requestId }, { orderBy: { kind: 'asc' } });
    expect(ledger.map((row) => [row.kind, row.audioSeconds])).toEqual([
      ['commit', Math.ceil(outcome.durationSeconds)],
      ['reserve', Math.ceil(outcome.durationSeconds)],
    ]);
  });

  it('runs the engine once for two simultaneous requests, and not at all for a later one, delivering all three', async () => {
    const before = videos.opened.length;
    const [first, second] = await Promise.all([
      harness.core.submit(request({ source: { kind: 'youtube', videoId: OTHER_VIDEO }, userId: 'user-2', options: { stems: 'all', format: 'flac' } })),
      harness.core.submit(request({ source: { kind: 'youtube', videoId: OTHER_VIDEO }, userId: 'user-3', tenantId: 'guild-2', options: { stems: 'single', stem: 'drums', format: 'wav' } })),
    ]);
    expect([first.reuse, second.reuse].sort()).toEqual(['attached', 'none']);
    const results = await Promise.all([finished(harness, first.requestId), finished(harness, second.requestId)]);
    expect(results.map((r) => r.type)).toEqual(['completed', 'completed']);
    expect((await harness.core.status(first.requestId)).files.map((f) => f.name)).toEqual(['drums', 'bass', 'other', 'vocals']);
    expect((await harness.core.status(second.requestId)).files.map((f) => f.name)).toEqual(['drums', 'no_drums']);

    const third = await harness.core.submit(request({ source: { kind: 'youtube', videoId: OTHER_VIDEO }, userId: 'user-4', options: { stems: 'all', format: 'flac' } }));
    expect(third.reuse).toBe('cached');
    expect((await finished(harness, third.requestId)).type).toBe('completed');
    expect(videos.opened.length - before).toBe(1);
    // The same stem set and format is rendered once and reused.
    expect((await harness.core.status(third.requestId)).files).toEqual((await harness.core.status(first.requestId)).files);
    expect(await harness.runtime.orm.em.fork().count(UsageEntry, { requestId: third.requestId })).toBe(0);
    const deliveries = [
      ...(await harness.core.outbox.claim({ platform: 'discord', claimer: 'bot', limit: 10, leaseMs: 60_000 })).map((d) => d.request.requestId),
    ].sort();
    expect(deliveries).toEqual([first.requestId, second.requestId, third.requestId].sort());
  });
});
