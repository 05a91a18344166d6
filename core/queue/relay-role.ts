import type { Logger } from '../logging.js';
import type { Runtime } from '../runtime.js';
import { QueueEventsRelay, type SeparationEvent } from './queue-events-relay.js';

export interface RoleHandle {
  name: string;
  stop(): Promise<void>;
}

/** The relay role: one QueueEvents reader per process turning queue events into core events. */
export async function startRelayRole(runtime: Runtime, logger: Logger, listeners: ((event: SeparationEvent) => void | Promise<void>)[] = []): Promise<RoleHandle & { relay: QueueEventsRelay }> {
  const log = logger.child({ role: 'relay' });
  const relay = new QueueEventsRelay(runtime.queues.createQueueEvents(), log);
  relay.subscribe((event) => {
    if (event.type === 'completed' || event.type === 'failed') log.info({ separationId: event.separationId, event: event.type }, 'separation job finished');
    else log.debug({ separationId: event.separationId, event: event.type }, 'separation job event');
  });
  for (const listener of listeners) relay.subscribe(listener);
  await relay.waitUntilReady();
  return { name: 'relay', relay, stop: () => relay.close() };
}
