import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuotaChange, SeparationRequest, UsageEntry } from '../../core/db/entities/index.js';
import type { UserError } from '../../core/errors.js';
import type { SubmitInput } from '../../core/requests/submit.js';
import { locateFfmpeg } from '../../worker/audio/ffmpeg.js';
import { YouTubeFetcher } from '../../worker/fetch/youtube-fetcher.js';
import { YtdlDownloader } from '../../worker/fetch/youtube/ytdl-downloader.js';
import { LocalVideoSource } from '../support/local-sources.js';
import { RecordingFetcher } from '../support/recording-fetcher.js';
import { isFinalUpdate, makeSong, startHarness, waitForUpdate, type Harness } from '../support/stembot-harness.js';
import { captureLogger, makeTempDir } from '../support/services.js';
import { rejectsWithUserError } from '../support/user-error.js';

let songs: { dir: string; remove(): Promise<void> };
let song: string;
const videos: Record<string, string> = {};
/** Distinct videos (so dedupe cannot make them free) of the same 18-second song; each test takes its own group. */
const group = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(11 - prefix.length, '0')}`);
const VIDEO_IDS = group('race', 30);
const MISC = group('misc', 5);
const PAGES = group('page', 12);
const FAIR = group('fair', 4);
const PRE = group('pre', 4);
const CANCEL = group('cncl', 1);

beforeAll(async () => {
  songs = await makeTempDir('stembot-songs-');
  const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
  song = await makeSong(ffmpeg, path.join(songs.dir, 'song.mp3'), 18);
  videos.long0000000 = await makeSong(ffmpeg, path.join(songs.dir, 'long.mp3'), 75);
  for (const id of [...VIDEO_IDS, ...MISC, ...PAGES, ...FAIR, ...PRE, ...CANCEL]) videos[id] = song;
});
afterAll(async () => songs.remove());

const ask = (overrides: Partial<SubmitInput>): SubmitInput => ({
  platform: 'discord',
  tenantId: 'guild',
  userId: 'user',
  channelId: 'channel',
  source: { kind: 'youtube', videoId: 'misc0000000' },
  ...overrides,
});


describe('quotas and requests (no worker: jobs stay queued)', () => {
  let harness: Harness;
  let sources: RecordingFetcher;
  beforeAll(async () => {
    harness = await startHarness({
      backend: 'postgres',
      worker: false,
      env: { QUOTA_DAILY_MINUTES: '60', QUOTA_MAX_TRACK_MINUTES: '1', QUOTA_CONCURRENT_JOBS: '40' },
      fetchers: (ffprobe) => {
        sources = new RecordingFetcher(new LocalVideoSource(ffprobe, videos));
        return { youtube: sources, attachment: sources };
      },
    });
  });
  afterAll(async () => harness.stop());

  it('admits exactly what fits when 30 requests race for room for 3, and the ledger adds up', async () => {
    await harness.core.quota.set({ platform: 'discord', externalId: 'race' }, 'daily_minutes', '1', 'admin-0');
    // 18.0x s rounds up to 19 s: three fit in the 60-second day, a fourth does not.
    const results = await Promise.allSettled(VIDEO_IDS.map((videoId, i) => harness.core.submit(ask({ tenantId: 'race', userId: `user-${i}`, source: { kind: 'youtube', videoId } }))));
    const admitted = results.filter((r) => r.status === 'fulfilled');
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as UserError] : []));
    expect(admitted).toHaveLength(3);
    expect(new Set(refused.map((e) => e.code))).toEqual(new Set(['daily_quota']));
    expect(refused[0]?.message).toBe('There is 3 s of separation left here today and this track needs 19 s; it resets at 00:00 UTC.');
    const em = harness.runtime.orm.em.fork();
    const [row] = await em.execute<{ reserved: number; count: number }[]>(
      "select sum(audio_seconds)::int as reserved, count(*)::int as count from usage_entry u join tenant t on t.id = u.tenant_id where t.external_id = 'race' and kind = 'reserve'",
    );
    expect(row).toEqual({ reserved: 57, count: 3 });
    expect(await em.count(SeparationRequest, { tenant: { externalId: 'race' } })).toBe(3);
  });

  it('shows usage and limits with their reset times, and lets admins set and reset limits with a record of who did it', async () => {
    const tenant = { platform: 'discord' as const, externalId: 'race' };
    const now = new Date('2026-11-28T15:00:00Z');
    const report = await harness.core.quota.show(tenant, new Date());
    expect(report.day.usedSeconds).toBe(57);
    expect(report.limits.dailySeconds).toBe(60);
    expect(report.activeJobs).toBe(3);
    const later = await harness.core.quota.show(tenant, now);
    expect(later.day.resetsAt.toISOString()).toBe('2026-11-29T00:00:00.000Z');
    expect(later.month.resetsAt.toISOString()).toBe('2026-12-01T00:00:00.000Z');

    const limits = await harness.core.quota.set(tenant, 'daily_minutes', '30', 'admin-1');
    expect(limits.dailySeconds).toBe(1800);
    expect((await harness.core.quota.show(tenant)).overridden).toEqual(['dailySeconds']);
    expect((await rejectsWithUserError(harness.core.quota.set(tenant, 'concurrent_jobs', 'lots', 'admin-1'))).code).toBe('quota_bad_value');
    // The operator allows 60 minutes a day: that is as far as a guild's admins go.
    const over = await rejectsWithUserError(harness.core.quota.set(tenant, 'daily_minutes', '90', 'admin-1'));
    expect(over.message).toBe('`daily_minutes` takes a whole number from 0 to 60 on this bot; you gave 90.');
    expect((await harness.core.quota.show(tenant)).limits.dailySeconds).toBe(1800);
    await harness.core.quota.reset(tenant, 'admin-2');
    expect((await harness.core.quota.show(tenant)).limits.dailySeconds).toBe(3600);
    const changes = await harness.runtime.orm.em.fork().find(QuotaChange, { tenant: { externalId: 'race' } }, { orderBy: { id: 'asc' } });
    expect(changes.map((c) => [c.changedBy, c.field, c.newValue])).toEqual([
      ['admin-0', 'dailySeconds', 60],
      ['admin-1', 'dailySeconds', 1800],
      ['admin-2', '*', null],
    ]);
  });

  it('refuses, before spending quota: a model the guild does not allow, a track over the length limit, the per-user cooldown, too many jobs', async () => {
    expect((await rejectsWithUserError(harness.core.submit(ask({ tenantId: 'models', model: 'htdemucs_6s' })))).message).toBe('The htdemucs_6s model is not allowed here; the allowed ones are htdemucs.');
    await harness.core.quota.set({ platform: 'discord', externalId: 'short' }, 'max_track_minutes', '1', 'admin');
    const long = await rejectsWithUserError(harness.core.submit(ask({ tenantId: 'short', source: { kind: 'youtube', videoId: 'long0000000' } })));
    expect(long.code).toBe('track_too_long');
    expect(long.message).toMatch(/^This track is 1 min 1[56] s; the limit here is 1 min\.$/);
    expect((await rejectsWithUserError(harness.core.submit(ask({ tenantId: 'short', source: { kind: 'youtube', videoId: 'notthere000' } })))).code).toBe('video_unavailable');
    await harness.core.quota.set({ platform: 'discord', externalId: 'cool' }, 'user_cooldown_seconds', '60', 'admin');
    await harness.core.submit(ask({ tenantId: 'cool', userId: 'hasty', source: { kind: 'youtube', videoId: MISC[1] as string } }));
    const cooldown = await rejectsWithUserError(harness.core.submit(ask({ tenantId: 'cool', userId: 'hasty', source: { kind: 'youtube', videoId: MISC[2] as string } })));
    expect(cooldown.code).toBe('cooldown');
    expect(cooldown.message).toMatch(/^Please wait \d+ s before your next separation\.$/);
    await harness.core.quota.set({ platform: 'discord', externalId: 'busy' }, 'concurrent_jobs', '1', 'admin');
    await harness.core.submit(ask({ tenantId: 'busy', userId: 'a', source: { kind: 'youtube', videoId: MISC[3] as string } }));
    const busy = await rejectsWithUserError(harness.core.submit(ask({ tenantId: 'busy', userId: 'b', source: { kind: 'youtube', videoId: MISC[4] as string } })));
    expect(busy.code).toBe('too_many_jobs');
    const em = harness.runtime.orm.em.fork();
    expect(await em.count(UsageEntry, { tenant: { externalId: { $in: ['models', 'short'] } } })).toBe(0);
  });

  it('refuses a model, a user in cooldown, a guild at its job limit or out of minutes without looking at the source', async () => {
    const [first, second, third, fourth] = PRE as [string, string, string, string];
    const video = (videoId: string) => ({ kind: 'youtube' as const, videoId });
    const discord = (externalId: string) => ({ platform: 'discord' as const, externalId });
    expect((await rejectsWithUserError(harness.core.submit(ask({ tenantId: 'pre-model', model: 'htdemucs_6s', source: video(second) })))).code).toBe('model_not_allowed');
    await harness.core.quota.set(discord('pre-cool'), 'user_cooldown_seconds', '60', 'admin');
    await harness.core.submit(ask({ tenantId: 'pre-cool', userId: 'hasty', source: video(first) }));
    expect((await rejectsWithUserError(harness.core.submit(ask({ tenantId: 'pre-cool', userId: 'hasty', source: video(second) })))).code).toBe('cooldown');
    await harness.core.quota.set(discord('pre-busy'), 'concurrent_jobs', '1', 'admin');
    await harness.core.submit(ask({ tenantId: 'pre-busy', userId: 'a', source: video(first) }));
    expect((await rejectsWithUserError(harness.core.submit(ask({ tenantId: 'pre-busy', userId: 'b', source: video(third) })))).code).toBe('too_many_jobs');
    await harness.core.quota.set(discord('pre-spent'), 'daily_minutes', '0', 'admin');
    const spent = await rejectsWithUserError(harness.core.submit(ask({ tenantId: 'pre-spent', userId: 'c', source: video(fourth) })));
    expect(spent.message).toBe('There is no separation time left here today; it resets at 00:00 UTC.');
    // A source already being separated costs no minutes, so a guild with none left still joins it.
    expect((await harness.core.submit(ask({ tenantId: 'pre-spent', userId: 'd', source: video(first) }))).reuse).toBe('attached');
    const looked = sources.inspected.flatMap((source) => (source.kind === 'youtube' && PRE.includes(source.videoId) ? [source.videoId] : []));
    expect(looked).toEqual([first, first, first]);
  });

  it('lets an admin cancel requests of their own guild only', async () => {
    const { requestId } = await harness.core.submit(ask({ tenantId: 'guild-b', userId: 'bea', source: { kind: 'youtube', videoId: CANCEL[0] as string } }));
    const outsiders = [
      { userId: 'adam', isAdmin: true, tenant: { platform: 'discord' as const, externalId: 'guild-a' } },
      // The same id on another platform is another tenant.
      { userId: 'adam', isAdmin: true, tenant: { platform: 'slack' as const, externalId: 'guild-b' } },
      // An admin flag without the tenant it was checked in counts for nothing.
      { userId: 'adam', isAdmin: true },
    ];
    for (const by of outsiders) {
      const refusal = await rejectsWithUserError(harness.core.cancel(requestId, by));
      expect(refusal.message).toBe('Only the person who asked, or an admin, can cancel this.');
    }
    expect((await harness.core.status(requestId)).state).toBe('queued');
    expect(await harness.runtime.orm.em.fork().count(UsageEntry, { requestId, kind: 'refund' })).toBe(0);
    await harness.core.cancel(requestId, { userId: 'bram', isAdmin: true, tenant: { platform: 'discord', externalId: 'guild-b' } });
    expect((await harness.core.status(requestId)).state).toBe('cancelled');
  });

  it("pages a user's requests newest first and cancels the latest one, refunding it", async () => {
    const who = { platform: 'discord' as const, tenantId: 'pages', userId: 'lister' };
    await harness.core.quota.set({ platform: 'discord', externalId: 'pages' }, 'daily_minutes', '60', 'admin');
    await harness.core.quota.set({ platform: 'discord', externalId: 'pages' }, 'max_track_minutes', '1', 'admin');
    const ids: string[] = [];
    for (const videoId of PAGES) ids.push((await harness.core.submit(ask({ tenantId: 'pages', userId: 'lister', source: { kind: 'youtube', videoId } }))).requestId);
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await harness.core.list(who, cursor);
      pages.push(page.items.map((item) => item.requestId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages.map((p) => p.length)).toEqual([5, 5, 2]);
    expect(pages.flat()).toEqual([...ids].reverse());

    const cancelled = await harness.core.cancelLatest(who, false);
    expect(cancelled).toBe(ids[ids.length - 1]);
    expect((await harness.core.status(cancelled)).state).toBe('cancelled');
    const ledger = await harness.runtime.orm.em.fork().find(UsageEntry, { requestId: cancelled });
    expect(ledger.map((row) => row.kind).sort()).toEqual(['refund', 'reserve']);
    expect((await rejectsWithUserError(harness.core.cancel(cancelled, { userId: 'lister', isAdmin: false }))).code).toBe('already_finished');
  });

  it("puts a guild's later jobs behind another guild's first one", async () => {
    const queue = harness.runtime.queues.createQueue();
    try {
      const busy = [];
      for (const videoId of FAIR.slice(0, 3)) busy.push(await harness.core.submit(ask({ tenantId: 'pages', userId: `fair-${videoId}`, source: { kind: 'youtube', videoId } })));
      const lone = await harness.core.submit(ask({ tenantId: 'lone-guild', userId: 'x', source: { kind: 'youtube', videoId: FAIR[3] as string } }));
      const priorityOf = async (requestId: string) => {
        const row = await harness.runtime.orm.em.fork().findOneOrFail(SeparationRequest, requestId, { populate: ['separation'] });
        return (await queue.getJob(`separate-${row.separation?.id}`))?.opts.priority ?? 0;
      };
      expect(await priorityOf(lone.requestId)).toBe(1);
      expect(await priorityOf(busy[2]!.requestId)).toBeGreaterThan(10);
    } finally {
      await queue.close();
    }
  });
});

describe('YouTube unreachable (this machine has no route to YouTube)', () => {
  it('refuses the request with a retry-later message and spends no quota', async () => {
    const { logger } = captureLogger('silent');
    const youtube = new YouTubeFetcher({ downloaders: [new YtdlDownloader({ retry: { attempts: 1, firstDelayMs: 10 } })], logger });
    const harness = await startHarness({ backend: 'postgres', worker: false, fetchers: () => ({ youtube, attachment: youtube }) });
    try {
      const error = await rejectsWithUserError(harness.core.submit(ask({ source: { kind: 'youtube', videoId: 'dQw4w9WgXcQ' } })));
      expect(error.code).toBe('youtube_unreachable');
      expect(error.message).toBe('YouTube could not be reached; try again later.');
      expect(await harness.runtime.orm.em.fork().count(UsageEntry, {})).toBe(0);
    } finally {
      await harness.stop();
    }
  });

  it('fails a job whose download cannot reach YouTube after its retries, and refunds the quota', async () => {
    const { logger } = captureLogger('silent');
    const youtube = new YouTubeFetcher({ downloaders: [new YtdlDownloader({ retry: { attempts: 1, firstDelayMs: 10 } })], logger });
    let local: LocalVideoSource | undefined;
    const harness = await startHarness({
      backend: 'redis',
      fetchers: (ffprobe) => {
        local = new LocalVideoSource(ffprobe, { dQw4w9WgXcQ: song });
        // Metadata succeeds (it came through before the network went), the download does not.
        const split = { inspect: local.inspect.bind(local), open: youtube.open.bind(youtube) };
        return { youtube: split, attachment: split };
      },
    });
    try {
      const outcome = await harness.core.submit(ask({ source: { kind: 'youtube', videoId: 'dQw4w9WgXcQ' } }));
      const last = await waitForUpdate(harness.core, outcome.requestId, isFinalUpdate);
      expect(last).toEqual({ type: 'failed', requestId: outcome.requestId, code: 'youtube_unreachable', message: 'YouTube could not be reached; try again later.' });
      const rows = await harness.runtime.orm.em.fork().find(UsageEntry, { requestId: outcome.requestId });
      expect(rows.map((row) => row.kind).sort()).toEqual(['refund', 'reserve']);
    } finally {
      await harness.stop();
    }
  });
});
