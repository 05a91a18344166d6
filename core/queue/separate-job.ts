import { z } from 'zod';
import { requestSourceSchema } from '../db/entities/separation-request.js';

/** The BullMQ queue every separation job goes through, and the one job name on it. */
export const SEPARATION_QUEUE = 'separations';
export const SEPARATE_JOB = 'separate';

/** What the producer puts on the queue and the worker reads back: one schema for both sides. */
export const separateJobDataSchema = z.object({
  /** The separation row this job fills in; also the BullMQ job id, so a double enqueue is a no-op. */
  separationId: z.uuid(),
  source: requestSourceSchema,
  model: z.string().min(1),
});
export type SeparateJobData = z.infer<typeof separateJobDataSchema>;

export const JOB_STAGES = ['downloading', 'decoding', 'separating', 'encoding', 'storing'] as const;

export const separateJobProgressSchema = z.object({
  stage: z.enum(JOB_STAGES),
  /** Share of the whole job done, 0..1. */
  fraction: z.number().min(0).max(1),
  etaSeconds: z.number().nonnegative().optional(),
});
export type SeparateJobProgress = z.infer<typeof separateJobProgressSchema>;

export const separateJobResultSchema = z.object({
  durationSeconds: z.number().nonnegative(),
  stems: z.array(z.object({ stem: z.string(), storageKey: z.string(), bytes: z.number().int().nonnegative() })),
});
export type SeparateJobResult = z.infer<typeof separateJobResultSchema>;
