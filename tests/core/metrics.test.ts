import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { clusterMetrics, jobsFinished, metricsRegistry, quotaRefusals, renderMetrics, stageDuration, type ClusterMetricsSource } from '../../core/metrics.js';

/** The value of one sample line (`name{labels} value`), or undefined when the scrape has no such line. */
function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((text) => text.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Sample lines (not HELP/TYPE) of one metric. */
function samplesOf(body: string, name: string): string[] {
  return body.split('\n').filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`));
}

const scrape = async (...registries: Registry[]) => (await renderMetrics(registries)).body;

function fixedSource(overrides: Partial<ClusterMetricsSource> = {}): ClusterMetricsSource {
  return {
    jobCounts: async () => ({ waiting: 3, active: 2, delayed: 1, prioritized: 4, completed: 50, failed: 7 }),
    outboxBacklog: async () => 5,
    workers: async () => ({ ready: 2, fetching: 1 }),
    ...overrides,
  };
}

describe('process metrics', () => {
  it('has every stembot metric and the event loop lag', async () => {
    const body = await scrape(metricsRegistry);
    for (const name of [
      'stembot_jobs_finished_total',
      'stembot_queue_wait_seconds',
      'stembot_stage_duration_seconds',
      'stembot_request_failures_total',
      'stembot_quota_refusals_total',
      'stembot_youtube_failures_total',
      'stembot_delivery_lag_seconds',
      'stembot_inference_realtime_factor',
      'stembot_model_fetch_ratio',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(body).toContain(`# TYPE ${name} `);
    }
  });

  it('shows a counter increment in the next scrape', async () => {
    const series = 'stembot_jobs_finished_total{kind="render",outcome="failed"}';
    const before = sample(await scrape(metricsRegistry), series);
    expect(before).toBeTypeOf('number');
    jobsFinished.inc({ kind: 'render', outcome: 'failed' });
    jobsFinished.inc({ kind: 'render', outcome: 'failed' });
    expect(sample(await scrape(metricsRegistry), series)).toBe((before ?? 0) + 2);
  });

  it('lists known label values at 0 before anything happened, so alerts see the first event', async () => {
    const body = await scrape(metricsRegistry);
    expect(sample(body, 'stembot_quota_refusals_total{limit="model_not_allowed"}')).toBeTypeOf('number');
    expect(sample(body, 'stembot_stage_duration_seconds_count{stage="overlap_add"}')).toBeTypeOf('number');
    expect(sample(body, 'stembot_delivery_lag_seconds_count{platform="slack"}')).toBeTypeOf('number');
    quotaRefusals.inc({ limit: 'cooldown' });
    expect(sample(await scrape(metricsRegistry), 'stembot_quota_refusals_total{limit="cooldown"}')).toBeGreaterThanOrEqual(1);
  });

  it('puts a stage duration in the buckets from 0.01 s up', async () => {
    const bucket = 'stembot_stage_duration_seconds_bucket{le="0.05",stage="stft"}';
    const below = 'stembot_stage_duration_seconds_bucket{le="0.01",stage="stft"}';
    const before = await scrape(metricsRegistry);
    stageDuration.observe({ stage: 'stft' }, 0.02);
    const after = await scrape(metricsRegistry);
    expect((sample(after, bucket) ?? NaN) - (sample(before, bucket) ?? NaN)).toBe(1);
    expect((sample(after, below) ?? NaN) - (sample(before, below) ?? NaN)).toBe(0);
    expect(sample(after, 'stembot_stage_duration_seconds_bucket{le="1800",stage="stft"}')).toBeTypeOf('number');
  });
});

describe('clusterMetrics', () => {
  it('reads the source at scrape time', async () => {
    let backlog = 5;
    const registry = clusterMetrics(fixedSource({ outboxBacklog: async () => backlog }));
    const body = await scrape(registry);
    expect(sample(body, 'stembot_jobs{state="active"}')).toBe(2);
    expect(sample(body, 'stembot_jobs{state="failed"}')).toBe(7);
    // waiting 3 + prioritized 4 + delayed 1; active and finished jobs wait for nobody.
    expect(sample(body, 'stembot_queue_depth')).toBe(8);
    expect(sample(body, 'stembot_outbox_backlog')).toBe(5);
    expect(sample(body, 'stembot_workers{state="ready"}')).toBe(2);
    expect(sample(body, 'stembot_workers{state="fetching"}')).toBe(1);
    backlog = 9;
    expect(sample(await scrape(registry), 'stembot_outbox_backlog')).toBe(9);
  });

  it('drops states the source no longer reports', async () => {
    let workers: Record<string, number> = { ready: 1, stopping: 1 };
    const registry = clusterMetrics(fixedSource({ workers: async () => workers }));
    expect(sample(await scrape(registry), 'stembot_workers{state="stopping"}')).toBe(1);
    workers = { ready: 2 };
    const body = await scrape(registry);
    expect(samplesOf(body, 'stembot_workers')).toEqual(['stembot_workers{state="ready"} 2']);
  });

  it('counts only the queued states the source has', async () => {
    const registry = clusterMetrics(fixedSource({ jobCounts: async () => ({ waiting: 2, active: 5 }) }));
    expect(sample(await scrape(registry), 'stembot_queue_depth')).toBe(2);
  });

  it('asks for job counts once per scrape though two gauges use them', async () => {
    let calls = 0;
    const registry = clusterMetrics(
      fixedSource({
        jobCounts: async () => {
          calls += 1;
          return { waiting: 1 };
        },
      }),
    );
    await scrape(registry);
    expect(calls).toBe(1);
    await scrape(registry);
    expect(calls).toBe(2);
  });

  it('leaves out the gauges of a source call that throws, and keeps the rest of the scrape', async () => {
    let failing = false;
    const registry = clusterMetrics(
      fixedSource({
        jobCounts: async () => {
          if (failing) throw new Error('redis down');
          return { waiting: 1 };
        },
        outboxBacklog: () => {
          throw new Error('thrown before any promise');
        },
      }),
    );
    expect(sample(await scrape(registry), 'stembot_queue_depth')).toBe(1);
    failing = true;
    const body = await scrape(metricsRegistry, registry);
    expect(samplesOf(body, 'stembot_jobs')).toEqual([]);
    expect(samplesOf(body, 'stembot_queue_depth')).toEqual([]);
    expect(samplesOf(body, 'stembot_outbox_backlog')).toEqual([]);
    expect(sample(body, 'stembot_workers{state="ready"}')).toBe(2);
    expect(body).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
  });

  it('leaves out a gauge whose source call hangs, within the timeout', async () => {
    const registry = clusterMetrics(fixedSource({ outboxBacklog: () => new Promise<number>(() => {}) }), { sourceTimeoutMs: 50 });
    const started = performance.now();
    const body = await scrape(registry);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(samplesOf(body, 'stembot_outbox_backlog')).toEqual([]);
    expect(sample(body, 'stembot_queue_depth')).toBe(8);
  });
});

describe('renderMetrics', () => {
  it("merges registries under prom-client's text format", async () => {
    const { contentType, body } = await renderMetrics([metricsRegistry, clusterMetrics(fixedSource())]);
    expect(contentType).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
    expect(body).toContain('# TYPE stembot_jobs_finished_total counter');
    expect(body).toContain('# TYPE stembot_outbox_backlog gauge');
  });
});
