import type { ClusterStatus } from '../../core/workers/cluster-status.js';
import type { LiveWorker } from '../../core/workers/worker-directory.js';

/** A live, ready worker whose id (and host) is `id`: what the status renderers list. */
export function workerNamed(id: string, change: Partial<LiveWorker> = {}): LiveWorker {
  return {
    id,
    host: id,
    device: 'cpu',
    models: ['htdemucs'],
    fetching: [],
    concurrency: 1,
    state: 'ready',
    startedAt: new Date('2026-11-28T11:59:00Z'),
    heartbeatAt: new Date('2026-11-28T11:59:57Z'),
    heartbeatAgeSeconds: 3,
    ...change,
  };
}

/** A status with these workers; the figures are for the renderers to show, not to add up. */
export function clusterWith(workers: LiveWorker[], change: Partial<ClusterStatus> = {}): ClusterStatus {
  return {
    workers,
    jobs: { waiting: 2, prioritized: 0, delayed: 0, active: 1, completed: 5, failed: 0 },
    queueDepth: 2,
    running: 1,
    lastHour: { started: 3, medianWaitSeconds: 1.5, finished: 2, medianSeparationSeconds: 42 },
    ...change,
  };
}
