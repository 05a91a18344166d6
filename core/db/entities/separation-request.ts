import { randomUUID } from 'node:crypto';
import { EntitySchema, OptionalProps } from '@mikro-orm/core';
import { z } from 'zod';
import { SAFE_NAME } from '../../storage.js';
import { Separation, type StoredFile } from './separation.js';
import { PLATFORMS, Tenant } from './tenant.js';

export const REQUEST_STATES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type RequestState = (typeof REQUEST_STATES)[number];

export const requestSourceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('youtube'), videoId: z.string().regex(/^[A-Za-z0-9_-]{11}$/), startSeconds: z.number().int().nonnegative().optional() }),
  z.object({
    kind: z.literal('attachment'),
    /** The chat platform's own file URL; the fetcher only follows its platform's file hosts. */
    platform: z.enum(PLATFORMS),
    url: z.url({ protocol: /^https?$/ }),
    filename: z.string().min(1).max(300),
    bytes: z.number().int().nonnegative(),
    /** Slack: the workspace the file lives in, whose bot token downloads it (OAuth installs). Absent on older requests. */
    teamId: z.string().regex(/^[A-Z0-9]{1,32}$/).optional(),
  }),
]);
export type RequestSource = z.infer<typeof requestSourceSchema>;

export const STEM_SETS = ['all', 'karaoke', 'single'] as const;
export const OUTPUT_FORMATS = ['mp3', 'flac', 'wav', 'opus'] as const;

export const requestOptionsSchema = z.object({
  /** all: every source; karaoke: vocals + accompaniment; single: `stem` + the rest. */
  stems: z.enum(STEM_SETS).default('all'),
  /**
   * With `single`: the stem to keep. It picks one of the separation's files, so it is a plain name
   * (the rule model stem names follow), never a path; submit refuses anything else.
   */
  stem: z.string().regex(SAFE_NAME, 'is not a stem name: pick one of the stems offered, like vocals or drums').optional(),
  format: z.enum(OUTPUT_FORMATS).default('mp3'),
  /** The platform's per-file upload limit: lossy formats pick a bitrate that fits under it. */
  maxFileBytes: z.number().int().positive().optional(),
  /** false: no preview. Absent or true: a preview while the whole track runs, where the operator allows them (PREVIEW_SECONDS). */
  preview: z.boolean().optional(),
});
export type RequestOptions = z.infer<typeof requestOptionsSchema>;

/** Where the platform shows this request: enough for an adapter to edit or answer it later. */
export const platformMessageSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));
export type PlatformMessage = z.infer<typeof platformMessageSchema>;

/** Somebody asked for stems: who, where, with which options, and how it went. */
export class SeparationRequest {
  /** Properties with defaults: optional when creating. */
  [OptionalProps]?: 'id' | 'platformMessage' | 'state' | 'chargedSeconds' | 'files' | 'requeues' | 'createdAt' | 'updatedAt';
  id: string = randomUUID();
  tenant!: Tenant;
  userId!: string;
  channelId!: string;
  platformMessage: PlatformMessage = {};
  source!: RequestSource;
  model!: string;
  options!: RequestOptions;
  state: RequestState = 'queued';
  separation?: Separation;
  /** Audio seconds reserved against the quota; 0 for cache hits. */
  chargedSeconds = 0;
  /** The rendered files this request gets (its stem set and format), once completed. */
  files: StoredFile[] = [];
  /** Times the relay put this request's render job back on the queue after finding it gone. */
  requeues = 0;
  errorCode?: string;
  errorMessage?: string;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
  finishedAt?: Date;
}

export const SeparationRequestSchema = new EntitySchema<SeparationRequest>({
  class: SeparationRequest,
  tableName: 'request',
  indexes: [
    // A user's recent requests, newest first, with cursor pagination on (created_at, id).
    { name: 'request_tenant_user_recent_index', properties: ['tenant', 'userId', 'createdAt', 'id'] },
    // A guild's jobs that are still queued or running (concurrency quota, fairness).
    { name: 'request_tenant_state_index', properties: ['tenant', 'state'] },
    { name: 'request_state_finished_at_index', properties: ['state', 'finishedAt'] },
  ],
  properties: {
    id: { type: 'uuid', primary: true },
    tenant: { kind: 'm:1', entity: () => Tenant, deleteRule: 'restrict' },
    userId: { type: 'string', length: 64 },
    channelId: { type: 'string', length: 64 },
    platformMessage: { type: 'json' },
    source: { type: 'json' },
    model: { type: 'string', length: 100 },
    options: { type: 'json' },
    state: { enum: true, items: () => [...REQUEST_STATES] },
    separation: { kind: 'm:1', entity: () => Separation, nullable: true, deleteRule: 'set null', index: 'request_separation_index' },
    chargedSeconds: { type: 'integer' },
    files: { type: 'json' },
    requeues: { type: 'integer' },
    errorCode: { type: 'string', length: 64, nullable: true },
    errorMessage: { type: 'text', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
    updatedAt: { type: 'Date', columnType: 'timestamptz', onUpdate: () => new Date() },
    finishedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
  },
});
