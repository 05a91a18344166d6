import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { InferenceReply, InferenceRequest, TensorMessage } from './inference-thread.js';

/**
 * The inference thread's entry (see inference-thread.ts): it owns the onnxruntime sessions.
 * onnxruntime-node's `run` computes on the calling thread, so here it blocks this thread and not
 * the process' event loop.
 */

const sessions = new Map<number, ort.InferenceSession>();
/**
 * Output buffers back from the main thread, by size: the next run computes into them instead of
 * fresh (page-faulting) memory. onnxruntime-node 1.30 still hands every output back in a new
 * ArrayBuffer, a copy of the one it filled; even so, dropping these cost 90-120 ms a 4-minute track.
 */
const spare = new Map<number, ArrayBuffer[]>();
/**
 * Every run also allocates that copy, and malloc serves it from memory freed earlier only while
 * few such buffers are alive: keeping 2 rather than 4 took 60-130 ms off the inference of a
 * 4-minute track at htdemucs' segment (fewer fresh pages), with the same time outside it.
 */
const SPARE_PER_SIZE = 2;

function outputBuffer(samples: number): Float32Array {
  const bytes = samples * Float32Array.BYTES_PER_ELEMENT;
  return new Float32Array(spare.get(bytes)?.pop() ?? new ArrayBuffer(bytes));
}
const port = parentPort;
if (!port) throw new Error('inference-worker runs as a worker thread');

/** Ordinary buffers, by size, that shared inputs are copied into for onnxruntime. */
const inputScratch = new Map<string, Float32Array>();

function tensorOf(name: string, message: TensorMessage): ort.Tensor {
  if (!(message.data.buffer instanceof SharedArrayBuffer)) return new ort.Tensor('float32', message.data, message.dims);
  // onnxruntime-node refuses views of shared memory: they are copied, into the same buffer every time.
  const key = `${name}|${message.data.length}`;
  const scratch = inputScratch.get(key) ?? new Float32Array(message.data.length);
  inputScratch.set(key, scratch);
  scratch.set(message.data);
  return new ort.Tensor('float32', scratch, message.dims);
}

function messageOf(tensor: ort.Tensor): TensorMessage {
  if (!(tensor.data instanceof Float32Array)) throw new Error(`model output of type ${tensor.type} is not float32`);
  return { data: tensor.data, dims: [...tensor.dims] };
}

async function handle(request: InferenceRequest): Promise<{ reply: InferenceReply | undefined; transfer: ArrayBuffer[] }> {
  switch (request.kind) {
    case 'open': {
      const session = await ort.InferenceSession.create(request.model, request.options);
      sessions.set(request.session, session);
      const describe = (names: readonly string[], metadata: readonly ort.InferenceSession.ValueMetadata[]) => ({ names: [...names], metadata: metadata.map((m) => ({ ...m })) });
      return { reply: { id: request.id, kind: 'opened', inputs: describe(session.inputNames, session.inputMetadata), outputs: describe(session.outputNames, session.outputMetadata) }, transfer: [] };
    }
    case 'run': {
      // From here to the reply is this thread's work on the request; its way here is not.
      const takenAt = performance.timeOrigin + performance.now();
      const session = sessions.get(request.session);
      if (!session) throw new Error(`session ${request.session} is not open`);
      const feeds = Object.fromEntries(Object.entries(request.feeds).map(([name, t]) => [name, tensorOf(name, t)]));
      // Outputs named without dims or a known shape are onnxruntime's to allocate; with none named, every output is.
      const fetches = Object.fromEntries(
        Object.entries(request.fetches).map(([name, asked]) => {
          const dims = asked ?? request.shapes[name];
          return [name, dims ? new ort.Tensor('float32', outputBuffer(dims.reduce((a, b) => a * b, 1)), dims) : null];
        }),
      );
      const started = performance.now();
      const results = Object.keys(fetches).length > 0 ? await session.run(feeds, fetches) : await session.run(feeds);
      const runMs = performance.now() - started;
      const outputs = Object.fromEntries(Object.entries(results).map(([name, t]) => [name, messageOf(t)]));
      // onnxruntime hands over buffers of its own: moved to the caller, not copied; and the
      // inputs go back for the caller's next chunk.
      const transfer = Object.values(outputs).map((o) => o.data.buffer).filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
      const inputs = [...new Set(request.moved.map((name) => request.feeds[name]?.data.buffer))].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
      return { reply: { id: request.id, kind: 'ran', outputs, runMs, takenAt, postedAt: performance.timeOrigin + performance.now(), inputs }, transfer: [...new Set([...transfer, ...inputs])] };
    }
    case 'recycle': {
      for (const buffer of request.buffers) {
        const kept = spare.get(buffer.byteLength) ?? [];
        // A pipelined caller has a couple of outputs out at a time; more would only be held memory.
        if (kept.length < SPARE_PER_SIZE) kept.push(buffer);
        spare.set(buffer.byteLength, kept);
      }
      return { reply: undefined, transfer: [] };
    }
    case 'release': {
      await sessions.get(request.session)?.release();
      sessions.delete(request.session);
      return { reply: { id: request.id, kind: 'released' }, transfer: [] };
    }
  }
}

/**
 * Requests are handled one after another. onnxruntime-node's `run` computes in a setImmediate, so
 * two runs taken up in the same turn would both compute before either promise settles, and each
 * would be timed as both (a caller asks for a run or two ahead).
 */
let handled: Promise<unknown> = Promise.resolve();

port.on('message', (request: InferenceRequest) => {
  handled = handled.then(() =>
    handle(request).then(
      ({ reply, transfer }) => reply && port.postMessage(reply, transfer),
      (error: unknown) => port.postMessage({ id: request.id, kind: 'failed', message: error instanceof Error ? error.message : String(error) } satisfies InferenceReply),
    ),
  );
});
