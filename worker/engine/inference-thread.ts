import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

/**
 * onnxruntime-node's `session.run` returns a promise but computes synchronously on the calling
 * thread (its backend wraps the native call in a setImmediate): on the main thread, every model
 * call would freeze chat, progress and queue locks for its whole length (seconds per chunk for
 * htdemucs on a CPU). So the sessions live on one inference thread per process, and
 * `ThreadedSession` is their stand-in here with the same `run`. Inputs from `inputBuffer` are
 * moved there and back; others are copied (views of SharedArrayBuffers are shared, and copied on
 * the thread, since onnxruntime-node refuses shared memory). Outputs are moved back without a
 * copy. While a chunk runs there, this thread overlap-adds and encodes the previous one.
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
   * which the thread fills with buffers of its own and moves here. `shapes`: the dims of outputs
   * fetched as null, where the caller knows them, so the thread can fill a recycled buffer.
   * `moved`: the feeds whose buffers were moved here (see `inputBuffer`), to be moved back.
   */
  | { id: number; kind: 'run'; session: number; feeds: Record<string, TensorMessage>; fetches: Record<string, number[] | null>; shapes: Record<string, number[]>; moved: string[] }
  | { id: number; kind: 'release'; session: number }
  /** Output buffers whose results were copied out: the thread reuses them. No reply. */
  | { id: number; kind: 'recycle'; buffers: ArrayBuffer[] };

export type InferenceReply =
  | { id: number; kind: 'opened'; inputs: Described; outputs: Described }
  /**
   * `takenAt`, `postedAt`: the thread's clock (performance.timeOrigin + now) as it took the request
   * up and as it replied. `inputs`: the feeds' buffers, moved back.
   */
  | { id: number; kind: 'ran'; outputs: Record<string, TensorMessage>; runMs: number; takenAt: number; postedAt: number; inputs: ArrayBuffer[] }
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
/** When the inference thread posted its latest answer (its clock: performance.timeOrigin + now). */
let lastAnsweredAt = 0;
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
  /**
   * Milliseconds of work the last `run` took around onnxruntime's: the inference thread's, from
   * taking the request up to posting its answer, and this thread's own in `run`. Not counted: the
   * messages' way between the threads (see `lastHandoffMs`), and the time the answer waited for
   * this thread to be free, which is this thread's other work.
   */
  readonly lastSpanMs: number;
  /**
   * Milliseconds the last `run`'s request took to be taken up once the inference thread could
   * take it (when it was sent, or the thread's previous answer if that came later): the thread
   * being woken and scheduled, and its event loop's turn between requests. No work of ours, and
   * while this thread is the busier one it overlaps this thread's other work.
   */
  readonly lastHandoffMs: number;
  /**
   * As `InferenceSession.run`. `shapes`: the dims of outputs fetched as null, when the caller
   * knows them; onnxruntime then computes such an output into a buffer `recycle` gave back, not
   * fresh memory (onnxruntime-node returns a copy of it, which is what comes back here).
   */
  run(feeds: Record<string, ort.Tensor>, fetches?: Record<string, ort.Tensor | null>, shapes?: Record<string, number[]>): Promise<Record<string, ort.Tensor>>;
  /**
   * A float32 array of `length` to fill and feed to `run`, which moves it to the inference thread
   * and back instead of copying it (megabytes per chunk). Passed to `run`, it is the session's
   * again: take a new one for the next call.
   */
  inputBuffer(length: number): Float32Array;
  /**
   * Allocates `count` input buffers of `length` ahead of the first `inputBuffer` calls and touches
   * them, one per turn: fresh memory's page faults, paid while the track decodes.
   */
  prepareInputs(length: number, count: number): Promise<void>;
  /**
   * Output arrays `run` returned that the caller is done with: later runs compute into them. A
   * model's outputs are megabytes per chunk; fresh ones every chunk kept the garbage collector
   * busy for a fifth of a separation.
   */
  recycle(outputs: readonly Float32Array[]): void;
  release(): Promise<void>;
  /** False once the inference thread died: open the model again. */
  readonly usable: boolean;
}

