import type { ClusterStatus } from './cluster-status.js';
import type { LiveWorker } from './worker-directory.js';

/** The status as plain text lines, markup-free: the CLI prints them, chat adapters wrap them. */
export interface StatusReport {
  /** One line: how many workers, how busy. */
  headline: string;
  /** Queue, running and last-hour figures, a line each. */
  figures: string[];
  /** One line per live worker. */
  workers: string[];
}

export function formatSeconds(seconds: number | undefined): string {
  if (seconds === undefined) return '–';
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function describeWorker(worker: LiveWorker): string {
  const age = Math.round(worker.heartbeatAgeSeconds);
  const fetching = worker.fetching.map((fetch) => `${fetch.model}${fetch.fraction === undefined ? '' : ` ${Math.floor(fetch.fraction * 100)}%`}${fetch.error ? ' (failing)' : ''}`);
  const what = worker.state === 'fetching' ? `fetching ${fetching.join(', ') || 'models'}` : worker.state;
  const models = worker.models.length > 0 ? worker.models.join(', ') : 'no models';
  return `${worker.id}  ${worker.device}  ${what}  ${models}  ×${worker.concurrency}  seen ${age} s ago`;
}

export function statusReport(status: ClusterStatus): StatusReport {
  const ready = status.workers.filter((worker) => worker.state === 'ready').length;
  const headline =
    status.workers.length === 0
      ? 'No workers are alive: nothing will be separated until one starts.'
      : `${status.workers.length} worker${status.workers.length === 1 ? '' : 's'} alive (${ready} ready), ${status.running} separation${status.running === 1 ? '' : 's'} running, ${status.queueDepth} job${status.queueDepth === 1 ? '' : 's'} waiting.`;
  const { lastHour } = status;
  return {
    headline,
    figures: [
      `Queue: ${status.queueDepth} waiting, ${status.jobs.active} active`,
      `Last hour: ${lastHour.started} started, median wait ${formatSeconds(lastHour.medianWaitSeconds)}; ${lastHour.finished} finished, median separation ${formatSeconds(lastHour.medianSeparationSeconds)}`,
    ],
    workers: status.workers.map(describeWorker),
  };
}
