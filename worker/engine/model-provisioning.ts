import { setTimeout as sleep } from 'node:timers/promises';
import type { ModelFetchState } from '../../core/db/entities/worker-presence.js';
import { UserError } from '../../core/errors.js';
import type { Logger } from '../../core/logging.js';
import { modelFetchProgress } from '../../core/metrics.js';
import { downloadModel } from './model-fetch.js';
import { modelDownloads, type ModelDownload } from './model-downloads.js';
import { modelFilePath } from './models-dir.js';
import { findRegistryEntry } from './registry.js';
import { resolveModel, type ResolvedModel } from './resolve-model.js';

export interface ProvisionOptions {
  modelsDir: string;
  /** MODELS: what this worker is to serve. */
  models: string[];
  /** MODEL_REGISTRY_URL: a mirror's registry, read only when something must be downloaded. */
  registryUrl?: string | undefined;
  logger: Logger;
  /** Called whenever a download starts, moves, fails or ends: the worker announces it. */
  onFetching?: (fetching: ModelFetchState[]) => void;
  signal?: AbortSignal;
  /** Wait before try `attempt` (2, 3, ...) of a failed download. Default 5 s doubling to 5 min. */
  retryDelayMs?: (attempt: number) => number;
  /** How often a running download writes a progress line. Default 5 s. */
  progressLogEveryMs?: number;
  fetchImpl?: typeof fetch;
}

export interface ProvisionedModels {
  /** Models on disk and resolved, in MODELS order. */
  ready: ResolvedModel[];
  /** Models that cannot be had however long the worker waits (unknown name, damaged description), with why. */
  unavailable: { model: string; reason: string }[];
}

const defaultRetryDelay = (attempt: number): number => Math.min(5_000 * 2 ** (attempt - 2), 300_000);

/**
 * Makes the models a worker serves present: a built-in model that is missing is downloaded (resumed
 * from an earlier `.part`, checked against its SHA-256), retrying with back-off until it arrives or
 * the worker stops. A model that no wait can bring is reported, not retried.
 */
export async function provisionModels(options: ProvisionOptions): Promise<ProvisionedModels> {
  const log = options.logger.child({ component: 'models' });
  const ready: ResolvedModel[] = [];
  const unavailable: ProvisionedModels['unavailable'] = [];
  const missing: string[] = [];
  for (const name of options.models) {
    try {
      ready.push(await resolveModel(options.modelsDir, { name }));
    } catch (error) {
      // A built-in model not downloaded yet; an added model whose file went cannot be fetched again.
      if (error instanceof UserError && error.code === 'model_missing' && findRegistryEntry(name)) missing.push(name);
      else unavailable.push({ model: name, reason: (error as Error).message });
    }
  }
  for (const { model, reason } of unavailable) log.error({ model, reason }, 'this worker cannot serve a configured model');
  if (missing.length === 0) return { ready, unavailable };

  const fetching = new Map<string, ModelFetchState>(missing.map((model) => [model, { model }]));
  const announce = () => options.onFetching?.([...fetching.values()].map((state) => ({ ...state })));
  announce();
  let downloads: Map<string, ModelDownload> | undefined;
  for (const model of missing) {
    for (let attempt = 1; ; attempt += 1) {
      options.signal?.throwIfAborted();
      try {
        downloads ??= await modelDownloads(options.registryUrl, options.fetchImpl);
        const download = downloads.get(model);
        if (!download) {
          unavailable.push({ model, reason: `no verified download is known for ${model}` });
          log.error({ model }, 'this worker cannot serve a configured model: no verified download is known for it');
          break;
        }
        await fetchOne(model, download, options, log, (fraction) => {
          fetching.set(model, { model, ...(fraction === undefined ? {} : { fraction }) });
          announce();
        });
        ready.push(await resolveModel(options.modelsDir, { name: model }));
        break;
      } catch (error) {
        options.signal?.throwIfAborted();
        const delayMs = (options.retryDelayMs ?? defaultRetryDelay)(attempt + 1);
        const message = (error as Error).message;
        fetching.set(model, { ...fetching.get(model), model, error: message.slice(0, 300) });
        announce();
        log.warn({ model, attempt, retryInSeconds: Math.round(delayMs / 1000), err: message }, 'model download failed; trying again');
        await sleep(delayMs, undefined, { signal: options.signal });
      }
    }
    fetching.delete(model);
    modelFetchProgress.remove({ model });
    announce();
  }
  // MODELS order, whatever order the downloads finished in.
  ready.sort((a, b) => options.models.indexOf(a.name) - options.models.indexOf(b.name));
  return { ready, unavailable };
}

async function fetchOne(model: string, download: ModelDownload, options: ProvisionOptions, log: Logger, onFraction: (fraction: number | undefined) => void): Promise<void> {
  const started = performance.now();
  const everyMs = options.progressLogEveryMs ?? 5_000;
  let lastLog = 0;
  let lastFraction: number | undefined;
  log.info({ model, url: download.url, bytes: download.bytes }, 'fetching model');
  const result = await downloadModel({
    url: download.url,
    destPath: modelFilePath(options.modelsDir, model),
    sha256: download.sha256,
    signal: options.signal,
    fetchImpl: options.fetchImpl,
    onProgress: ({ receivedBytes, totalBytes, resumedFrom }) => {
      const total = totalBytes ?? download.bytes;
      const fraction = total ? Math.min(1, receivedBytes / total) : undefined;
      if (fraction !== undefined) modelFetchProgress.set({ model }, fraction);
      const now = performance.now();
      if (now - lastLog >= everyMs) {
        lastLog = now;
        log.info({ model, percent: fraction === undefined ? undefined : Math.floor(fraction * 100), receivedMiB: mib(receivedBytes), totalMiB: total ? mib(total) : undefined, resumedFromMiB: resumedFrom ? mib(resumedFrom) : undefined }, 'fetching model');
      }
      // Announcements go to the database: whole percents are enough.
      if (fraction === undefined || lastFraction === undefined || Math.floor(fraction * 100) !== Math.floor(lastFraction * 100)) {
        lastFraction = fraction;
        onFraction(fraction);
      }
    },
  });
  log.info({ model, bytes: result.bytes, sha256: 'verified', seconds: Math.round((performance.now() - started) / 100) / 10 }, 'model fetched');
}

const mib = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;
