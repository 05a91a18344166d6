/**
 * A process that takes a temp folder under ROOT and keeps running until killed, leaving a spool
 * file in it as a worker mid-job would: `temp-dir-process.ts ROOT`. Prints `claimed <folder>`.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createLogger } from '../../core/logging.js';
import { claimProcessTempDir } from '../../worker/process-temp-dir.js';

const [root] = process.argv.slice(2) as [string];
const temp = await claimProcessTempDir(root, createLogger({ level: 'silent' }));
await writeFile(path.join(temp.dir, 'track.f32'), Buffer.alloc(4096));
console.log(`claimed ${temp.dir}`);
setInterval(() => undefined, 60_000);
