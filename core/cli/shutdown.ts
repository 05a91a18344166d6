import type { Logger } from '../logging.js';

export interface ShutdownOptions {
  logger: Logger;
  /** Stops the roles and closes the connections. */
  stop: () => Promise<void>;
  /** Past this, the process exits with code 1 whether or not `stop` has finished. */
  deadlineMs: number;
}

/**
 * The process's one way down, shared by SIGTERM and a crash: `stop` runs once however many ask
 * for it, and a deadline keeps a stop that hangs from keeping a dead process around.
 */
export function createShutdown(options: ShutdownOptions): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () =>
    (stopping ??= (async () => {
      const deadline = setTimeout(() => {
        options.logger.warn('shutdown is taking too long; exiting');
        process.exit(1);
      }, options.deadlineMs);
      deadline.unref();
      await options.stop();
    })());
}

/**
 * An uncaught exception or unhandled rejection leaves the process in a state nobody planned for:
 * it is logged once at fatal, the process shuts down as on SIGTERM and exits non-zero, so a
 * supervisor restarts a clean one instead of keeping a half-dead one (a worker whose jobs hang,
 * a bot that no longer answers). `shutdown` bounds its own time (createShutdown's deadline).
 */
export function exitOnCrash(options: { logger: Logger; shutdown: () => Promise<void> }): void {
  let crashed = false;
  const onCrash = (error: unknown, origin: string): void => {
    if (crashed) {
      options.logger.error({ err: error, origin }, 'another unexpected error while shutting down');
      return;
    }
    crashed = true;
    // Set before anything else: however the process ends from here, it ends non-zero. There is no
    // process.exit once the shutdown is done: the process ends when nothing is left to do, so log
    // lines still being written reach stdout first; a handle nobody closed meets the deadline.
    process.exitCode = 1;
    options.logger.fatal({ err: error, origin }, 'unexpected error; shutting down');
    options.shutdown().catch((stopError: unknown) => options.logger.error({ err: stopError }, 'shutdown after the crash failed'));
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', (reason) => onCrash(reason, 'unhandledRejection'));
}
