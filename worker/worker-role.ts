import type { Logger } from '../core/logging.js';
import { jobsFinished, queueWait } from '../core/metrics.js';
import { parseFailure } from '../core/queue/jobs.js';
import type { QueueFactory, JobProcessor } from '../core/queue/queue-backend.js';
import type { RoleHandle } from '../core/queue/relay-role.js';

export interface WorkerRoleOptions {
  queues: QueueFactory;
  processor: JobProcessor;
  concurrency: number;
  logger: Logger;
  /** After this long, close stops waiting for running jobs; their locks lapse and another worker retries them. */
  graceMs: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

/** The job's kind for /metrics; a malformed payload (refused by the processor) counts as `separate`. */
function jobKind(data: unknown): 'separate' | 'render' | 'retention' {
  const kind = (data as { kind?: unknown } | undefined)?.kind;
  return kind === 'render' || kind === 'retention' ? kind : 'separate';
}

/** The worker role: takes jobs off the queue and runs them through the processor. */
export async function startWorkerRole(options: WorkerRoleOptions): Promise<RoleHandle> {
  const log = options.logger.child({ role: 'worker' });
  const worker = options.queues.createWorker(options.processor, {
    concurrency: options.concurrency,
    lockDurationMs: options.lockDurationMs,
    stalledIntervalMs: options.stalledIntervalMs,
  });
  worker.on('error', (error) => log.warn({ err: error.message }, 'worker connection error'));
  // How long jobs wait for a worker is what operators size their worker pool by.
  worker.on('active', (job) => {
    const waitMs = (job.processedOn ?? Date.now()) - job.timestamp;
    queueWait.observe(Math.max(0, waitMs) / 1000);
    log.info({ jobId: job.id, waitMs }, 'job picked up');
  });
  worker.on('completed', (job) => jobsFinished.inc({ kind: jobKind(job.data), outcome: 'completed' }));
  worker.on('failed', (job, error) => {
    // Counted once, when no retry follows: BullMQ reports every failed attempt.
    const final = error.name === 'UnrecoverableError' || (job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1));
    if (job && final) jobsFinished.inc({ kind: jobKind(job.data), outcome: parseFailure(error.message).code === 'cancelled' ? 'cancelled' : 'failed' });
    log.warn({ jobId: job?.id, attempt: job?.attemptsMade, err: error.message, cause: error.cause instanceof Error ? error.cause.message : undefined }, 'separation job failed');
  });
  await worker.waitUntilReady();
  log.debug({ concurrency: options.concurrency }, 'worker taking jobs');
  return {
    name: 'worker',
    async stop() {
      let timer: NodeJS.Timeout | undefined;
      const graceful = worker.close().then(() => 'closed' as const);
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), options.graceMs);
      });
      const outcome = await Promise.race([graceful, timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        log.warn('jobs still running at shutdown; leaving them for another worker');
        await worker.close(true);
      }
    },
  };
}
