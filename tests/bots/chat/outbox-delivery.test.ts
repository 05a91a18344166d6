import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ChatSurface } from '../../../bots/chat/chat-surface.js';
import type { RequestMessageView } from '../../../bots/chat/message-view.js';
import { OutboxDelivery } from '../../../bots/chat/outbox-delivery.js';
import type { DeliveryKind } from '../../../core/db/entities/delivery.js';
import type { ClaimedDelivery, ClaimOptions } from '../../../core/delivery/outbox.js';
import type { RequestSummary } from '../../../core/requests/request-queries.js';
import { RequestUpdates } from '../../../core/request-updates.js';

const MIB = 1024 * 1024;

type FakeMessage = { where: string };

const finished = (overrides: Partial<RequestSummary>): RequestSummary => ({
  requestId: 'r-1',
  state: 'completed',
  title: 'Song',
  model: 'htdemucs',
  options: { stems: 'all', format: 'flac' },
  userId: 'U1',
  channelId: 'C1',
  platformMessage: { where: 'reply' },
  files: [
    { name: 'vocals', storageKey: 'renders/r-1/vocals.flac', bytes: 30 * MIB },
    { name: 'drums', storageKey: 'renders/r-1/drums.flac', bytes: 2 * MIB },
  ],
  createdAt: new Date(0),
  ...overrides,
});

/** An outbox holding one claimable row, recording what happened to it. */
function fakeOutbox(request: RequestSummary, attempts = 0, kind: DeliveryKind = 'result') {
  let claimed = false;
  const log: string[] = [];
  return {
    log,
    outbox: {
      async claim(options: ClaimOptions): Promise<ClaimedDelivery[]> {
        log.push(`claim ${options.platform}`);
        if (claimed) return [];
        claimed = true;
        return [{ deliveryId: '0b0c6f2e-0000-4000-8000-000000000001', kind, request, attempts }];
      },
      renew: async () => true,
      complete: async () => (log.push('complete'), true),
      fail: async (_id: string, _claimer: string, error: string) => void log.push(`fail ${error}`),
    },
  };
}

function fakeSurface(behaviour: { showFails?: Error; carries?: boolean; explains?: boolean } = {}) {
  const shown: { view: RequestMessageView; postKey?: string }[] = [];
  const surface: ChatSurface<FakeMessage> = {
    platform: 'slack',
    minEditIntervalMs: 1000,
    defaultFileLimitBytes: 10 * MIB,
    maxFilesPerMessage: 10,
    parse: (stored) => (typeof stored.where === 'string' ? { where: stored.where } : undefined),
    async show(message, view, options) {
      if (behaviour.showFails) throw behaviour.showFails;
      shown.push({ view, postKey: options?.postKey });
      return message;
    },
    alreadyCarries: async () => behaviour.carries ?? false,
    explainUndeliverable: async () => behaviour.explains ?? false,
  };
  return { surface, shown };
}

async function deliverOnce(request: RequestSummary, surface: ChatSurface<FakeMessage>, attempts = 0, kind: DeliveryKind = 'result'): Promise<string[]> {
  const { outbox, log } = fakeOutbox(request, attempts, kind);
  const updates = new RequestUpdates();
  const storage = { kind: 'local', pathOf: (key: string) => `/data/${key}`, size: async () => undefined };
  const stemsLink = async () => ({ url: 'https://stembot.example/s/token', expiresAt: new Date('2026-11-29T00:00:00Z') });
  const rememberMessage = async () => void log.push('remember');
  const delivery = new OutboxDelivery({ outbox: outbox as never, storage: storage as never, subscribe: updates.subscribe.bind(updates), stemsLink, rememberMessage }, surface, pino({ level: 'silent' }));
  delivery.start();
  await expect.poll(() => log.includes('complete') || log.some((line) => line.startsWith('fail'))).toBe(true);
  await delivery.stop();
  return log;
}

