import type { Command } from 'commander';
import type { Config } from '../config.js';
import type { Logger } from '../logging.js';

/**
 * `stembot status`: live workers (device, models, state), the queue, and the last hour's median
 * wait and separation time, read from the database and queue the settings name. With the embedded
 * database it reads through the stembot process that serves DATA_DIR, when one runs.
 */
export function registerStatusCommand(program: Command, getDeps: () => { config: Config; logger: Logger; stdout?: NodeJS.WritableStream }): void {
  program
    .command('status')
    .description('show live workers, the queue, and the last hour’s waits')
    .option('--json', 'print the status as JSON')
    .action(async (options: { json?: boolean }) => {
      const { config, logger, stdout = process.stdout } = getDeps();
      // Loaded here, not with the command line: the database and queue clients take a second or
      // more to load, which every other command would pay.
      const [{ openRuntime }, { JobProducer }, { readClusterStatus }, { statusReport }, { WorkerDirectory }] = await Promise.all([
        import('../runtime.js'),
        import('../queue/job-producer.js'),
        import('../workers/cluster-status.js'),
        import('../workers/status-report.js'),
        import('../workers/worker-directory.js'),
      ]);
      const runtime = await openRuntime(config, logger, { migrate: true, shareEmbedded: true });
      const producer = new JobProducer(runtime.queues.createQueue(), config.worker.retryDelaySeconds * 1000);
      try {
        const status = await readClusterStatus({ em: runtime.orm.em, producer, workers: new WorkerDirectory(runtime.orm.em) });
        if (options.json) {
          stdout.write(`${JSON.stringify(status, null, 2)}\n`);
          return;
        }
        const report = statusReport(status);
        const lines = [report.headline, ...report.figures, ...(report.workers.length > 0 ? ['Workers:', ...report.workers.map((line) => `  ${line}`)] : [])];
        stdout.write(`${lines.join('\n')}\n`);
      } finally {
        await producer.close();
        await runtime.close();
      }
    });
}
