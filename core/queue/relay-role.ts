import type { Logger } from '../logging.js';
import type { Runtime } from '../runtime.js';
import { QueueEventsRelay, type QueueEventListener } from './queue-events-relay.js';

export interface RoleHandle {
  name: string;
  stop(): Promise<void>;
}

/** The relay role: one QueueEvents reader per process turning queue events into core events for its listeners. */
export async function startRelayRole(runtime: Runtime, logger: Logger, listeners: QueueEventListener[] = []): Promise<RoleHandle & { relay: QueueEventsRelay }> {
  const log = logger.child({ role: 'relay' });
  const relay = new QueueEventsRelay(runtime.queues.createQueueEvents(), log);
  relay.subscribe((event) => {
    if (event.type === 'completed' || event.type === 'failed') log.info({ job: event.job, event: event.type }, 'job finished');
    else log.debug({ job: event.job, event: event.type }, 'job event');
  });
  for (const listener of listeners) relay.subscribe(listener);
  await relay.waitUntilReady();
  return { name: 'relay', relay, stop: () => relay.close() };
}
