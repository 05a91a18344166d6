import { connect } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterMetrics, jobsFinished, metricsRegistry, renderMetrics } from '../../../core/metrics.js';
import { hostAllowList } from '../../../core/web/allowed-hosts.js';
import { startWebServer, type ReadinessCheck, type WebServer, type WebServerOptions } from '../../../core/web/web-server.js';
import { captureLogger } from '../../support/services.js';

interface ReadyBody {
  ready: boolean;
  checks: { name: string; ok: boolean; detail?: string }[];
}

const passing = (name: string): ReadinessCheck => ({ name, run: async () => ({ ok: true }) });

/** Starts a server on a free loopback port; `checks` is read per request, so a test may swap it. */
async function start(overrides: Partial<WebServerOptions> = {}) {
  const state = { checks: [passing('database'), passing('queue')] };
  const { logger, lines } = captureLogger();
  const cluster = clusterMetrics({ jobCounts: async () => ({ waiting: 4 }), outboxBacklog: async () => 1, workers: async () => ({ ready: 1 }) });
  const server = await startWebServer({
    host: '127.0.0.1',
    port: 0,
    allowedHosts: ['metrics.internal', 'scraper.example:9100'],
    readiness: () => state.checks,
    metrics: () => renderMetrics([metricsRegistry, cluster]),
    logger,
    ...overrides,
  });
  return { server, state, lines };
}

async function readyz(server: WebServer): Promise<{ status: number; body: ReadyBody }> {
  const response = await fetch(`${server.url}/readyz`);
  return { status: response.status, body: (await response.json()) as ReadyBody };
}

/** undici.request, unlike fetch, sends the Host header it is given. */
async function withHost(server: WebServer, host: string, path = '/healthz'): Promise<number> {
  const response = await request(`${server.url}${path}`, { headers: { host } });
  await response.body.dump();
  return response.statusCode;
}

describe('web server', () => {
  let server: WebServer;
  let state: { checks: ReadinessCheck[] };
  let lines: () => Record<string, unknown>[];
  beforeAll(async () => {
    ({ server, state, lines } = await start());
  });
  afterAll(async () => server.close());

  it('listens on the given loopback address and logs where', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
    expect(lines()).toContainEqual(expect.objectContaining({ msg: 'web server listening', url: server.url }));
  });

  it('answers /healthz with ok, uncacheable and unsniffable', async () => {
    const response = await fetch(`${server.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('answers HEAD on the GET routes', async () => {
    const response = await fetch(`${server.url}/healthz`, { method: 'HEAD' });
    expect(response.status).toBe(200);
  });

  it('is ready when every check passes', async () => {
    state.checks = [passing('database'), passing('queue')];
    expect(await readyz(server)).toEqual({
      status: 200,
      body: {
        ready: true,
        checks: [
          { name: 'database', ok: true },
          { name: 'queue', ok: true },
        ],
      },
    });
  });

  it('is not ready, naming the failing check and its detail, when one fails', async () => {
    state.checks = [passing('database'), { name: 'queue', run: async () => ({ ok: false, detail: 'redis unreachable' }) }];
    const { status, body } = await readyz(server);
    expect(status).toBe(503);
    expect(body.ready).toBe(false);
    expect(body.checks).toEqual([
      { name: 'database', ok: true },
      { name: 'queue', ok: false, detail: 'redis unreachable' },
    ]);
  });

  it('reads the set of checks per request', async () => {
    state.checks = [passing('database')];
    expect((await readyz(server)).body.checks.map((check) => check.name)).toEqual(['database']);
    state.checks = [passing('database'), passing('models')];
    expect((await readyz(server)).body.checks.map((check) => check.name)).toEqual(['database', 'models']);
  });

  it('fails a check that throws with its message: no stack, one line, cut short, no connection password', async () => {
    state.checks = [
      passing('database'),
      {
        name: 'queue',
        run: async () => {
          throw new Error('connect ECONNREFUSED redis://:hunter2@127.0.0.1:6379\n(retrying)');
        },
      },
      {
        name: 'storage',
        run: () => {
          throw new Error('x'.repeat(5_000));
        },
      },
    ];
    const { status, body } = await readyz(server);
    expect(status).toBe(503);
    const queue = body.checks.find((check) => check.name === 'queue');
    expect(queue?.ok).toBe(false);
    expect(queue?.detail).toBe('connect ECONNREFUSED redis://:***@127.0.0.1:6379 (retrying)');
    const storage = body.checks.find((check) => check.name === 'storage');
    expect(storage?.ok).toBe(false);
    expect(storage?.detail?.length).toBeGreaterThan(100);
    expect(storage?.detail?.length).toBeLessThanOrEqual(200);
    // A stack would name this file.
    expect(JSON.stringify(body)).not.toContain('web-server.test');
  });

  it('serves /metrics with our metrics, the cluster gauges and the event loop lag', async () => {
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = await response.text();
    for (const name of ['stembot_jobs_finished_total', 'stembot_stage_duration_seconds', 'stembot_model_fetch_ratio', 'nodejs_eventloop_lag_seconds']) {
      expect(body).toContain(`# TYPE ${name} `);
    }
    expect(body).toContain('\nstembot_queue_depth 4\n');
  });

  it('shows a counter increment in the next scrape', async () => {
    const series = 'stembot_jobs_finished_total{kind="separate",outcome="cancelled"}';
    const read = async () => {
      const line = (await (await fetch(`${server.url}/metrics`)).text()).split('\n').find((text) => text.startsWith(`${series} `));
      return Number(line?.slice(series.length + 1));
    };
    const before = await read();
    expect(Number.isFinite(before)).toBe(true);
    jobsFinished.inc({ kind: 'separate', outcome: 'cancelled' });
    expect(await read()).toBe(before + 1);
  });

  it('answers an unknown path with 404, without echoing the path back', async () => {
    const response = await fetch(`${server.url}/admin/secret-route-name`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.text()).not.toContain('secret-route-name');
  });

  it('sends no CORS headers, even to a request with an Origin', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/nowhere']) {
      const response = await fetch(`${server.url}${path}`, { headers: { origin: 'https://evil.example' } });
      const cors = [...response.headers.keys()].filter((name) => name.startsWith('access-control-'));
      expect(cors, path).toEqual([]);
    }
  });

  it('does not allow a CORS preflight', async () => {
    const response = await fetch(`${server.url}/metrics`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    expect([404, 405]).toContain(response.status);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('refuses a Host it does not know with 421, on every path (DNS rebinding)', async () => {
    expect(await withHost(server, 'evil.example')).toBe(421);
    expect(await withHost(server, `evil.example:${server.port}`, '/metrics')).toBe(421);
    expect(await withHost(server, 'evil.example', '/nowhere')).toBe(421);
    expect(await withHost(server, 'localhost.evil.example')).toBe(421);
    expect(await withHost(server, 'metrics.internal.evil.example')).toBe(421);
  });

  it('accepts loopback names on any port and the allowed hosts, case-insensitively', async () => {
    expect(await withHost(server, `localhost:${server.port}`)).toBe(200);
    expect(await withHost(server, `LocalHost:${server.port}`, '/metrics')).toBe(200);
    expect(await withHost(server, '127.0.0.1:1')).toBe(200);
    expect(await withHost(server, `[::1]:${server.port}`)).toBe(200);
    // Scrapers that discover targets by address send the address; rebinding cannot, it needs a name.
    expect(await withHost(server, '10.1.2.3:8080', '/metrics')).toBe(200);
    expect(await withHost(server, '[fd00::5]:8080')).toBe(200);
    expect(await withHost(server, '10.1.2.3.evil.example')).toBe(421);
    expect(await withHost(server, 'metrics.internal')).toBe(200);
    expect(await withHost(server, 'Metrics.Internal:8080', '/readyz')).not.toBe(421);
  });

  it('holds an allowed host with a port to that port', async () => {
    expect(await withHost(server, 'scraper.example:9100')).toBe(200);
    expect(await withHost(server, 'scraper.example:9101')).toBe(421);
    expect(await withHost(server, 'scraper.example')).toBe(421);
  });

  it('refuses a request without a Host header with 421', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1', () => socket.end('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 421 /);
  });
});