describe('OutboxDelivery', () => {
  it('shows a result planned with the request’s file limit, keyed by its delivery, then completes it', async () => {
    const { surface, shown } = fakeSurface();
    const log = await deliverOnce(finished({ options: { stems: 'all', format: 'flac', maxFileBytes: 25 * MIB } }), surface);
    expect(log).toContain('claim slack');
    expect(log).toContain('complete');
    expect(shown).toHaveLength(1);
    const [{ view, postKey }] = shown as [(typeof shown)[number]];
    expect(postKey).toBe('0b0c6f2e-0000-4000-8000-000000000001');
    expect(view).toMatchObject({ kind: 'result', title: 'Song', requesterId: 'U1' });
    if (view.kind !== 'result') throw new Error('not a result');
    expect(view.files.attach).toEqual([{ name: 'drums.flac', path: '/data/renders/r-1/drums.flac', bytes: 2 * MIB }]);
    expect(view.files.leftOut.map(({ file, reason }) => [file.name, reason])).toEqual([['vocals.flac', 'too_big_lossless']]);
    expect(view.files.limitBytes).toBe(25 * MIB);
  });

  it('shows a failure with core’s reason', async () => {
    const { surface, shown } = fakeSurface();
    await deliverOnce(finished({ state: 'failed', files: [], error: { code: 'audio_empty', message: 'That audio is empty.' } }), surface);
    expect(shown.map((entry) => entry.view)).toEqual([{ kind: 'failure', title: 'Song', reason: 'That audio is empty.' }]);
  });

  it('does not post again what an earlier, dead poster already delivered', async () => {
    const { surface, shown } = fakeSurface({ carries: true });
    expect(await deliverOnce(finished({}), surface, 1)).toContain('complete');
    expect(shown).toEqual([]);
  });

  it('completes an undeliverable result once the surface explained it, and retries one it could not', async () => {
    const explained = await deliverOnce(finished({}), fakeSurface({ showFails: new Error('not_in_channel'), explains: true }).surface);
    expect(explained).toContain('complete');
    const retried = await deliverOnce(finished({}), fakeSurface({ showFails: new Error('not_in_channel') }).surface);
    expect(retried).toContain('fail not_in_channel');
    expect(retried).not.toContain('complete');
  });

  describe('a preview', () => {
    const running = finished({
      state: 'running',
      files: [],
      options: { stems: 'karaoke', format: 'mp3' },
      preview: { stems: [{ name: 'vocals', storageKey: 'separations/s-1/preview/vocals.mp3', bytes: 480_000 }, { name: 'drums', storageKey: 'separations/s-1/preview/drums.mp3', bytes: 470_000 }], startSeconds: 40, durationSeconds: 30 },
    });

    it('goes into a running request’s message as its excerpt’s stems, named apart from the result’s', async () => {
      const { surface, shown } = fakeSurface();
      expect(await deliverOnce(running, surface, 0, 'preview')).toContain('complete');
      expect(shown.map((entry) => entry.view)).toEqual([
        {
          kind: 'preview',
          requestId: 'r-1',
          title: 'Song',
          startSeconds: 40,
          durationSeconds: 30,
          files: [
            { name: 'preview-vocals.mp3', path: '/data/separations/s-1/preview/vocals.mp3', bytes: 480_000 },
            { name: 'preview-drums.mp3', path: '/data/separations/s-1/preview/drums.mp3', bytes: 470_000 },
          ],
        },
      ]);
    });

    it('is not posted once its request has finished: it would cover the result', async () => {
      for (const state of ['completed', 'failed', 'cancelled'] as const) {
        const { surface, shown } = fakeSurface();
        expect(await deliverOnce({ ...running, state }, surface, 0, 'preview')).toContain('complete');
        expect(shown).toEqual([]);
      }
    });

    it('that cannot be posted is failed, not explained as a result that could not be posted', async () => {
      const log = await deliverOnce(running, fakeSurface({ showFails: new Error('Missing Access'), explains: true }).surface, 0, 'preview');
      expect(log).toContain('fail Missing Access');
      expect(log).not.toContain('complete');
    });
  });

  it('drops a delivery whose stored message is not this platform’s', async () => {
    const { surface, shown } = fakeSurface();
    expect(await deliverOnce(finished({ platformMessage: { other: 1 } }), surface)).toContain('complete');
    expect(shown).toEqual([]);
  });
});
