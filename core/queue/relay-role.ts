import type { Logger } from '../logging.js';
import type { Runtime } from '../runtime.js';
import type { Reconciler } from '../separations/reconciler.js';
import { QueueEventsRelay, type QueueEventListener } from './queue-events-relay.js';
import { RelayCursorStore } from './relay-cursor.js';

/** The oldest position of a stream, in both backends' id formats (Redis `0-0`, PostgreSQL's ids count from 1). */
const FROM_THE_START = '0';

export interface RoleHandle {
  name: string;
  stop(): Promise<void>;
  /** For /readyz: whether the role can do its work now (a chat platform connected, say). */
  readiness?: () => Promise<{ ok: boolean; detail?: string }>;
}

export interface RelayRoleOptions {
  listeners?: QueueEventListener[];
  /** Settles rows the events left live: once at start, then every `reconciler.everyMs`. */
  reconciler?: Reconciler;
}

/**
 * The relay role: one QueueEvents reader per process turning queue events into core events for its
 * listeners. It resumes the stream where the last relay on this database stopped, so events that
 * happened while no relay ran are recorded when one starts.
 */
export async function startRelayRole(runtime: Runtime, logger: Logger, options: RelayRoleOptions = {}): Promise<RoleHandle & { relay: QueueEventsRelay }> {
  const log = logger.child({ role: 'relay' });
  const cursor = RelayCursorStore.for(runtime.orm.em, runtime.queues.connection);
  // A relay that never ran on this database reads everything the stream still keeps: one that died
  // before it first saved its place must not lose what happened since. Replays change nothing.
  const resumeFrom = (await cursor.load()) ?? FROM_THE_START;
  const relay = new QueueEventsRelay(runtime.queues.createQueueEvents(resumeFrom), log, { cursor });
  relay.subscribe((event) => {
    if (event.type === 'completed' || event.type === 'failed') log.info({ job: event.job, event: event.type }, 'job finished');
    else log.debug({ job: event.job, event: event.type }, 'job event');
  });
  for (const listener of options.listeners ?? []) relay.subscribe(listener);
  await relay.waitUntilReady();
  log.info({ resumeFrom }, 'relay reading queue events');
  const reconciling = options.reconciler ? reconcileEvery(relay, options.reconciler, log) : undefined;
  return {
    name: 'relay',
    relay,
    async stop() {
      await reconciling?.stop();
      await relay.close();
    },
  };
}

/** Runs reconciler passes between events, now and then periodically; a failed pass waits for the next. */
function reconcileEvery(relay: QueueEventsRelay, reconciler: Reconciler, log: Logger): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  const watchingSince = new Date();
  const pass = () => {
    if (running) return;
    running = relay
      .exclusive(() => reconciler.reconcile({ watchingSince }))
      .catch((error: unknown) => log.warn({ err: error }, 'reconcile pass failed; trying again later'))
      .finally(() => {
        running = undefined;
      });
  };
  pass();
  const timer = setInterval(pass, reconciler.everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
