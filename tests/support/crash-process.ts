/**
 * A process with `stembot start`'s crash handling that then fails as asked: `crash-process.ts MODE`.
 * - throw: an exception thrown from a timer
 * - reject: a promise rejected with nobody listening
 * - twice: a crash whose shutdown fails again
 * - hang: a crash whose shutdown never finishes
 * Logs JSON lines to stdout; the shutdown logs "test shutdown ran".
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createShutdown, exitOnCrash } from '../../core/cli/shutdown.js';
import { createLogger } from '../../core/logging.js';

const mode = process.argv[2];
const logger = createLogger({ level: 'info', pretty: false });
// Stands for a server's sockets: it keeps the process alive until the shutdown closes it.
const server = setInterval(() => undefined, 60_000);
const shutdown = createShutdown({
  logger,
  deadlineMs: 300,
  async stop() {
    logger.info('test shutdown ran');
    if (mode === 'twice') {
      void Promise.reject(new Error('boom again while stopping'));
      await sleep(50);
    }
    if (mode === 'hang') await new Promise(() => undefined);
    clearInterval(server);
  },
});
exitOnCrash({ logger, shutdown });
setTimeout(() => {
  if (mode === 'reject') void Promise.reject(new Error('boom from a promise'));
  else throw new Error('boom from a timer');
}, 10);
