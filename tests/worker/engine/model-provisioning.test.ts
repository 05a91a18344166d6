import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ModelFetchState } from '../../../core/db/entities/worker-presence.js';
import { metricsRegistry } from '../../../core/metrics.js';
import { provisionModels } from '../../../worker/engine/model-provisioning.js';
import { HTDEMUCS_SEGMENT } from '../../../worker/engine/registry.js';
import { ModelHost } from '../../support/model-host.js';
import { captureLogger, makeTempDir } from '../../support/services.js';

const model = randomBytes(600_000);
let host: ModelHost;
let temp: { dir: string; remove(): Promise<void> };

beforeAll(async () => {
  host = await ModelHost.start(model);
});
afterAll(async () => host.close());
beforeEach(async () => {
  temp = await makeTempDir('stembot-provision-');
  host.mode = 'serve';
  host.fileRequests.length = 0;
  host.registry.models[0]!.name = 'htdemucs';
});
afterEach(async () => temp.remove());

function provision(options: { models?: string[]; signal?: AbortSignal; onTry?: (attempt: number) => void } = {}) {
  const { logger, lines } = captureLogger('info');
  const announced: ModelFetchState[][] = [];
  const result = provisionModels({
    modelsDir: temp.dir,
    models: options.models ?? ['htdemucs'],
    registryUrl: host.registryUrl,
    logger,
    progressLogEveryMs: 0,
    signal: options.signal,
    retryDelayMs: (attempt) => {
      options.onTry?.(attempt);
      return 50;
    },
    onFetching: (fetching) => announced.push(fetching),
  });
  return { result, announced, lines };
}

describe('provisionModels', () => {
  it('downloads a missing built-in model from the configured registry, checks it and reports progress', async () => {
    const { result, announced, lines } = provision();
    const provisioned = await result;
    expect(provisioned.ready.map((m) => [m.name, m.segment])).toEqual([['htdemucs', HTDEMUCS_SEGMENT]]);
    expect(provisioned.unavailable).toEqual([]);
    expect(await readFile(path.join(temp.dir, 'htdemucs.onnx'))).toEqual(model);
    // First "starting", then rising fractions up to the whole file, and finally nothing left to fetch.
    expect(announced[0]).toEqual([{ model: 'htdemucs' }]);
    const fractions = announced.flat().map((state) => state.fraction).filter((f): f is number => f !== undefined);
    expect(fractions.at(-1)).toBe(1);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
    expect(announced.at(-1)).toEqual([]);
    const progressLines = lines().filter((line) => line.msg === 'fetching model' && typeof line.percent === 'number');
    expect(progressLines.length).toBeGreaterThan(0);
    expect(lines().find((line) => line.msg === 'model fetched')).toMatchObject({ model: 'htdemucs', bytes: model.length, sha256: 'verified' });
  });

  it('keeps a model that is already there without asking the network', async () => {
    await writeFile(path.join(temp.dir, 'htdemucs.onnx'), 'already here');
    const provisioned = await provision().result;
    expect(provisioned.ready.map((m) => m.name)).toEqual(['htdemucs']);
    expect(host.fileRequests).toEqual([]);
  });

  it('throws away a download whose checksum is wrong, says so, and tries again until the file is right', async () => {
    host.mode = 'corrupt';
    const { result, announced } = provision({ onTry: () => (host.mode = 'serve') });
    const provisioned = await result;
    expect(provisioned.ready.map((m) => m.name)).toEqual(['htdemucs']);
    expect(host.fileRequests.length).toBe(2);
    expect(announced.flat().find((state) => state.error)?.error).toMatch(/does not match its expected SHA-256/);
    expect(await readFile(path.join(temp.dir, 'htdemucs.onnx'))).toEqual(model);
    expect((await readdir(temp.dir)).filter((name) => name.endsWith('.part'))).toEqual([]);
  });

  it('retries a host that is down with back-off until the worker stops', async () => {
    host.mode = 'fail';
    const stop = new AbortController();
    const attempts: number[] = [];
    const { result, announced } = provision({ signal: stop.signal, onTry: (attempt) => attempts.push(attempt) === 3 && stop.abort() });
    await expect(result).rejects.toThrow(/abort/i);
    expect(attempts).toEqual([2, 3, 4]);
    expect(announced.flat().some((state) => /HTTP 503/.test(state.error ?? ''))).toBe(true);
    expect((await readdir(temp.dir)).filter((name) => name.endsWith('.onnx'))).toEqual([]);
  });

  it('shows the download in /metrics while it runs, and drops the series when it is done', async () => {
    host.mode = 'hold';
    const { result } = provision();
    await expect.poll(async () => (await metricsRegistry.getSingleMetricAsString('stembot_model_fetch_ratio')).match(/model="htdemucs"} ([\d.]+)/)?.[1]).toBe('0.5');
    host.release();
    await result;
    expect(await metricsRegistry.getSingleMetricAsString('stembot_model_fetch_ratio')).not.toContain('model="htdemucs"');
  });

  it('reports, and never downloads, a model no registry knows', async () => {
    const provisioned = await provision({ models: ['my-own-model'] }).result;
    expect(provisioned.ready).toEqual([]);
    expect(provisioned.unavailable).toEqual([{ model: 'my-own-model', reason: expect.stringMatching(/no model called my-own-model/) }]);
    expect(host.fileRequests).toEqual([]);
  });

  it('refuses a registry that tries to add a model of its own', async () => {
    host.registry.models[0]!.name = 'not-built-in';
    const stop = new AbortController();
    const { result, announced } = provision({ signal: stop.signal, onTry: () => stop.abort() });
    await expect(result).rejects.toThrow(/abort/i);
    expect(announced.flat().find((state) => state.error)?.error).toMatch(/lists not-built-in, which is not a built-in model/);
    expect(host.fileRequests).toEqual([]);
  });
});
