import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fastify, type FastifyError, type FastifyPluginAsync } from 'fastify';
import type { Logger } from '../logging.js';
import { hostAllowList } from './allowed-hosts.js';

/**
 * The web role's HTTP server: liveness (/healthz), readiness (/readyz) and Prometheus metrics
 * (/metrics), plus whatever `routes` the role mounts (the stems pages). It listens on loopback by
 * default and answers only GETs, sends no CORS headers (no other site may read what it serves),
 * and refuses unknown Host headers.
 */

export interface ReadinessCheck {
  /** Shown in the /readyz body; a fixed word such as `database` or `queue`, never user data. */
  name: string;
  run(): Promise<{ ok: boolean; detail?: string }>;
}

export interface WebServerOptions {
  /** Address to listen on; the config's default is 127.0.0.1. */
  host: string;
  /** 0 picks any free port (see WebServer.port). */
  port: number;
  /** Host header names besides localhost, 127.0.0.1 and [::1]: `name` (any port) or `name:port`. */
  allowedHosts: string[];
  /** Called for every /readyz request, since the set of checks can change while running. */
  readiness: () => ReadinessCheck[];
  metrics: () => Promise<{ contentType: string; body: string }>;
  logger: Logger;
  /** How long one readiness check may take before it counts as failed; default 2000. */
  checkTimeoutMs?: number;
  /**
   * More GET routes, as a fastify plugin: they get the Host allow-list and the error handling of
   * the others. A response that sets its own Cache-Control keeps it; any other is `no-store`.
   */
  routes?: FastifyPluginAsync;
}

export interface WebServer {
  url: string;
  port: number;
  /** Readiness turns false from now on, so a load balancer stops sending work before the process stops. */
  markStopping(): void;
  /** Stops listening; safe to call more than once. */
  close(): Promise<void>;
}

interface CheckOutcome {
  name: string;
  ok: boolean;
  detail?: string;
}

/** Long enough for a slow client on a busy host, short enough that slow-loris sockets don't pile up. */
const REQUEST_TIMEOUT_MS = 5_000;
/** The routes take no body; this only bounds what a client may make us read. */
const BODY_LIMIT_BYTES = 1_024;
/** Path parameters may be this long: a signed link's token is about 140 characters. */
const MAX_PARAM_CHARS = 512;
/** Keeps an error message in the /readyz body to a glance. */
const DETAIL_MAX_CHARS = 200;

const STOPPING: CheckOutcome = { name: 'shutdown', ok: false, detail: 'stopping' };

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const checkTimeoutMs = options.checkTimeoutMs ?? 2_000;
  const isAllowedHost = hostAllowList(options.allowedHosts);
  const log = options.logger.child({ role: 'web' });
  let stopping = false;

  const app = fastify({
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    // Every response must be able to finish within it, so a readiness check that runs its full timeout still answers.
    requestTimeout: Math.max(REQUEST_TIMEOUT_MS, checkTimeoutMs + 1_000),
    // Node would answer a missing Host with its own 400; the allow-list answers it like any other bad Host.
    http: { requireHostHeader: false },
    routerOptions: { maxParamLength: MAX_PARAM_CHARS },
  });

  app.addHook('onRequest', async (request, reply) => {
    if (isAllowedHost(request.headers.host)) return;
    return reply.code(421).type('text/plain; charset=utf-8').send('Misdirected Request: unknown Host header');
  });
  app.addHook('onSend', async (_request, reply) => {
    // Health and metrics are live readings: a cache must not serve an old one.
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    void reply.header('x-content-type-options', 'nosniff');
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const checks = stopping ? [STOPPING] : await Promise.all(options.readiness().map((check) => runCheck(check, checkTimeoutMs)));
    const ready = checks.every((check) => check.ok);
    return reply.code(ready ? 200 : 503).send({ ready, checks });
  });
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await options.metrics();
    return reply.type(contentType).send(body);
  });
  if (options.routes) await app.register(options.routes);

  // Fastify's default 404 body echoes the method and path back; ours says nothing about the request.
  app.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ error: 'not found' }));
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) log.error({ err: error, path: request.routeOptions.url }, 'web request failed');
    return reply.code(status).send({ error: status === 500 ? 'internal error' : 'bad request' });
  });

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  log.info({ url }, 'web server listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    markStopping() {
      stopping = true;
    },
    close() {
      closing ??= app.close().then(() => log.info({ url }, 'web server closed'));
      return closing;
    },
  };
}

/** One check under the timeout; a check that throws or hangs is a failed check, not a failed request. */
async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<CheckOutcome> {
  const timer = new AbortController();
  const timedOut = { ok: false, detail: `timed out after ${timeoutMs / 1000} s` };
  try {
    // run() first: should it throw at once, no timer has started to be left unhandled.
    const result = await Promise.race([check.run(), sleep(timeoutMs, timedOut, { signal: timer.signal })]);
    const outcome: CheckOutcome = { name: check.name, ok: result.ok === true };
    if (result.detail !== undefined) outcome.detail = shorten(String(result.detail));
    return outcome;
  } catch (error) {
    return { name: check.name, ok: false, detail: shorten(error instanceof Error ? error.message || error.name : String(error)) };
  } finally {
    timer.abort();
  }
}

/**
 * One line of at most DETAIL_MAX_CHARS, with any password in a connection URL hidden: driver
 * errors quote the URL they failed on, and /readyz is readable by whoever reaches the port.
 */
function shorten(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim().replace(/(\b[a-z][a-z\d+.-]*:\/\/[^\s:@/]*:)[^\s@/]*@/gi, '$1***@');
  return line.length > DETAIL_MAX_CHARS ? `${line.slice(0, DETAIL_MAX_CHARS - 1)}…` : line;
}
