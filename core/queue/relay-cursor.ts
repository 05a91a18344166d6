import type { EntityManager } from '@mikro-orm/postgresql';
import { RelayCursor } from '../db/entities/index.js';
import type { QueueConnection } from './queue-backend.js';
import type { EventCursor } from './queue-events-relay.js';

/** The relay's place in one queue's event stream, kept in the database it records into. */
export class RelayCursorStore implements EventCursor {
  constructor(
    private readonly em: EntityManager,
    /** Which stream: the queue backend and namespace, e.g. `redis:stembot`. */
    readonly queue: string,
  ) {}

  static for(em: EntityManager, connection: QueueConnection): RelayCursorStore {
    return new RelayCursorStore(em, `${connection.kind}:${connection.kind === 'redis' ? connection.prefix : connection.schema}`);
  }

  /** The last event recorded, or undefined when this stream was never read. */
  async load(): Promise<string | undefined> {
    return (await this.em.fork().findOne(RelayCursor, { queue: this.queue }))?.lastEventId;
  }

  async save(eventId: string): Promise<void> {
    await this.em.fork().upsert(RelayCursor, { queue: this.queue, lastEventId: eventId, updatedAt: new Date() });
  }
}
