/**
 * A preview from the worker to the outbox, with the real core on PostgreSQL and the events a worker
 * sends fed to the real recorder (no worker runs, so each step happens when the test says). What the
 * bots then post is in tests/bots/chat/preview-suite.ts.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Separation} from '../../../core/db/entities/index.js';
import { SeparationRequest, UsageEntry } from '../../../core/db/entities/index.js';
import type { StembotQueue } from '../../../core/queue/queue-backend.js';
import type { SubmitInput } from '../../../core/requests/submit.js';
import { locateFfmpeg } from '../../../worker/audio/ffmpeg.js';
import { LocalVideoSource } from '../../support/local-sources.js';
import { makeTempDir } from '../../support/services.js';
import { makeSong, startHarness, type Harness } from '../../support/stembot-harness.js';

const VIDEO = 'previewvid1';
const OTHER_VIDEO = 'previewvid2';

const ask = (overrides: Partial<SubmitInput> = {}): SubmitInput => ({
  platform: 'discord',
  tenantId: 'guild',
  userId: 'user',
  channelId: 'channel',
  source: { kind: 'youtube', videoId: VIDEO, startSeconds: 38 },
  options: { stems: 'all', format: 'mp3' },
  ...overrides,
});

describe('a preview on its way to chat', () => {
  let harness: Harness;
  let queue: StembotQueue;
  let songs: { dir: string; remove(): Promise<void> };

  beforeAll(async () => {
    songs = await makeTempDir('stembot-preview-outbox-');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    const song = await makeSong(ffmpeg, path.join(songs.dir, 'song.mp3'), 3);
    harness = await startHarness({
      backend: 'postgres',
      worker: false,
      env: { PREVIEW_SECONDS: '30' },
      fetchers: (ffprobe) => {
        const local = new LocalVideoSource(ffprobe, { [VIDEO]: song, [OTHER_VIDEO]: song });
        return { youtube: local, attachment: local };
      },
    });
    queue = harness.runtime.queues.createQueue();
  });
  afterAll(async () => {
    await queue?.close();
    await harness?.stop();
    await songs?.remove();
  });

  const claim = (claimer: string) => harness.core.outbox.claim({ platform: 'discord', claimer, limit: 10, leaseMs: 60_000 });

  it('is asked of the worker from the link’s t=, goes only to requests that want one, before their results, and once', async () => {
    const wanting = await harness.core.submit(ask());
    const declining = await harness.core.submit(ask({ userId: 'other', options: { stems: 'karaoke', format: 'mp3', preview: false } }));
    expect(declining.reuse).toBe('attached');
    const em = harness.runtime.orm.em.fork();
    const separation = (await em.findOneOrFail(SeparationRequest, wanting.requestId, { populate: ['separation'] })).separation as Separation;
    const job = await queue.getJob(`separate-${separation.id}`);
    expect(job?.data).toMatchObject({ kind: 'separate', preview: { seconds: 30, startSeconds: 38 } });

    const preview = { stems: [{ name: 'vocals', storageKey: `separations/${separation.id}/preview/vocals.mp3`, bytes: 480_000 }], startSeconds: 38, durationSeconds: 30 };
    const event = { type: 'progress', job: { kind: 'separate', separationId: separation.id }, progress: { stage: 'previewing', fraction: 0.3, preview } } as const;
    await harness.core.recorder.onEvent(event);
    // A replayed event posts nothing twice.
    await harness.core.recorder.onEvent(event);
    await harness.core.recorder.onEvent({ type: 'completed', job: { kind: 'separate', separationId: separation.id }, result: { kind: 'separate', durationSeconds: 70, stems: [] } });
    for (const { requestId } of [wanting, declining]) await harness.core.recorder.onEvent({ type: 'completed', job: { kind: 'render', requestId }, result: { kind: 'render', files: [] } });

    // The results are ready, but the one whose preview is still to go waits for it.
    const first = await claim('bot-a');
    expect(first.map((d) => [d.kind, d.request.requestId]).sort()).toEqual([
      ['preview', wanting.requestId],
      ['result', declining.requestId],
    ]);
    expect(first.find((d) => d.kind === 'preview')?.request.preview).toEqual(preview);
    expect(await claim('bot-b')).toEqual([]);
    // A preview that could not be posted is not tried again: its result goes next.
    await harness.core.outbox.fail(first.find((d) => d.kind === 'preview')!.deliveryId, 'bot-a', 'Missing Access');
    expect((await claim('bot-b')).map((d) => [d.kind, d.request.requestId])).toEqual([['result', wanting.requestId]]);
    expect(await claim('bot-c')).toEqual([]);

    // Charged once, for the one song.
    const ledger = await em.find(UsageEntry, { requestId: { $in: [wanting.requestId, declining.requestId] } });
    expect(ledger.map((row) => [row.requestId === wanting.requestId ? 'wanting' : 'declining', row.kind]).sort()).toEqual([
      ['wanting', 'commit'],
      ['wanting', 'reserve'],
    ]);
  });

  it('is not asked for with preview:false', async () => {
    const outcome = await harness.core.submit(ask({ source: { kind: 'youtube', videoId: OTHER_VIDEO }, tenantId: 'guild-2', options: { stems: 'all', format: 'mp3', preview: false } }));
    const request = await harness.runtime.orm.em.fork().findOneOrFail(SeparationRequest, outcome.requestId, { populate: ['separation'] });
    expect(outcome.reuse).toBe('none');
    const job = await queue.getJob(`separate-${(request.separation as Separation).id}`);
    expect(job?.data).toEqual({ kind: 'separate', separationId: request.separation?.id, source: { kind: 'youtube', videoId: OTHER_VIDEO }, model: 'htdemucs' });
  });
});
