import { cp, mkdtemp, stat } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { provided } from './provided.js';

/**
 * The embedded deployment's first start begins with PGlite's initdb: seconds of CPU, the same bytes
 * every time, and none of stembot's code. The suite makes one such empty cluster up front (in its
 * global setup, run-setup.ts) and copies it into each embedded DATA_DIR a test prepares, so
 * what stembot does on a fresh install (claiming DATA_DIR, its sockets, the migrations, the queue's
 * schema) still runs on every copy. The fresh install itself, initdb included, is what
 * tests/stembot.test.ts, tests/core/db and the core tests that open DATA_DIR themselves check.
 */

/** Where embedded-database.ts keeps PGlite's files under DATA_DIR. */
const PGLITE_DIR = 'pglite';

/** A directory holding an empty PGlite cluster where a DATA_DIR holds it. */
export async function makeEmbeddedTemplate(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'stembot-pglite-template-'));
  const db = await PGlite.create({ dataDir: path.join(dir, PGLITE_DIR) });
  await db.close();
  return dir;
}

let made: Promise<string> | undefined;

/** The template: the suite's (from the global setup), else one made by this process on first use (a script run outside vitest). */
async function template(): Promise<string> {
  const given = await provided('pgliteTemplate');
  if (given) return given;
  made ??= makeEmbeddedTemplate().then((dir) => {
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  });
  return made;
}

/** Puts an empty, initdb'd PGlite cluster where the embedded database in `dataDir` will look for one (unless one is there already). */
export async function seedEmbeddedDatabase(dataDir: string): Promise<void> {
  const target = path.join(dataDir, PGLITE_DIR);
  if (await stat(target).then(() => true, () => false)) return;
  await cp(path.join(await template(), PGLITE_DIR), target, { recursive: true });
}
