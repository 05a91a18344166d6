import { randomUUID } from 'node:crypto';
import { EntitySchema, OptionalProps } from '@mikro-orm/core';

export const SEPARATION_STATES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type SeparationState = (typeof SEPARATION_STATES)[number];

/** One stored file: a master stem, or a rendered file a request gets. */
export interface StoredFile {
  name: string;
  storageKey: string;
  bytes: number;
}

/** A short excerpt's stems, separated first and posted while the whole track runs. */
export interface StoredPreview {
  stems: StoredFile[];
  /** Where the excerpt lies in the track. */
  startSeconds: number;
  durationSeconds: number;
}

/**
 * A source (YouTube video or uploaded file, by content) run through one model. Requests point at
 * it; it is the unit that is cached and deduplicated, so the engine runs once per source + model.
 */
export class Separation {
  /** Properties with defaults: optional when creating. */
  [OptionalProps]?: 'id' | 'state' | 'stems' | 'attempts' | 'requeues' | 'createdAt';
  id: string = randomUUID();
  /** `youtube:<videoId>` or `file:<sha256>`: identity of the audio, not of who asked. */
  sourceKey!: string;
  model!: string;
  state: SeparationState = 'queued';
  title?: string;
  durationSeconds?: number;
  /** Master stems: the engine's output before per-request stem sets and formats. */
  stems: StoredFile[] = [];
  /** The preview's stems, once the worker stored them (absent when none was asked for or made). */
  preview?: StoredPreview;
  errorCode?: string;
  errorMessage?: string;
  attempts = 0;
  /** Times the relay put the job back on the queue after finding it gone (lost with Redis' data). */
  requeues = 0;
  createdAt: Date = new Date();
  startedAt?: Date;
  /** The last sign of life from the job working on it (taken up, progress): what tells a dead one. */
  heartbeatAt?: Date;
  finishedAt?: Date;
}

export const SeparationSchema = new EntitySchema<Separation>({
  class: Separation,
  tableName: 'separation',
  indexes: [
    // Cache lookup and in-flight dedupe: at most one live (queued, running or finished) separation
    // per source and model, so a racing second submit attaches instead of running the engine again.
    {
      name: 'separation_live_source_model_unique',
      expression:
        "create unique index separation_live_source_model_unique on separation (source_key, model) where state in ('queued', 'running', 'completed')",
    },
    { name: 'separation_state_finished_at_index', properties: ['state', 'finishedAt'] },
  ],
  properties: {
    id: { type: 'uuid', primary: true },
    sourceKey: { type: 'string', length: 200 },
    model: { type: 'string', length: 100 },
    state: { enum: true, items: () => [...SEPARATION_STATES] },
    title: { type: 'string', length: 500, nullable: true },
    durationSeconds: { type: 'double', nullable: true },
    stems: { type: 'json' },
    preview: { type: 'json', nullable: true },
    errorCode: { type: 'string', length: 64, nullable: true },
    errorMessage: { type: 'text', nullable: true },
    attempts: { type: 'integer' },
    requeues: { type: 'integer' },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
    startedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    heartbeatAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    finishedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
  },
});
