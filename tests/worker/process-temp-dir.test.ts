import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimProcessTempDir } from '../../worker/process-temp-dir.js';
import { runScript, waitForOutput, type CliRun } from '../support/cli.js';
import { captureLogger, makeTempDir } from '../support/services.js';

let work: { dir: string; remove(): Promise<void> };
const children: CliRun[] = [];
beforeAll(async () => {
  work = await makeTempDir('stembot-temp-root-');
});
afterAll(async () => {
  for (const child of children) child.child.kill('SIGKILL');
  await work.remove();
});

/** Starts a process that claims a folder under `root`; resolves with the process and its folder. */
async function claimer(root: string): Promise<{ run: CliRun; dir: string }> {
  const run = runScript('./temp-dir-process.ts', [root], {});
  children.push(run);
  await waitForOutput(run, 'claimed ');
  return { run, dir: (/claimed (.+)/.exec(run.stdout())?.[1] ?? '').trim() };
}

describe('per-process temp folders', () => {
  it('removes the folders of killed processes at start, and never those of running ones or of other hosts', async () => {
    const root = path.join(work.dir, 'sweep');
    const killed = await claimer(root);
    const running = await claimer(root);
    killed.run.child.kill('SIGKILL');
    await killed.run.exited;
    const otherHost = path.join(root, `not-${hostname()}-1-abcdef`);
    const unrelated = path.join(root, 'notes');
    await mkdir(otherHost);
    await mkdir(unrelated);
    expect(existsSync(path.join(killed.dir, 'track.f32'))).toBe(true);

    const { logger, lines } = captureLogger('info');
    const mine = await claimProcessTempDir(root, logger);
    expect(existsSync(killed.dir)).toBe(false);
    expect(existsSync(path.join(running.dir, 'track.f32'))).toBe(true);
    expect((await readdir(root)).sort()).toEqual([path.basename(mine.dir), path.basename(otherHost), path.basename(running.dir), 'notes'].sort());
    expect(lines()).toEqual([expect.objectContaining({ msg: 'removed the temp folders of processes that are gone', removed: [path.basename(killed.dir)] })]);

    await mine.release();
    expect(existsSync(mine.dir)).toBe(false);
  });
});
