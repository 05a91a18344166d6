import { EntitySchema, OptionalProps } from '@mikro-orm/core';

/**
 * How far the relay has recorded a queue's event stream: the id of the last event it handled, so a
 * relay that restarts resumes there instead of at "now" and misses nothing that happened meanwhile.
 */
export class RelayCursor {
  /** Properties with defaults: optional when creating. */
  [OptionalProps]?: 'updatedAt';
  /** The queue's namespace (Redis key prefix or PostgreSQL schema) and backend, e.g. `redis:stembot`. */
  queue!: string;
  /** A Redis stream id (`1764330000000-0`) or a PostgreSQL event id, as BullMQ's QueueEvents reports it. */
  lastEventId!: string;
  updatedAt: Date = new Date();
}

export const RelayCursorSchema = new EntitySchema<RelayCursor>({
  class: RelayCursor,
  tableName: 'relay_cursor',
  properties: {
    queue: { type: 'string', length: 100, primary: true },
    lastEventId: { type: 'string', length: 64 },
    updatedAt: { type: 'Date', columnType: 'timestamptz' },
  },
});
