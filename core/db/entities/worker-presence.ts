import { EntitySchema } from '@mikro-orm/core';

export const WORKER_STATES = ['fetching', 'ready', 'stopping'] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

/** A model a worker is still downloading: how far it got, and why the last try failed, if it did. */
export interface ModelFetchState {
  model: string;
  /** 0..1, or undefined while the size is not known yet. */
  fraction?: number;
  error?: string;
}

/**
 * A worker process as it last announced itself: what it runs on and serves, and until when it
 * counts as alive. Each worker rewrites its row every WORKER_HEARTBEAT_SECONDS and deletes it when
 * it stops; a row past `expiresAt` is a worker that died. Times are the database's clock, so
 * workers on machines with skewed clocks still agree.
 */
export class WorkerPresence {
  /** Host name, process id and a random suffix: unique per process, readable in `stembot status`. */
  id!: string;
  host!: string;
  /** `cpu` or `cuda`; `unknown` until a model has been loaded. */
  device!: string;
  /** Models this worker has and runs jobs for. */
  models!: string[];
  fetching!: ModelFetchState[];
  concurrency!: number;
  state!: WorkerState;
  startedAt!: Date;
  heartbeatAt!: Date;
  expiresAt!: Date;
}

export const WorkerPresenceSchema = new EntitySchema<WorkerPresence>({
  class: WorkerPresence,
  tableName: 'worker',
  indexes: [{ name: 'worker_expires_at_index', properties: ['expiresAt'] }],
  properties: {
    id: { type: 'string', length: 200, primary: true },
    host: { type: 'string', length: 255 },
    device: { type: 'string', length: 16 },
    models: { type: 'json' },
    fetching: { type: 'json' },
    concurrency: { type: 'integer' },
    state: { enum: true, items: () => [...WORKER_STATES] },
    startedAt: { type: 'Date', columnType: 'timestamptz' },
    heartbeatAt: { type: 'Date', columnType: 'timestamptz' },
    expiresAt: { type: 'Date', columnType: 'timestamptz' },
  },
});
