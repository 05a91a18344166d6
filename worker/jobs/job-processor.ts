import { UnrecoverableError } from 'bullmq';
import { jobDataSchema } from '../../core/queue/jobs.js';
import type { JobProcessor } from '../../core/queue/queue-backend.js';
import { sweepRetention } from '../../core/retention.js';
import { runRenderJob } from './render-job.js';
import { runSeparateJob } from './separate-job.js';
import { toJobFailure, type WorkerDeps } from './job-context.js';

/** The worker's one BullMQ processor: validates the payload and hands it to its job kind. */
export function createJobProcessor(deps: WorkerDeps): JobProcessor {
  return async (job, _token, signal) => {
    const parsed = jobDataSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed job payload: ${parsed.error.message}`);
    const data = parsed.data;
    try {
      switch (data.kind) {
        case 'separate':
          return await runSeparateJob(deps, job, data, signal);
        case 'render':
          return await runRenderJob(deps, job, data, signal);
        case 'retention':
          return { kind: 'retention', ...(await sweepRetention(deps.em, deps.storage, deps.retentionDays, deps.logger)) };
      }
    } catch (error) {
      throw toJobFailure(error);
    }
  };
}
