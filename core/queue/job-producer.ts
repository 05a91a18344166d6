import type { JobsOptions } from 'bullmq';
import { jobIdOf, renderJobDataSchema, separateJobDataSchema, type RenderJobData, type SeparateJobData } from './jobs.js';
import type { StembotQueue } from './queue-backend.js';

/**
 * Options for work jobs. Transient failures (a download hiccup, a worker killed mid-job) get two
 * more tries, `retryDelayMs` then twice that later; finished jobs are trimmed because the
 * database, not the queue, is the record of what happened.
 */
export function jobDefaults(retryDelayMs: number): JobsOptions {
  return {
    attempts: 3,
    backoff: { type: 'exponential', delay: retryDelayMs },
    removeOnComplete: { age: 24 * 3600, count: 1000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
  };
}

/** A job as BullMQ has it: gone, finished either way, being worked on, or waiting its turn (waiting, delayed, prioritized). */
export type JobStanding = { state: 'missing' } | { state: 'completed'; returnvalue: unknown } | { state: 'failed'; reason: string } | { state: 'active' } | { state: 'waiting' };

/** BullMQ's job states; `waiting`, `prioritized` and `delayed` jobs are the ones no worker has yet. */
export const JOB_COUNT_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'] as const;
export type JobCountState = (typeof JOB_COUNT_STATES)[number];

/** Validates payloads against the shared schemas and enqueues them under ids derived from their rows. */
export class JobProducer {
  private readonly defaults: JobsOptions;

  constructor(
    private readonly queue: StembotQueue,
    retryDelayMs: number,
  ) {
    this.defaults = jobDefaults(retryDelayMs);
  }

  /**
   * `priority` follows BullMQ: 1 is served first, larger numbers later. The job id comes from
   * the separation, so enqueueing the same separation twice leaves one job.
   */
  async enqueueSeparation(data: Omit<SeparateJobData, 'kind'>, options: { priority?: number } = {}): Promise<string> {
    const payload = separateJobDataSchema.parse({ ...data, kind: 'separate' });
    return this.add(payload, options.priority);
  }

  async enqueueRender(data: Omit<RenderJobData, 'kind'>, options: { priority?: number } = {}): Promise<string> {
    const payload = renderJobDataSchema.parse({ ...data, kind: 'render' });
    return this.add(payload, options.priority);
  }

  /** How many jobs are in each of BullMQ's states: what /metrics and `stembot status` show of the queue. */
  async jobCounts(): Promise<Record<JobCountState, number>> {
    return (await this.queue.getJobCounts(...JOB_COUNT_STATES)) as Record<JobCountState, number>;
  }

  /** Removes a job that no worker has taken yet; returns false when it is running (or gone). */
  async removeIfWaiting(jobId: string): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (!job) return false;
    const state = await job.getState();
    if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') return false;
    await job.remove().catch(() => undefined);
    return true;
  }

  /** Where a job stands in the queue, read from BullMQ itself (the relay's events may have been missed). */
  async inspect(jobId: string): Promise<JobStanding> {
    const job = await this.queue.getJob(jobId);
    if (!job) return { state: 'missing' };
    const state = await job.getState();
    if (state === 'completed') return { state, returnvalue: job.returnvalue };
    if (state === 'failed') return { state, reason: job.failedReason };
    if (state === 'active') return { state };
    return state === 'unknown' ? { state: 'missing' } : { state: 'waiting' };
  }

  /** Removes a job in any state but active-with-a-live-lock; false when BullMQ refuses. */
  async remove(jobId: string): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (!job) return true;
    return job.remove().then(
      () => true,
      () => false,
    );
  }

  /** Keeps one retention job scheduler on the queue (idempotent: every process may call it). */
  async scheduleRetention(everyMs: number): Promise<void> {
    await this.queue.upsertJobScheduler('retention', { every: everyMs }, { name: 'retention', data: { kind: 'retention' }, opts: { removeOnComplete: 10, removeOnFail: 10 } });
  }

  async close(): Promise<void> {
    await this.queue.close();
  }

  private async add(payload: SeparateJobData | RenderJobData, priority: number | undefined): Promise<string> {
    const jobId = jobIdOf(payload);
    const job = await this.queue.add(payload.kind, payload, { ...this.defaults, jobId, ...(priority ? { priority } : {}) });
    return job.id ?? jobId;
  }
}