/** Input buffers `run` may move to the thread; and those back from it, free, by byte length. */
const movable = new WeakSet<ArrayBuffer>();
const freeInputs = new Map<number, ArrayBuffer[]>();
/** A pipelined caller has a couple of inputs out at a time; more would only be held memory. */
const FREE_INPUTS_PER_SIZE = 4;
/** Writing a byte per page faults a buffer in. */
const PAGE_BYTES = 4096;

function isMovable(buffer: ArrayBufferLike | undefined): buffer is ArrayBuffer {
  return buffer instanceof ArrayBuffer && movable.has(buffer);
}

function releaseInput(buffer: ArrayBuffer): void {
  const free = freeInputs.get(buffer.byteLength) ?? [];
  if (free.length < FREE_INPUTS_PER_SIZE) free.push(buffer);
  freeInputs.set(buffer.byteLength, free);
}

class ThreadedSession implements ModelSession {
  lastRunMs = 0;
  lastSpanMs = 0;
  lastHandoffMs = 0;
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
  async run(feeds: Record<string, ort.Tensor>, fetches: Record<string, ort.Tensor | null> = {}, shapes: Record<string, number[]> = {}): Promise<Record<string, ort.Tensor>> {
    const entered = performance.now();
    const messages = Object.fromEntries(Object.entries(feeds).map(([name, tensor]) => [name, { data: float32(tensor, name), dims: [...tensor.dims] }]));
    const asked = Object.fromEntries(Object.entries(fetches).map(([name, tensor]) => [name, tensor && [...tensor.dims]]));
    const moved = Object.keys(messages).filter((name) => isMovable(messages[name]?.data.buffer));
    const transfer = [...new Set(moved.map((name) => messages[name]?.data.buffer as ArrayBuffer))];
    const sentAt = performance.timeOrigin + performance.now();
    const before = performance.now() - entered;
    const reply = await thread.request({ kind: 'run', session: this.id, feeds: messages, fetches: asked, shapes, moved }, transfer);
    const resumed = performance.now();
    if (reply.kind !== 'ran') throw new Error(`unexpected reply ${reply.kind} to run`);
    const threadMs = reply.postedAt - reply.takenAt;
    this.lastHandoffMs = Math.max(0, reply.takenAt - Math.max(sentAt, lastAnsweredAt));
    lastAnsweredAt = Math.max(lastAnsweredAt, reply.postedAt);
    for (const buffer of reply.inputs) releaseInput(buffer);
    this.lastRunMs = reply.runMs;

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
    this.lastSpanMs = before + Math.max(0, threadMs) + (performance.now() - resumed);
    return results;
  }

  inputBuffer(length: number): Float32Array {
    const bytes = length * Float32Array.BYTES_PER_ELEMENT;
    const buffer = freeInputs.get(bytes)?.pop() ?? new ArrayBuffer(bytes);
    movable.add(buffer);
    return new Float32Array(buffer);
  }

  async prepareInputs(length: number, count: number): Promise<void> {
    const bytes = length * Float32Array.BYTES_PER_ELEMENT;
    const free = freeInputs.get(bytes) ?? [];
    freeInputs.set(bytes, free);
    while (free.length < Math.min(count, FREE_INPUTS_PER_SIZE)) {
      const buffer = new ArrayBuffer(bytes);
      const view = new Uint8Array(buffer);
      for (let i = 0; i < bytes; i += PAGE_BYTES) view[i] = 0;
      free.push(buffer);
      await nextTurn();
    }
  }

  recycle(outputs: readonly Float32Array[]): void {
    // Whole buffers of their own only (what `run` moves here), each once; a thread that died
    // with its sessions has no use for them.
    const buffers = [...new Set(outputs.map((o) => o.buffer))].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer && b.byteLength > 0);
    if (this.usable && buffers.length > 0) thread.send({ kind: 'recycle', buffers }, buffers);
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
