import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStembot, waitForOutput } from './support/cli.js';
import { makeTempDir } from './support/services.js';

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
  it('on an empty environment in a fresh directory: creates the data directory, migrates, is ready, and stops cleanly on SIGTERM', async () => {
    const temp = await makeTempDir();
    try {
      const run = runStembot(['start'], { cwd: temp.dir, env: {}, detached: true });
      await waitForOutput(run, 'stembot is ready');
      expect(existsSync(path.join(temp.dir, 'data', 'pglite'))).toBe(true);
      const lines = run
        .stdout()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { msg: string; migrations?: string[] });
      expect(lines.find((line) => line.msg === 'database migrated')?.migrations?.length).toBeGreaterThan(0);
      expect(lines.some((line) => line.msg.startsWith('no chat platform configured: set DISCORD_TOKEN'))).toBe(true);

      const pid = run.child.pid as number;
      run.child.kill('SIGTERM');
      // The process exits 1 by itself when a graceful stop overruns its 5 s budget, so exit code 0
      // is the proof that it stopped in time.
      const exit = await run.exited;
      expect(exit, run.stderr()).toEqual({ code: 0, signal: null });
      expect(run.stdout()).toContain('"msg":"stopped"');
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
