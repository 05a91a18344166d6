import { z } from 'zod';
import { toErrorCode, type ErrorCode } from '../errors.js';
import type { StoredFile, StoredPreview } from '../db/entities/separation.js';
import { requestOptionsSchema, requestSourceSchema } from '../db/entities/separation-request.js';

/** The one BullMQ queue stembot uses; jobs on it are told apart by `data.kind` (also the job name). */
export const STEMBOT_QUEUE = 'stembot';

/** Run a source through a model and store the master stems: once per separation. */
export const separateJobDataSchema = z.object({
  kind: z.literal('separate'),
  separationId: z.uuid(),
  source: requestSourceSchema,
  model: z.string().min(1),
  /** Separate this excerpt first and report it (progress with `preview`) before the whole track; absent: no preview. */
  preview: z.object({ seconds: z.number().positive(), startSeconds: z.number().nonnegative().optional() }).optional(),
});

/** Turn a separation's masters into what one request asked for (stem set, format): cached per (set, format). */
export const renderJobDataSchema = z.object({
  kind: z.literal('render'),
  requestId: z.uuid(),
  separationId: z.uuid(),
  options: requestOptionsSchema,
});

/** Delete stored files and finished rows past the retention period (a job scheduler adds these). */
export const retentionJobDataSchema = z.object({ kind: z.literal('retention') });

export const jobDataSchema = z.discriminatedUnion('kind', [separateJobDataSchema, renderJobDataSchema, retentionJobDataSchema]);
export type JobData = z.infer<typeof jobDataSchema>;
export type SeparateJobData = z.infer<typeof separateJobDataSchema>;
export type RenderJobData = z.infer<typeof renderJobDataSchema>;

export const JOB_STAGES = ['downloading', 'previewing', 'separating', 'encoding', 'storing', 'rendering'] as const;
export type JobStage = (typeof JOB_STAGES)[number];

export const storedFileSchema = z.object({ name: z.string(), storageKey: z.string(), bytes: z.number().int().nonnegative() }) satisfies z.ZodType<StoredFile>;

export const storedPreviewSchema = z.object({ stems: z.array(storedFileSchema), startSeconds: z.number().nonnegative(), durationSeconds: z.number().nonnegative() }) satisfies z.ZodType<StoredPreview>;

export const jobProgressSchema = z.object({
  stage: z.enum(JOB_STAGES),
  /** Share of this job done, 0..1. */
  fraction: z.number().min(0).max(1),
  etaSeconds: z.number().nonnegative().optional(),
  /** Sent once, when the preview's stems are stored: core posts them to the requests that want one. */
  preview: storedPreviewSchema.optional(),
});
export type JobProgress = z.infer<typeof jobProgressSchema>;

export const jobResultSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('separate'), durationSeconds: z.number().nonnegative(), stems: z.array(storedFileSchema) }),
  z.object({ kind: z.literal('render'), files: z.array(storedFileSchema) }),
  z.object({ kind: z.literal('retention'), separations: z.number().int(), requests: z.number().int() }),
]);
export type JobResult = z.infer<typeof jobResultSchema>;

/** Which row a job works for, read back from its id (QueueEvents carry ids, not payloads). */
export type JobRef = { kind: 'separate'; separationId: string } | { kind: 'render'; requestId: string };

export function jobIdOf(ref: JobRef): string {
  return ref.kind === 'separate' ? `separate-${ref.separationId}` : `render-${ref.requestId}`;
}

const JOB_ID = /^(separate|render)-([0-9a-f-]{36})$/;

export function parseJobId(jobId: string): JobRef | undefined {
  const match = JOB_ID.exec(jobId);
  if (!match) return undefined;
  return match[1] === 'separate' ? { kind: 'separate', separationId: match[2] as string } : { kind: 'render', requestId: match[2] as string };
}

/**
 * A failure's reason travels through BullMQ as text; a user-facing one is written `[code] message`
 * so the relay can hand adapters the code and the chat-worded message separately.
 */
export function formatFailure(code: ErrorCode, message: string): string {
  return `[${code}] ${message}`;
}

export function parseFailure(reason: string): { code: ErrorCode; message: string } {
  const match = /^\[([a-z_]+)\] (.*)$/s.exec(reason);
  return match ? { code: toErrorCode(match[1] as string), message: match[2] as string } : { code: 'internal', message: reason };
}
