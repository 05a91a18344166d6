import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStembot } from '../../support/cli.js';
import { prepareSite, startStembot, type StembotProcess, type StembotSite } from '../../support/stembot-process.js';

interface StatusJson {
  workers: { id: string; device: string; models: string[]; state: string; concurrency: number }[];
  queueDepth: number;
  running: number;
  lastHour: { started: number; finished: number };
}

describe('stembot status', () => {
  let site: StembotSite;
  const workers: StembotProcess[] = [];

  beforeAll(async () => {
    site = await prepareSite('postgres');
    for (let i = 0; i < 2; i += 1) workers.push(await startStembot(site, { WORKER_HEARTBEAT_SECONDS: '1', WORKER_CONCURRENCY: String(i + 1) }, 'worker'));
  });
  afterAll(async () => {
    for (const worker of workers) await worker.stop();
    await site?.remove();
  });

  const status = async (...args: string[]): Promise<string> => {
    const run = runStembot(['status', ...args], { cwd: site.dir, env: site.env });
    expect((await run.exited).code, run.stderr()).toBe(0);
    return run.stdout();
  };
  const workerIds = async () => ((JSON.parse(await status('--json')) as StatusJson).workers.map((worker) => worker.id)).sort();
  const idOf = (worker: StembotProcess) => worker.logs().find((line) => line.msg === 'worker ready')?.worker as string;

  it('lists live workers with their device, models, state and concurrency, and the queue', async () => {
    const text = await status();
    expect(text).toMatch(/^2 workers alive \(2 ready\), 0 separations running, \d+ jobs? waiting\.$/m);
    expect(text).toMatch(/^Last hour: 0 started, median wait –; 0 finished, median separation –$/m);
    for (const [index, worker] of workers.entries()) expect(text).toContain(`${idOf(worker)}  cpu  ready  htdemucs  ×${index + 1}  seen `);
  });

  it('drops a killed worker within two heartbeats, and one that stops cleanly at once', async () => {
    const [killed, stopped] = workers as [StembotProcess, StembotProcess];
    await killed.kill();
    // A killed worker says nothing more; its row is good for two heartbeats after its last one.
    const client = new pg.Client({ connectionString: site.env.DATABASE_URL });
    await client.connect();
    const rows = await client.query<{ ttl: number }>('select extract(epoch from expires_at - heartbeat_at)::float8 as ttl from worker where id = $1', [idOf(killed)]);
    await client.end();
    expect(rows.rows[0]?.ttl).toBe(2);
    await expect.poll(workerIds, { timeout: 20_000, interval: 500 }).toEqual([idOf(stopped)]);

    expect((await stopped.stop()).code).toBe(0);
    expect(await workerIds()).toEqual([]);
    expect(await status()).toMatch(/^No workers are alive: nothing will be separated until one starts\.$/m);
  });
});
