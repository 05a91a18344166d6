import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics, served by the web role at /metrics. Labels carry only values from fixed,
 * small sets (a stage, an error code, a platform, an operator's model name), never user data
 * such as ids, titles or file names: every distinct value is a new time series, and a scrape is
 * readable by whoever reaches the port.
 */

/**
 * Our own registry rather than prom-client's global one, so a library that registers on the
 * global registry cannot collide with our names or leak its series into our scrape.
 */
export const metricsRegistry = new Registry();

// Process metrics: CPU, memory, GC, handles and nodejs_eventloop_lag_seconds (a stuck event loop
// is what delays chat acks past Discord's and Slack's 3 s).
collectDefaultMetrics({ register: metricsRegistry });

const JOB_KINDS = ['separate', 'render', 'retention'] as const;
const JOB_OUTCOMES = ['completed', 'failed', 'cancelled'] as const;
const STAGES = ['download', 'decode', 'inference', 'overlap_add', 'stft', 'encode', 'render', 'upload'] as const;
/** The limits a quota refusal names: the UserError codes submit counts in stembot_quota_refusals_total. */
export const QUOTA_LIMITS = ['daily_quota', 'monthly_quota', 'track_too_long', 'too_many_jobs', 'cooldown', 'model_not_allowed'] as const;
const PLATFORMS = ['discord', 'slack'] as const;

const MINUTE = 60;

export const jobsFinished = new Counter({
  name: 'stembot_jobs_finished_total',
  help: 'Jobs that finished, by kind (separate, render, retention) and outcome (completed, failed, cancelled).',
  labelNames: ['kind', 'outcome'] as const,
  registers: [metricsRegistry],
});

export const queueWait = new Histogram({
  name: 'stembot_queue_wait_seconds',
  help: 'Time a job waited on the queue before a worker took it.',
  buckets: [0.1, 0.5, 1, 2, 5, 10, 30, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 20 * MINUTE, 30 * MINUTE],
  registers: [metricsRegistry],
});

export const stageDuration = new Histogram({
  name: 'stembot_stage_duration_seconds',
  help: 'Time one stage of a job took (download, decode, inference, overlap_add, stft, encode, render, upload).',
  labelNames: ['stage'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 20 * MINUTE, 30 * MINUTE],
  registers: [metricsRegistry],
});

export const requestFailures = new Counter({
  name: 'stembot_request_failures_total',
  help: 'Requests that failed, by error code.',
  labelNames: ['code'] as const,
  registers: [metricsRegistry],
});

export const quotaRefusals = new Counter({
  name: 'stembot_quota_refusals_total',
  help: 'Requests a guild quota refused, by the limit that refused them.',
  labelNames: ['limit'] as const,
  registers: [metricsRegistry],
});

export const deliveryLag = new Histogram({
  name: 'stembot_delivery_lag_seconds',
  help: 'Time from a result being ready to it being posted in chat.',
  labelNames: ['platform'] as const,
  // Most posts take well under a second; the long buckets show a chat platform that is down or
  // rate-limiting us while the outbox retries.
  buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, MINUTE, 5 * MINUTE, 15 * MINUTE, 60 * MINUTE],
  registers: [metricsRegistry],
});

/**
 * Series appear for the downloaders a process runs: its YouTube fetcher starts them at 0, since the
 * kinds of failure are the worker's to name, not core's.
 */
export const youtubeFailures = new Counter({
  name: 'stembot_youtube_failures_total',
  help: 'YouTube lookups and downloads that failed, by downloader (ytdl, yt-dlp) and kind (bot_check, player_parse, network, private, ...); bot_check or player_parse rising means YouTube is blocking this server or has changed.',
  labelNames: ['kind', 'downloader'] as const,
  registers: [metricsRegistry],
});