describe('web server readiness timing and shutdown', () => {
  it('fails a check that hangs past the timeout and still answers', async () => {
    const { server, state } = await start({ checkTimeoutMs: 100 });
    try {
      state.checks = [passing('database'), { name: 'queue', run: () => new Promise(() => {}) }];
      const started = performance.now();
      const { status, body } = await readyz(server);
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(status).toBe(503);
      expect(body.checks).toEqual([
        { name: 'database', ok: true },
        { name: 'queue', ok: false, detail: 'timed out after 0.1 s' },
      ]);
    } finally {
      await server.close();
    }
  });

  it('runs the checks at the same time', async () => {
    const { server, state } = await start();
    try {
      let running = 0;
      let most = 0;
      const slow = (name: string): ReadinessCheck => ({
        name,
        run: async () => {
          running += 1;
          most = Math.max(most, running);
          await new Promise((resolve) => setTimeout(resolve, 50));
          running -= 1;
          return { ok: true };
        },
      });
      state.checks = [slow('a'), slow('b'), slow('c')];
      expect((await readyz(server)).status).toBe(200);
      expect(most).toBe(3);
    } finally {
      await server.close();
    }
  });

  it('turns not ready after markStopping, before it closes', async () => {
    const { server } = await start();
    try {
      expect((await readyz(server)).status).toBe(200);
      server.markStopping();
      expect(await readyz(server)).toEqual({ status: 503, body: { ready: false, checks: [{ name: 'shutdown', ok: false, detail: 'stopping' }] } });
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('answers a failing route with a bare 500 and logs the error', async () => {
    const { server, lines } = await start({
      metrics: async () => {
        throw new Error('registry broke at /srv/stembot/core/metrics.ts');
      },
    });
    try {
      const response = await fetch(`${server.url}/metrics`);
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ error: 'internal error' });
      expect(lines()).toContainEqual(expect.objectContaining({ msg: 'web request failed', path: '/metrics', err: expect.objectContaining({ message: 'registry broke at /srv/stembot/core/metrics.ts' }) }));
    } finally {
      await server.close();
    }
  });

  it('closes once, however often close() is called, and stops listening', async () => {
    const { server, lines } = await start();
    await Promise.all([server.close(), server.close()]);
    await server.close();
    expect(lines().filter((line) => line.msg === 'web server closed')).toHaveLength(1);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });

  it('refuses to start with an allowed host that is not a host name', async () => {
    await expect(start({ allowedHosts: ['https://metrics.internal/'] })).rejects.toThrow(/not a host name/);
    expect(() => hostAllowList(['metrics.internal:port'])).toThrow(/not a host name/);
    expect(hostAllowList(['[fd00::1]:9100'])('[FD00::1]:9100')).toBe(true);
  });
});
