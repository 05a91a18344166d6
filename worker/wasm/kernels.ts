import { readFileSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * The SIMD kernels (AssemblyScript in ./assembly, built into kernels.wasm by `npm run build:wasm`):
 * the loops that touch every sample: input normalisation, overlap-add and PCM packing. Scalar JavaScript does
 * about 2.5-4 ns per sample on a small cloud VM, four times what the same loops take as WASM SIMD,
 * and a 4-minute track has 85 M output samples; onnxruntime and ffmpeg have no such kernels for
 * us to call, and no npm package does these exact operations in place.
 */
export interface KernelExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  /** See assembly/overlap-add.ts. */
  add(
    rows: number, segment: number, span: number, sums: number, weights: number, weight: number, norm: number, output: number,
    trim: number, used: number, final: number, held: number, scale: number, mean: number, peaks: number,
  ): void;
  /** See assembly/pcm.ts: planar stereo at `left`/`right`, `n` frames, interleaved into `out`. */
  packF32(left: number, right: number, n: number, out: number): void;
  packPcm16(left: number, right: number, n: number, out: number): void;
  packPcm24(left: number, right: number, n: number, out: number): void;
  packLame16(left: number, right: number, n: number, out: number): void;
  /** See assembly/normalise.ts: `n` interleaved stereo frames at `frames` to planar `left`/`right`, `(x - mean) / scale`. */
  normalise(frames: number, n: number, mean: number, scale: number, left: number, right: number): void;
}

const PAGE_BYTES = 65536;
const ALIGN = 16; // one v128
const TOUCH_BYTES = 2 ** 20;
const PAGE_TOUCH = 4096;

let compiled: WebAssembly.Module | undefined;

/** Compiled once per thread, on first use (a few ms). */
function kernelModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(readFileSync(new URL('./kernels.wasm', import.meta.url)));
  return compiled;
}

/**
 * An instance of the kernels with a memory of its own, which its user lays out in regions. Growing
 * the memory detaches every view of it: users take views after their last `reserve`, or anew on
 * each call.
 */
export class Kernels {
  readonly exports: KernelExports;
  private reserved: number;
  /** True until the memory serves a second user: until then it may never have been touched (see `touch`). */
  fresh = true;
  /** Where samples that lie in this memory are packed (see `reservePackRoom`), if its user made room. */
  packRoom: { at: number; bytes: number } | undefined;

  constructor() {
    this.exports = new WebAssembly.Instance(kernelModule(), {}).exports as unknown as KernelExports;
    this.reserved = alignUp(this.exports.heapBase());
    holders.set(this.exports.memory.buffer, this);
  }

  /** Forgets every region, for a new user of the same memory (which keeps its old contents). */
  reset(): void {
    this.reserved = alignUp(this.exports.heapBase());
    this.fresh = false;
    this.packRoom = undefined;
  }

  /**
   * Room to pack up to `frames` stereo frames of samples that lie in this memory, in place of
   * copying them into the packer's own instance first (see `packSamples`): the engine's blocks
   * are views of its overlap-add memory, and each copy was megabytes per chunk.
   */
  reservePackRoom(frames: number): void {
    const bytes = packRoomBytes(frames);
    this.packRoom = { at: this.reserve(bytes), bytes };
  }

  /**
   * Touches the memory reserved so far a megabyte per turn of the event loop, so the page faults
   * of fresh memory are taken while this thread would wait anyway (for the model's first chunk),
   * instead of in one long turn at first use.
   */
  async touch(): Promise<void> {
    const end = this.reserved;
    for (let at = alignUp(this.exports.heapBase()); at < end; at += TOUCH_BYTES) {
      const bytes = this.bytes(at, Math.min(TOUCH_BYTES, end - at));
      // Rewriting one byte per page with itself faults the page in and changes nothing.
      for (let i = 0; i < bytes.length; i += PAGE_TOUCH) bytes[i] = bytes[i] as number;
      await nextTurn();
    }
  }

  /** A region of `bytes` (16-byte aligned) that stays this caller's; returns its offset. */
  reserve(bytes: number): number {
    const offset = this.reserved;
    this.reserved = alignUp(offset + bytes);
    const { memory } = this.exports;
    const missing = this.reserved - memory.buffer.byteLength;
    if (missing > 0) {
      memory.grow(Math.ceil(missing / PAGE_BYTES));
      holders.set(memory.buffer, this);
    }
    return offset;
  }

  f32(offset: number, length: number): Float32Array {
    return new Float32Array(this.exports.memory.buffer, offset, length);
  }

  bytes(offset: number, length: number): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer, offset, length);
  }
}

/** Bytes one stereo frame packs into at most: two float32 samples. */
const MAX_PACKED_FRAME_BYTES = 8;

/** What `reservePackRoom(frames)` takes. */
export function packRoomBytes(frames: number): number {
  return frames * MAX_PACKED_FRAME_BYTES;
}

/** Instances by their memory's current buffer, for `kernelsHolding`. */
const holders = new WeakMap<ArrayBuffer, Kernels>();

/** The instance whose memory `view` is a view of, if any. */
export function kernelsHolding(view: Float32Array): Kernels | undefined {
  return view.buffer instanceof ArrayBuffer ? holders.get(view.buffer) : undefined;
}

function alignUp(offset: number): number {
  return Math.ceil(offset / ALIGN) * ALIGN;
}

/**
 * Instances given back after use, by the bytes their user reserved, for the next user of the same
 * shape (the full track after its preview, the next job). Fresh memory is costly to touch for the
 * first time (on small cloud VMs, page faults run at a few ms per MB: about 50 ms for one pass'
 * overlap-add state at htdemucs' segment); memory that served once is touched already.
 */
const ready = new Map<number, Kernels[]>();
/** Instances kept per size (a separation uses one per shift pass, most use one): the rest is freed. */
const READY_PER_SIZE = 2;

/** An instance with room for `bytes` of regions: one given back when there is one, else a fresh one. */
export function takeKernels(bytes: number): Kernels {
  return ready.get(bytes)?.pop() ?? new Kernels();
}

/**
 * Makes ready, ahead of its first user, an instance with room for `bytes`, its memory touched a
 * megabyte per turn (see `Kernels.touch`): the engine calls it while ffmpeg decodes, when this
 * thread only follows the spool, so the page faults are not paid once the chunks flow. A later
 * `takeKernels(bytes)` gets it; an instance given back already is left as it is.
 */
export async function prepareKernels(bytes: number): Promise<void> {
  const kernels = takeKernels(bytes);
  if (kernels.fresh) {
    kernels.reserve(bytes);
    await kernels.touch();
  }
  giveBackKernels(bytes, kernels);
}

/** Hands an instance back for a later `takeKernels(bytes)`. */
export function giveBackKernels(bytes: number, kernels: Kernels): void {
  kernels.reset();
  const kept = ready.get(bytes) ?? [];
  if (kept.length < READY_PER_SIZE && !kept.includes(kernels)) kept.push(kernels);
  ready.set(bytes, kept);
}
