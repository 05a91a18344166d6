import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { physicalCores } from './cpu-cores.js';
import type { StftTask } from './stft-worker.js';

/**
 * Worker threads for the split contract's host STFT: tens to hundreds of ms of arithmetic per
 * chunk that would otherwise block the event loop (chat acks, progress edits, BullMQ locks).
 * One pool per process, one thread per physical core; threads exit after a while idle and never
 * keep the process alive. Buffers are views of SharedArrayBuffers: workers read and write them
 * in place.
 */

const IDLE_TIMEOUT_MS = 30_000; // long enough to stay warm between chunks and back-to-back jobs

interface RunningPool {
  piscina: Piscina;
  /** Why a thread could not start, once one could not. */
  failure?: Error;
}

let pool: RunningPool | undefined;

/**
 * Where the worker entry is and how to start it. From dist/ it is plain JS next to this module.
 * From the TypeScript sources (vitest, tsx) the thread needs tsx to load `.ts` files: its
 * require hook, which piscina's `require(filename)` goes through, since Node 20 does not apply
 * `--import`ed module hooks inside worker threads.
 */
export function workerEntry(moduleUrl: string): { filename: string; execArgv: string[] } {
  const fromSources = moduleUrl.endsWith('.ts');
  const filename = fileURLToPath(new URL(`./stft-worker.${fromSources ? 'ts' : 'js'}`, moduleUrl));
  if (!fromSources) return { filename, execArgv: [] };
  return { filename, execArgv: ['--require', createRequire(moduleUrl).resolve('tsx/cjs')] };
}

async function run(task: StftTask): Promise<void> {
  if (!pool) {
    const created: RunningPool = {
      piscina: new Piscina({ ...workerEntry(import.meta.url), minThreads: 0, maxThreads: physicalCores(), idleTimeout: IDLE_TIMEOUT_MS }),
    };
    // A thread that cannot start (its entry file missing or broken) leaves piscina's tasks
    // waiting forever: fail them with the reason, and start afresh on the next call.
    created.piscina.on('error', (error: Error) => {
      created.failure = error;
      if (pool === created) pool = undefined;
      void created.piscina.destroy();
    });
    pool = created;
  }
  const current = pool;
  await current.piscina.run(task).catch((error: unknown) => {
    throw current.failure ? new Error('an STFT worker thread failed', { cause: current.failure }) : error;
  });
}

/** `signal` `[S]` -> `out` `[2, 2048, T]` (re, im) on a pool thread; both must be views of SharedArrayBuffers. */
export async function spectrogramInPool(signal: Float32Array, out: Float32Array): Promise<void> {
  await run({ kind: 'spectrogram', signal: shared(signal), out: shared(out) });
}

/** `spec` `[4, 2048, T]` -> `out` `[2, length]`, overwritten, on a pool thread; both views of SharedArrayBuffers. */
export async function inverseInPool(spec: Float32Array, length: number, out: Float32Array): Promise<void> {
  await run({ kind: 'inverse', spec: shared(spec), length, out: shared(out) });
}

/** A view of an ordinary ArrayBuffer would be copied into the worker and its results lost. */
function shared(view: Float32Array): Float32Array {
  if (!(view.buffer instanceof SharedArrayBuffer)) throw new TypeError('STFT pool buffers must be views of a SharedArrayBuffer');
  return view;
}