export const inferenceRealtimeFactor = new Histogram({
  name: 'stembot_inference_realtime_factor',
  help: 'Inference seconds per second of audio, by model (below 1 is faster than real time).',
  labelNames: ['model'] as const,
  buckets: [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
  registers: [metricsRegistry],
});

export const modelFetchProgress = new Gauge({
  name: 'stembot_model_fetch_ratio',
  help: 'Share of a model file a worker has downloaded, 0 to 1, while it downloads it.',
  labelNames: ['model'] as const,
  registers: [metricsRegistry],
});

// Known label values start at 0, so their series exist from the first scrape: rate() and
// alerts over a series that appears only with its first event miss that first event.
for (const kind of JOB_KINDS) for (const outcome of JOB_OUTCOMES) jobsFinished.inc({ kind, outcome }, 0);
for (const stage of STAGES) stageDuration.zero({ stage });
for (const limit of QUOTA_LIMITS) quotaRefusals.inc({ limit }, 0);
for (const platform of PLATFORMS) deliveryLag.zero({ platform });

/** Where the cluster-wide gauges read their values, at scrape time. */
export interface ClusterMetricsSource {
  /** Jobs on the queue by state, as BullMQ counts them (waiting, active, delayed, prioritized, ...). */
  jobCounts(): Promise<Record<string, number>>;
  /** Results not yet delivered to chat. */
  outboxBacklog(): Promise<number>;
  /** Live workers by state (ready, fetching, starting, stopping, ...). */
  workers(): Promise<Record<string, number>>;
}

export interface ClusterMetricsOptions {
  /**
   * How long a source call may take before its gauge is left out of the scrape; default 2000. A
   * queue that is down must not hold the whole scrape past Prometheus' timeout (10 s by default)
   * and take the process metrics, which show why, down with it.
   */
  sourceTimeoutMs?: number;
}

/** States whose jobs wait for a worker to take them (delayed ones once their delay is over). */
const QUEUED_STATES = ['waiting', 'prioritized', 'delayed'];

/**
 * A registry of gauges read from `source` at every scrape. A source call that fails or takes too
 * long leaves its gauges without samples for that scrape: Prometheus then sees the series as
 * absent, where a 0 or the last value would look like a real reading.
 */
export function clusterMetrics(source: ClusterMetricsSource, options: ClusterMetricsOptions = {}): Registry {
  const timeoutMs = options.sourceTimeoutMs ?? 2_000;
  // stembot_jobs and stembot_queue_depth read the same counts: one call serves both in a scrape.
  const jobCounts = sharedWhilePending(() => readOrNothing(() => source.jobCounts(), timeoutMs));
  const registry = new Registry();
  registry.registerMetric(gaugeByLabel('stembot_jobs', 'Jobs on the queue, by state.', 'state', jobCounts));
  registry.registerMetric(
    gaugeOfTotal('stembot_queue_depth', 'Jobs waiting for a worker to take them (waiting, prioritized and delayed).', async () => {
      const counts = await jobCounts();
      return counts && QUEUED_STATES.reduce((sum, state) => sum + (counts[state] ?? 0), 0);
    }),
  );
  registry.registerMetric(gaugeOfTotal('stembot_outbox_backlog', 'Results not yet delivered to chat.', () => readOrNothing(() => source.outboxBacklog(), timeoutMs)));
  registry.registerMetric(gaugeByLabel('stembot_workers', 'Live workers, by state.', 'state', () => readOrNothing(() => source.workers(), timeoutMs)));
  return registry;
}

/** One scrape's text from several registries (the process's own, and the cluster's where this process serves it). */
export async function renderMetrics(registries: Registry[]): Promise<{ contentType: string; body: string }> {
  const merged = registries.length === 0 ? new Registry() : Registry.merge(registries);
  return { contentType: merged.contentType, body: await merged.metrics() };
}

function gaugeByLabel(name: string, help: string, label: string, read: () => Promise<Record<string, number> | undefined>): Gauge {
  return new Gauge({
    name,
    help,
    labelNames: [label],
    registers: [],
    async collect() {
      const values = await read();
      this.reset();
      for (const [value, count] of Object.entries(values ?? {})) {
        if (Number.isFinite(count)) this.set({ [label]: value }, count);
      }
    },
  });
}

function gaugeOfTotal(name: string, help: string, read: () => Promise<number | undefined>): Gauge {
  return new Gauge({
    name,
    help,
    registers: [],
    async collect() {
      const value = await read();
      // remove() with no labels drops the one sample an unlabelled gauge has.
      if (value === undefined || !Number.isFinite(value)) this.remove();
      else this.set(value);
    },
  });
}

/** The source's answer, or undefined when it throws or takes longer than `timeoutMs`. */
async function readOrNothing<T>(read: () => Promise<T>, timeoutMs: number): Promise<T | undefined> {
  const timer = new AbortController();
  try {
    return await Promise.race([read(), sleep(timeoutMs, undefined, { signal: timer.signal })]);
  } catch {
    return undefined;
  } finally {
    timer.abort();
  }
}

/** Callers while a read is in flight share it; the next call after it settles reads afresh. */
function sharedWhilePending<T>(read: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= read().finally(() => {
      pending = undefined;
    });
    return pending;
  };
}
