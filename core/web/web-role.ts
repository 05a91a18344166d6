import type { Config } from '../config.js';
import { openStemsLinks } from '../links/stems-links.js';
import type { Logger } from '../logging.js';
import { clusterMetrics, metricsRegistry, renderMetrics } from '../metrics.js';
import type { RoleHandle } from '../queue/relay-role.js';
import type { Runtime } from '../runtime.js';
import type { StembotCore } from '../stembot-core.js';
import type { WorkerDirectory } from '../workers/worker-directory.js';
import { stemsRoutes } from './stems-page/stems-routes.js';
import { startWebServer, type ReadinessCheck } from './web-server.js';

export interface WebRoleOptions {
  settings: Config['web'];
  core: StembotCore;
  runtime: Runtime;
  /** The process's other roles as they are now: each one with a readiness check is asked at /readyz. */
  roles: () => RoleHandle[];
  /** The model a request gets when it names none: /readyz wants a live worker serving it. */
  defaultModel: string;
  logger: Logger;
  /**
   * With these settings the role also serves the stems pages signed links open (/s/...), and
   * answers PUBLIC_URL's host name; without them, only health and metrics.
   */
  links?: { settings: Config['links']; retentionDays: number };
}

export interface WebRole extends RoleHandle {
  url: string;
  /** Readiness goes false before the other roles stop taking work. */
  markStopping(): void;
}

/** What /readyz says of the workers: ready when one serves the default model, else why not. */
async function workersCheck(workers: WorkerDirectory, model: string): Promise<{ ok: boolean; detail?: string }> {
  const availability = await workers.availabilityOf(model);
  switch (availability.kind) {
    case 'served':
      return { ok: true, detail: `${availability.workers} serving ${model}` };
    case 'fetching':
      if (availability.failing) return { ok: false, detail: `fetching ${model} keeps failing; see the worker's log` };
      return { ok: false, detail: `fetching ${model}${availability.fraction === undefined ? '' : ` ${Math.floor(availability.fraction * 100)}%`}` };
    case 'none':
      return { ok: false, detail: `no live worker serves ${model}` };
  }
}

/** The host name of PUBLIC_URL, which a reverse proxy may pass on as the Host header: any port. */
function publicHost(publicUrl: string | undefined): string[] {
  return publicUrl === undefined ? [] : [new URL(publicUrl).hostname];
}

/** The web role: /healthz, /readyz and /metrics for this process and the deployment behind it, and the stems pages. */
export async function startWebRole(options: WebRoleOptions): Promise<WebRole> {
  const { core, runtime } = options;
  const checks: ReadinessCheck[] = [
    {
      name: 'database',
      run: async () => {
        await runtime.orm.em.fork().execute('select 1');
        return { ok: true };
      },
    },
    {
      name: 'queue',
      run: async () => {
        await core.jobCounts();
        return { ok: true, detail: runtime.queues.connection.kind };
      },
    },
    { name: 'workers', run: () => workersCheck(core.workers, options.defaultModel) },
  ];
  const cluster = clusterMetrics({
    jobCounts: () => core.jobCounts(),
    outboxBacklog: () => core.outbox.backlog(),
    workers: async () => {
      const counts: Record<string, number> = { fetching: 0, ready: 0, stopping: 0 };
      for (const worker of await core.workers.live()) counts[worker.state] = (counts[worker.state] ?? 0) + 1;
      return counts;
    },
  });
  const links = options.links;
  const routes = links
    ? stemsRoutes({
        links: await openStemsLinks(runtime.orm.em, { links: links.settings, web: options.settings, retentionDays: links.retentionDays }),
        em: runtime.orm.em,
        storage: core.storage,
        logger: options.logger.child({ role: 'web', component: 'stems-page' }),
      })
    : undefined;
  const server = await startWebServer({
    host: options.settings.host,
    port: options.settings.port,
    allowedHosts: [...options.settings.allowedHosts, ...publicHost(links?.settings.publicUrl)],
    logger: options.logger.child({ role: 'web' }),
    routes,
    readiness: () => [
      ...checks,
      ...options.roles().flatMap((role) => {
        const readiness = role.readiness;
        return readiness ? [{ name: role.name, run: readiness }] : [];
      }),
    ],
    metrics: () => renderMetrics([metricsRegistry, cluster]),
  });
  return {
    name: 'web',
    url: server.url,
    markStopping: () => server.markStopping(),
    stop: () => server.close(),
  };
}
