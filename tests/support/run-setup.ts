import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { makeEmbeddedTemplate } from './embedded-template.js';
import './provided.js';

/**
 * Vitest global setup: what every test file may share for the run, made once and handed to the
 * files with `provide`: the embedded database's initdb'd template, and a folder for test songs.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [template, songs] = await Promise.all([makeEmbeddedTemplate(), mkdtemp(path.join(tmpdir(), 'stembot-test-songs-'))]);
  project.provide('pgliteTemplate', template);
  project.provide('songCache', songs);
  return async () => {
    await Promise.all([rm(template, { recursive: true, force: true }), rm(songs, { recursive: true, force: true })]);
  };
}
