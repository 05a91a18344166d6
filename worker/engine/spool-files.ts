import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, statfs, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../core/logging.js';

/** What `SpoolFiles` keeps by default: the four stem spools of a 12-minute track, about (21 MB a stem-minute). */
const DEFAULT_SPOOL_KEEP_BYTES = 2 ** 30;
/** A kept file smaller than this saves too little to be worth a directory entry. */
const MIN_KEPT_BYTES = 16 * 2 ** 20;
const KEPT_SUFFIX = '.f32';

export interface SpoolFilesOptions {
  /** Where kept files wait: on the same filesystem as the spools, so a move is a rename. */
  dir: string;
  /** The most bytes kept in `dir` between separations. Default `DEFAULT_SPOOL_KEEP_BYTES`; 0 keeps none. */
  keepBytes?: number;
  /** Bytes the disk keeps free for everything else (DISK_MIN_FREE_MB): nothing is kept when the disk is that short. */
  reserveBytes?: number;
  logger?: Logger | undefined;
}

/**
 * Spool files kept between separations and rewritten in place. A spool's pages, once in the page
 * cache, cost a copy to write again; a new file's pages are allocated, and on a VM whose freed memory
 * goes back to the host within a second they are faulted in from the host: writing 336 MB took
 * 560-680 ms into a new file against 55 ms over a kept one (this project's 2-core VM). The stem
 * spools of a 4-minute track are 340 MB, written while the model runs on the same cores.
 *
 * A file is taken by renaming it out of `dir`, which only one taker can do, so processes sharing
 * TEMP_DIR never write the same file; a process that dies holding one leaves it in its own temp
 * folder, which the next start sweeps. What a file held before is left past the spool's end and
 * never read: the spool reads back only what it wrote.
 */
export class SpoolFiles {
  private readonly keepBytes: number;

  constructor(private readonly options: SpoolFilesOptions) {
    this.keepBytes = options.keepBytes ?? DEFAULT_SPOOL_KEEP_BYTES;
  }

  /** A file at `target` to write from its start (not truncated): a kept one when there is one, else a new one. */
  async open(target: string): Promise<FileHandle> {
    for (const kept of await this.kept()) {
      const moved = await rename(kept.path, target).then(
        () => true,
        () => false, // another taker was first, or `dir` is on another filesystem: a new file then
      );
      if (moved) return open(target, 'r+');
    }
    return open(target, 'w+');
  }

  /** The spool at `source` (closed) is done with: it is kept, cut to what the budget allows, or removed. */
  async giveBack(source: string): Promise<void> {
    try {
      const room = await this.room();
      const { size } = await stat(source);
      const keep = Math.min(size, room);
      if (keep < MIN_KEPT_BYTES) return await rm(source, { force: true });
      if (keep < size) await truncate(source, keep);
      await mkdir(this.options.dir, { recursive: true, mode: 0o700 });
      await rename(source, path.join(this.options.dir, `${randomUUID()}${KEPT_SUFFIX}`));
    } catch (error) {
      // Keeping is an optimisation: a file that cannot be kept is removed, and the separation stands.
      this.options.logger?.warn({ err: (error as Error).message }, 'could not keep a spool file for reuse');
      await rm(source, { force: true });
    }
  }

  /**
   * Bytes a given-back file may still add: the budget left, or none when the disk is short.
   * Processes giving files back at the same moment can each see the same room: the budget can be
   * passed by one file per process giving back at that moment.
   */
  private async room(): Promise<number> {
    const kept = await this.kept();
    const left = this.keepBytes - kept.reduce((n, file) => n + file.size, 0);
    if (left < MIN_KEPT_BYTES) return 0;
    const disk = await statfs(path.dirname(this.options.dir));
    const free = disk.bavail * disk.bsize;
    return free < (this.options.reserveBytes ?? 0) + this.keepBytes ? 0 : left;
  }

  /** The kept files, largest first (a long spool rewrites most of a large one). */
  private async kept(): Promise<{ path: string; size: number }[]> {
    const names = await readdir(this.options.dir).catch(() => [] as string[]);
    const files = await Promise.all(
      names
        .filter((name) => name.endsWith(KEPT_SUFFIX))
        .map(async (name) => {
          const file = path.join(this.options.dir, name);
          const info = await stat(file).catch(() => undefined); // taken meanwhile
          return info?.isFile() ? { path: file, size: info.size } : undefined;
        }),
    );
    return files.filter((file) => file !== undefined).sort((a, b) => b.size - a.size);
  }
}
