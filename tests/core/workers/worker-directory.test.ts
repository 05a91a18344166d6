import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../core/config.js';
import { openRuntime, type Runtime } from '../../../core/runtime.js';
import { requireServedModel } from '../../../core/workers/model-availability.js';
import { WorkerDirectory, type WorkerAnnouncement } from '../../../core/workers/worker-directory.js';
import { captureLogger, createTestDatabase, uniqueNamespace, type TestDatabase } from '../../support/services.js';
import { rejectsWithUserError } from '../../support/user-error.js';

describe('WorkerDirectory', () => {
  let database: TestDatabase;
  let runtime: Runtime;
  let directory: WorkerDirectory;

  beforeAll(async () => {
    database = await createTestDatabase();
    runtime = await openRuntime(parseConfig({ DATABASE_URL: database.url, QUEUE_NAMESPACE: uniqueNamespace() }), captureLogger('silent').logger);
    directory = new WorkerDirectory(runtime.orm.em);
  });
  afterAll(async () => {
    await runtime?.close();
    await database?.drop();
  });

  const worker = (id: string, change: Partial<WorkerAnnouncement> = {}): WorkerAnnouncement => ({
    id,
    host: 'gpu-1',
    device: 'cuda',
    models: ['htdemucs'],
    fetching: [],
    concurrency: 2,
    state: 'ready',
    ttlSeconds: 60,
    ...change,
  });
  const refusal = async (model: string) => (await rejectsWithUserError(requireServedModel(directory, model))).message;

  it('tells a served model from one being fetched, one whose fetch fails, and one nobody serves', async () => {
    await directory.announce(worker('a'));
    await directory.announce(worker('b', { state: 'fetching', models: [], fetching: [{ model: 'htdemucs_6s', fraction: 0.43 }, { model: 'htdemucs_ft', error: 'HTTP 503' }] }));
    expect(await directory.availabilityOf('htdemucs')).toEqual({ kind: 'served', workers: 1 });
    await expect(requireServedModel(directory, 'htdemucs')).resolves.toBeUndefined();
    expect(await refusal('htdemucs_6s')).toBe('The htdemucs_6s model is still being set up on this bot (43 % downloaded); try again in a few minutes. Nothing was charged.');
    expect(await refusal('htdemucs_ft')).toMatch(/^This bot cannot download the htdemucs_ft model right now/);
    expect(await refusal('mdx')).toBe('No worker is running the mdx model right now, so this cannot start; try again later. Nothing was charged.');
  });

  it('stops counting a worker that is stopping, has expired, or has left', async () => {
    await directory.announce(worker('a', { state: 'stopping' }));
    expect(await directory.availabilityOf('htdemucs')).toEqual({ kind: 'none' });
    await directory.announce(worker('a'));
    expect((await directory.live()).map((w) => [w.id, w.state, w.device, w.concurrency])).toEqual([
      ['a', 'ready', 'cuda', 2],
      ['b', 'fetching', 'cuda', 2],
    ]);
    await directory.announce(worker('a', { ttlSeconds: 0.001 }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await directory.live()).map((w) => w.id)).toEqual(['b']);
    await directory.remove('b');
    expect(await directory.live()).toEqual([]);
  });

  it('refuses an announcement that is not one', async () => {
    await expect(directory.announce(worker('c', { device: 'tpu' as 'cuda' }))).rejects.toThrow();
    await expect(directory.announce(worker('', {}))).rejects.toThrow();
  });
});
