import type { JobsOptions } from 'bullmq';
import { SEPARATE_JOB, separateJobDataSchema, type SeparateJobData } from './separate-job.js';
import type { SeparationQueue } from './queue-backend.js';

/**
 * Defaults for every separate job. Transient failures (a download hiccup, a worker killed
 * mid-job) get two more tries, 10 s then 20 s later; finished jobs are trimmed because the
 * database, not the queue, is the record of what happened.
 */
export const SEPARATE_JOB_DEFAULTS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 10_000 },
  removeOnComplete: { age: 24 * 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
};

export class SeparationProducer {
  constructor(private readonly queue: SeparationQueue) {}

  /**
   * Validates and enqueues; the separation id is the job id, so enqueueing the same separation
   * twice leaves one job. `priority` follows BullMQ: 1 is served first, larger numbers later.
   */
  async enqueue(data: SeparateJobData, options: { priority?: number } = {}): Promise<string> {
    const payload = separateJobDataSchema.parse(data);
    const job = await this.queue.add(SEPARATE_JOB, payload, { ...SEPARATE_JOB_DEFAULTS, jobId: payload.separationId, priority: options.priority });
    return job.id ?? payload.separationId;
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
