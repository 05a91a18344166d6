import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStembot, waitForOutput } from './support/cli.js';
import { makeTempDir } from './support/services.js';
import { installTestModel } from './support/stembot-harness.js';

/** True while any process of the group led by `pid` is alive. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('stembot start', () => {
  it('on an empty environment in a fresh directory: creates the data directory, migrates, serves /healthz, /readyz and /metrics, and stops cleanly on SIGTERM', async () => {
    const temp = await makeTempDir();
    try {
      // The model as `stembot models fetch htdemucs` would leave it: a test must not download 300 MB.
      await installTestModel(path.join(temp.dir, 'data', 'models'));
      const run = runStembot(['start'], { cwd: temp.dir, env: {}, detached: true });
      await waitForOutput(run, 'stembot is ready');
      expect(existsSync(path.join(temp.dir, 'data', 'pglite'))).toBe(true);
      const lines = () =>
        run
          .stdout()
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as { msg: string; migrations?: string[]; web?: string; role?: string; startupMs?: number; stopMs?: number });
      expect(lines().find((line) => line.msg === 'database migrated')?.migrations?.length).toBeGreaterThan(0);
      expect(lines().some((line) => line.msg.startsWith('no chat platform configured: set DISCORD_TOKEN'))).toBe(true);

      // The web role is on by default, on loopback.
      const web = lines().find((line) => line.msg === 'stembot is ready')?.web as string;
      expect(web).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await (await fetch(`${web}/healthz`)).json()).toEqual({ status: 'ok' });
      await waitForOutput(run, 'worker ready');
      const ready = await fetch(`${web}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({
        ready: true,
        checks: [
          { name: 'database', ok: true },
          { name: 'queue', ok: true, detail: 'postgres' },
          { name: 'workers', ok: true, detail: '1 serving htdemucs' },
        ],
      });
      const metrics = await (await fetch(`${web}/metrics`)).text();
      for (const name of ['stembot_stage_duration_seconds_bucket', 'stembot_jobs_finished_total', 'stembot_workers', 'stembot_queue_depth', 'stembot_outbox_backlog', 'nodejs_eventloop_lag_seconds']) expect(metrics).toContain(name);
      expect(metrics).toMatch(/^stembot_workers\{state="ready"\} 1$/m);

      // `stembot status` beside it reads the embedded database through the running process.
      const status = runStembot(['status'], { cwd: temp.dir, env: {} });
      expect((await status.exited).code, status.stderr()).toBe(0);
      expect(status.stdout()).toMatch(/^1 worker alive \(1 ready\), 0 separations running/);
      expect(status.stdout()).toMatch(/ cpu {2}ready {2}htdemucs {2}×1 /);

      const pid = run.child.pid as number;
      run.child.kill('SIGTERM');
      // The process exits 1 by itself when a graceful stop overruns its 5 s budget, so exit code 0
      // is the proof that it stopped in time.
      const exit = await run.exited;
      expect(exit, run.stderr()).toEqual({ code: 0, signal: null });
      expect(run.stdout()).toContain('"msg":"stopped"');
      // Each role says when it was ready and when it stopped, with its timing; readiness goes first.
      const messages = lines().map((line) => `${line.role ?? ''} ${line.msg}`);
      for (const role of ['web', 'relay', 'worker']) {
        expect(lines().find((line) => line.role === role && line.msg === 'role started')?.startupMs, role).toBeGreaterThanOrEqual(0);
        expect(lines().find((line) => line.role === role && line.msg === 'role stopped')?.stopMs, role).toBeGreaterThanOrEqual(0);
      }
      expect(messages.indexOf('web readiness withdrawn: /readyz answers 503 while the roles stop')).toBeLessThan(messages.indexOf('worker worker stopped'));
      expect(messages.indexOf('worker worker stopped')).toBeGreaterThan(0);
      expect(groupAlive(pid)).toBe(false);
      expect(existsSync(path.join(temp.dir, 'data', 'pglite.pid'))).toBe(false);
    } finally {
      await temp.remove();
    }
  });

  it('with DATABASE_URL=not-a-url: one line naming DATABASE_URL, a non-zero exit, no stack trace', async () => {
    const temp = await makeTempDir();
    try {
      const run = runStembot(['start'], { cwd: temp.dir, env: { DATABASE_URL: 'not-a-url' } });
      const exit = await run.exited;
      expect(exit.code).toBe(2);
      const lines = run.stderr().trim().split('\n');
      expect(lines).toEqual(['stembot: invalid setting DATABASE_URL: expected a URL like postgres://user:pass@host:5432/stembot']);
      expect(run.stdout()).toBe('');
      expect(existsSync(path.join(temp.dir, 'data'))).toBe(false);
    } finally {
      await temp.remove();
    }
  });
});
