import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Delivery, Separation, SeparationRequest, UsageEntry } from '../../core/db/entities/index.js';
import { sweepRetention } from '../../core/retention.js';
import { separationPrefix } from '../../core/storage.js';
import { ensureTenant } from '../../core/tenants.js';
import { startHarness, type Harness } from '../support/stembot-harness.js';

const VIDEO = 'rrrrrrrrrrr';
let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({
    backend: 'redis',
    env: { RETENTION_DAYS: '7' },
    worker: false,
    fetchers: () => {
      const unused = { inspect: () => Promise.reject(new Error('unused')), open: () => Promise.reject(new Error('unused')) };
      return { youtube: unused, attachment: unused };
    },
  });
});
afterAll(async () => harness.stop());

describe('retention', () => {
  it('is kept by a job scheduler on the queue', async () => {
    await harness.core.scheduleRetention();
    await harness.core.scheduleRetention();
    const queue = harness.runtime.queues.createQueue();
    try {
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers.map((s) => s.key)).toEqual(['retention']);
    } finally {
      await queue.close();
    }
  });

  it('deletes stored files and finished rows past the retention period, and keeps the usage ledger', async () => {
    const em = harness.runtime.orm.em.fork();
    const finishedAt = new Date('2026-01-01T00:00:00Z');
    const separation = em.create(Separation, { sourceKey: `youtube:${VIDEO}`, model: 'htdemucs', state: 'completed', stems: [{ name: 'vocals', storageKey: `${separationPrefix('00000000-0000-4000-8000-000000000001')}/masters/vocals.flac`, bytes: 3 }], finishedAt, id: '00000000-0000-4000-8000-000000000001' });
    const fresh = em.create(Separation, { sourceKey: 'youtube:fffffffffff', model: 'htdemucs', state: 'completed', stems: [], finishedAt: new Date() });
    const tenant = await ensureTenant(em, { platform: 'discord', externalId: 'old-guild' });
    const old = em.create(SeparationRequest, { tenant, userId: 'u', channelId: 'c', source: { kind: 'youtube', videoId: VIDEO }, model: 'htdemucs', options: { stems: 'all', format: 'mp3' }, state: 'completed', separation, finishedAt });
    em.create(Delivery, { request: old, platform: 'discord', state: 'done' });
    em.create(UsageEntry, { tenant, requestId: old.id, userId: 'u', kind: 'reserve', audioSeconds: 6, createdAt: finishedAt });
    await em.flush();
    const masters = await harness.storage.prepare(`${separationPrefix(separation.id)}/masters/vocals.flac`);
    await writeFile(masters, 'abc');

    const removed = await sweepRetention(harness.runtime.orm.em, harness.storage, 7, harness.logger, new Date('2026-02-01T00:00:00Z'));
    expect(removed).toEqual({ requests: 1, separations: 1 });
    const after = harness.runtime.orm.em.fork();
    expect(await after.count(SeparationRequest, { id: old.id })).toBe(0);
    expect(await after.count(Delivery, {})).toBe(0);
    expect(await after.count(Separation, { id: separation.id })).toBe(0);
    expect(await after.count(Separation, { id: fresh.id })).toBe(1);
    expect(existsSync(harness.storage.pathOf(separationPrefix(separation.id)))).toBe(false);
    expect(await after.count(UsageEntry, { requestId: old.id })).toBe(1);
  });
});
