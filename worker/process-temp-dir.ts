import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from '../core/logging.js';
import { isProcessRunning } from '../core/process-liveness.js';
import { SpoolFiles } from './engine/spool-files.js';

/** A process's own folder under TEMP_DIR; `release` removes it with whatever is left inside. */
export interface ProcessTempDir {
  dir: string;
  /** Spool files kept under the root between separations, shared by the processes that share it. */
  spoolFiles: SpoolFiles;
  release(): Promise<void>;
}

/** Where `SpoolFiles` keeps its files under the root; no process owns it, so no sweep removes it. */
const SPOOL_FILES_DIR = 'spool-files';

/**
 * Folders are named `<host>-<pid>-<random>`. The host keeps processes that share TEMP_DIR from
 * another machine or container (whose pids mean nothing here) from judging each other's folders.
 */
const OWNED = /^(.+)-(\d+)-[A-Za-z0-9]{6}$/;

function hostTag(): string {
  return hostname().replace(/[^A-Za-z0-9.]/g, '_') || 'host';
}

/**
 * Gives this process a temp folder of its own under `root`, after removing the folders of
 * processes that died without cleaning up (a killed worker leaves its spools behind, each as large
 * as the decoded track). Several processes may share a machine and a root: a folder whose owner is
 * still running is never touched.
 */
export async function claimProcessTempDir(root: string, logger: Logger, options: { diskReserveBytes?: number } = {}): Promise<ProcessTempDir> {
  await mkdir(root, { recursive: true });
  await sweepDeadProcessDirs(root, logger);
  const dir = await createOwnedTempDir(root);
  const spoolFiles = new SpoolFiles({ dir: path.join(root, SPOOL_FILES_DIR), reserveBytes: options.diskReserveBytes, logger });
  return { dir, spoolFiles, release: () => rm(dir, { recursive: true, force: true }) };
}

/** A new folder under `root` named for this process, so the sweep of a later start removes it if this process dies holding it. */
export async function createOwnedTempDir(root: string): Promise<string> {
  await mkdir(root, { recursive: true });
  return mkdtemp(path.join(root, `${hostTag()}-${process.pid}-`));
}

/** Removes the folders under `root` whose owner process on this host is gone; returns their names. */
export async function sweepDeadProcessDirs(root: string, logger: Logger): Promise<string[]> {
  const host = hostTag();
  const removed: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const owner = OWNED.exec(entry.name);
    if (!entry.isDirectory() || !owner || owner[1] !== host || isProcessRunning(Number(owner[2]))) continue;
    await rm(path.join(root, entry.name), { recursive: true, force: true });
    removed.push(entry.name);
  }
  if (removed.length > 0) logger.info({ root, removed }, 'removed the temp folders of processes that are gone');
  return removed;
}
