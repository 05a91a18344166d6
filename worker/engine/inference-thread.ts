import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

/**
 * onnxruntime-node's `session.run` returns a promise but computes synchronously on the calling
 * thread (its backend wraps the native call in a setImmediate): on the main thread, every model
 * call would freeze chat, progress and queue locks for its whole length (seconds per chunk for
 * htdemucs on a CPU). So the sessions live on one inference thread per process, and
 * `ThreadedSession` is their stand-in here with the same `run`: inputs are copied over (views of
 * SharedArrayBuffers are shared, not copied), outputs are moved back without a copy. While a
 * chunk runs there, this thread overlap-adds and encodes the previous one.
 */

export interface TensorMessage {
  data: Float32Array;
  dims: number[];
}

interface Described {
  names: string[];
  metadata: ort.InferenceSession.ValueMetadata[];
}

export type InferenceRequest =
  | { id: number; kind: 'open'; session: number; model: Uint8Array; options: ort.InferenceSession.SessionOptions }
  /**
   * `fetches`: the outputs asked for (all when empty); by their dims where the caller has buffers,
   * which the thread fills with buffers of its own and moves here.
   */
  | { id: number; kind: 'run'; session: number; feeds: Record<string, TensorMessage>; fetches: Record<string, number[] | null> }
  | { id: number; kind: 'release'; session: number }
  /** Output buffers whose results were copied out: the thread reuses them. No reply. */
  | { id: number; kind: 'recycle'; buffers: ArrayBuffer[] };

export type InferenceReply =
  | { id: number; kind: 'opened'; inputs: Described; outputs: Described }
  /** `postedAt`: the thread's clock (performance.timeOrigin + now) as it replied. */
  | { id: number; kind: 'ran'; outputs: Record<string, TensorMessage>; runMs: number; postedAt: number }
  | { id: number; kind: 'released' }
  | { id: number; kind: 'failed'; message: string };

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/**
 * The worker: JS beside this module in dist/; from the TypeScript sources (vitest, tsx), the
 * thread loads the `.ts` entry through tsx's require hook, since Node 20 does not apply
 * `--import`ed module hooks inside worker threads.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./inference-worker.js', import.meta.url));
  const entry = fileURLToPath(new URL('./inference-worker.ts', import.meta.url));
  return new Worker(`require(${JSON.stringify(entry)})`, { eval: true, execArgv: ['--require', createRequire(import.meta.url).resolve('tsx/cjs')] });
}

class InferenceThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (reply: InferenceReply) => void; reject: (error: Error) => void }>();

  /** Posts without waiting for a reply (the thread sends none for these). */
  send(message: WithoutId<InferenceRequest>, transfer: ArrayBuffer[]): void {
    this.worker?.postMessage({ ...message, id: 0 }, transfer);
  }

  request(message: WithoutId<InferenceRequest>, transfer: ArrayBuffer[] = []): Promise<InferenceReply> {
    const worker = this.started();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Only a thread with work in hand keeps the process alive.
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ ...message, id }, transfer);
    });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker();
    worker.unref();
    worker.on('message', (reply: InferenceReply) => {
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (reply.kind === 'failed') waiting?.reject(new Error(reply.message));
      else waiting?.resolve(reply);
    });
    const lost = (error: Error): void => {
      this.worker = undefined;
      threadGeneration++;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the inference thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }
}

const thread = new InferenceThread();
let nextSession = 1;
/** Bumped when the thread dies: its sessions died with it. */
let threadGeneration = 0;

/** What engine code uses of an onnxruntime session, wherever it runs. */
export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  /** Milliseconds the last `run` spent inside onnxruntime, on the inference thread. */
  readonly lastRunMs: number;
  /** Milliseconds the last `run`'s answer waited for this thread to be free: this thread's work, not inference. */
  readonly lastQueuedMs: number;
  run(feeds: Record<string, ort.Tensor>, fetches?: Record<string, ort.Tensor | null>): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
  /** False once the inference thread died: open the model again. */
  readonly usable: boolean;
}

class ThreadedSession implements ModelSession {
  lastRunMs = 0;
  lastQueuedMs = 0;
  private readonly generation = threadGeneration;

  constructor(
    private readonly id: number,
    private readonly inputs: Described,
    private readonly outputs: Described,
  ) {}

  get inputNames(): readonly string[] {
    return this.inputs.names;
  }
  get outputNames(): readonly string[] {
    return this.outputs.names;
  }
  get inputMetadata(): readonly ort.InferenceSession.ValueMetadata[] {
    return this.inputs.metadata;
  }
  get outputMetadata(): readonly ort.InferenceSession.ValueMetadata[] {
    return this.outputs.metadata;
  }
  get usable(): boolean {
    return this.generation === threadGeneration;
  }

  /**
   * As `InferenceSession.run`. A preallocated fetch is filled in place, as onnxruntime would: the
   * thread writes into a buffer of its own, moves it here, and gets it back once copied.
   */
  async run(feeds: Record<string, ort.Tensor>, fetches: Record<string, ort.Tensor | null> = {}): Promise<Record<string, ort.Tensor>> {
    const messages = Object.fromEntries(Object.entries(feeds).map(([name, tensor]) => [name, { data: float32(tensor, name), dims: [...tensor.dims] }]));
    const asked = Object.fromEntries(Object.entries(fetches).map(([name, tensor]) => [name, tensor && [...tensor.dims]]));
    const reply = await thread.request({ kind: 'run', session: this.id, feeds: messages, fetches: asked });
    if (reply.kind !== 'ran') throw new Error(`unexpected reply ${reply.kind} to run`);
    this.lastRunMs = reply.runMs;
    this.lastQueuedMs = Math.max(0, performance.timeOrigin + performance.now() - reply.postedAt);
    const recycled: ArrayBuffer[] = [];
    const results = Object.fromEntries(
      Object.entries(reply.outputs).map(([name, output]) => {
        const into = fetches[name];
        if (!into) return [name, new ort.Tensor('float32', output.data, output.dims)];
        float32(into, name).set(output.data);
        if (output.data.buffer instanceof ArrayBuffer) recycled.push(output.data.buffer);
        return [name, into];
      }),
    );
    if (recycled.length > 0) thread.send({ kind: 'recycle', buffers: recycled }, recycled);
    return results;
  }

  async release(): Promise<void> {
    if (this.usable) await thread.request({ kind: 'release', session: this.id });
  }
}

function float32(tensor: ort.Tensor, name: string): Float32Array {
  if (!(tensor.data instanceof Float32Array)) throw new Error(`tensor ${name} is ${tensor.type}, not float32`);
  return tensor.data;
}

/** `InferenceSession.create` on the inference thread; `model` is copied there. */
export async function createThreadedSession(model: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<ModelSession> {
  const id = nextSession++;
  const reply = await thread.request({ kind: 'open', session: id, model, options });
  if (reply.kind !== 'opened') throw new Error(`unexpected reply ${reply.kind} to open`);
  return new ThreadedSession(id, reply.inputs, reply.outputs);
}
