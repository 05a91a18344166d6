import { giveBackKernels, packRoomBytes, prepareKernels, takeKernels, type Kernels } from '../wasm/kernels.js';

/**
 * A run of finished samples: `data` holds `K*2` rows (source-major, then channel) of `length`
 * float32 samples, each row `stride` floats after the one before (`stride >= length`).
 */
export interface Block {
  start: number;
  length: number;
  stride: number;
  data: Float32Array;
  /** Per row, the largest |sample| in `data` (NaN if any is NaN), when the producer measured it on the way. */
  peaks?: Float32Array;
}

/**
 * demucs' transition weight: a triangle peaking mid-segment, `concat(1..S/2, S-S/2..1) / max`,
 * raised to `power` (the default 1 gives linear cross-fades when overlap < 50 %). float32, as
 * demucs' own tensor. Made once per segment and power, and shared: read it, don't write it.
 */
export function transitionWeight(segment: number, power: number): Float32Array {
  const key = `${segment}^${power}`;
  const known = weights.get(key);
  if (known) return known;
  const half = Math.floor(segment / 2);
  const weight = new Float32Array(segment);
  for (let i = 0; i < half; i++) weight[i] = i + 1;
  for (let i = half; i < segment; i++) weight[i] = segment - i;
  const max = Math.max(half, segment - half);
  for (let i = 0; i < segment; i++) weight[i] = power === 1 ? (weight[i] as number) / max : ((weight[i] as number) / max) ** power;
  weights.set(key, weight);
  return weight;
}

/** The weights made so far, by segment and power: a model's are the same for every chunk and track. */
const weights = new Map<string, Float32Array>();

/** `x * scale + mean`: undoing demucs' normalisation `(x - mean) / scale` on the way out. */
export interface Denormalise {
  scale: number;
  mean: number;
}

/**
 * The overlap-add of one pass over its own timeline, holding only the `S` samples that later
 * chunks can still touch. Chunks arrive in offset order, `stride` apart; once a chunk is added,
 * everything before the next chunk's offset is final: it is divided by its summed weight,
 * de-normalised and handed back in the same pass over the samples, and only the part the next
 * chunks overlap is kept as a running sum.
 *
 * Sums are float32 as in demucs' `apply_model` (`out`, `sum_weight`). De-normalising here rather
 * than after the shift passes are averaged is the same value (the map is affine), and saves a
 * pass over every sample. The arithmetic is the `add` kernel (worker/wasm), four samples at a
 * time, on state kept in the kernel's memory.
 */
export class OverlapAdd {
  private windowStart = 0;
  /** Samples from windowStart that earlier chunks reach into: only these have sums. */
  private held = 0;
  private readonly kernels: Kernels;
  // Regions of the kernel's memory, laid out once: the views handed out stay valid.
  /** Samples a chunk can leave to the next ones: `segment - stride`. */
  private readonly span: number;
  private readonly sums: number; // [K*2, span]: weighted chunk outputs from windowStart
  private readonly weights: number; // [span]: summed weights from windowStart
  private readonly weight: number; // [S]: the transition weight
  private readonly norm: number; // [span]: scale / summed weight, for the held samples
  private readonly output: number; // [K*2, S]: the chunk being added, copied in; its final samples are the block handed out
  private readonly peaks: number; // [K*2]

  constructor(
    private readonly rows: number, // K * 2 (sources times channels)
    private readonly segment: number,
    stride: number, // between chunk offsets
    private readonly length: number, // the pass' timeline length
    weight: Float32Array,
    private readonly denormalise: Denormalise,
    /** Whether its blocks go to the encoders as they are (a single pass), so they pack them here. */
    private readonly packedHere: boolean,
  ) {
    this.span = Math.max(0, segment - stride);
    this.kernels = takeKernels(overlapAddBytes(rows, segment, this.span, packedHere));
    const floats = (count: number): number => this.kernels.reserve(count * Float32Array.BYTES_PER_ELEMENT);
    this.sums = floats(rows * this.span);
    this.weights = floats(this.span);
    this.weight = floats(segment);
    this.norm = floats(this.span);
    this.output = floats(rows * segment);
    this.peaks = floats(rows);
    // The blocks handed out are views of this memory: the encoders pack them here (a segment at
    // most). Passes that are averaged first hand over blocks of their own, packed elsewhere.
    if (packedHere) this.kernels.reservePackRoom(segment);
    this.kernels.f32(this.weight, segment).set(weight.subarray(0, segment));
    // The kernel reads only the sums a chunk left (none before the first), so a reused
    // instance's old sums need no clearing.
  }

  /** Makes the memory of an instance of this shape ready ahead of time (see `prepareKernels`). */
  static prepare(rows: number, segment: number, stride: number, packedHere: boolean): Promise<void> {
    return prepareKernels(overlapAddBytes(rows, segment, Math.max(0, segment - stride), packedHere));
  }

  /** Faults in fresh memory ahead of the first `add`, a little per turn (see `Kernels.touch`). */
  warm(): Promise<void> {
    return this.kernels.fresh ? this.kernels.touch() : Promise.resolve();
  }

  /** Gives the kernel's memory back for a later pass or separation; this is unusable after. */
  release(): void {
    giveBackKernels(overlapAddBytes(this.rows, this.segment, this.span, this.packedHere), this.kernels);
  }

  /**
   * Adds a model output `[K,2,S]` centre-trimmed to `used` samples (demucs `center_trim`) at
   * `offset`, weighted by the first `used` weights as demucs does (`weight[:chunk_length]`), and
   * returns the samples now final: up to `next` (the next chunk's offset), or to the end of the
   * pass for its last chunk, with each row's peak |sample| (NaN if any is NaN) measured on the
   * way. The block's data (rows `segment` apart) and peaks are reused by the next call: consume
   * them first.
   */
  add(offset: number, output: Float32Array, used: number, next: number | undefined): Block {
    if (offset !== this.windowStart) throw new Error(`chunk at ${offset} does not follow the released samples (${this.windowStart})`);
    const { rows, segment, span, kernels } = this;
    const final = Math.min(used, (next ?? this.length) - offset);
    if (used - final > span) throw new Error(`chunk at ${offset} leaves ${used - final} samples to the next, more than the ${span} a stride allows`);
    const trim = Math.floor((segment - used) / 2);
    // Only the kept part of each row goes into the kernel's memory.
    for (let r = 0; r < rows; r++) {
      const from = r * segment + trim;
      kernels.f32(this.output + from * Float32Array.BYTES_PER_ELEMENT, used).set(output.subarray(from, from + used));
    }
    const { scale, mean } = this.denormalise;
    kernels.exports.add(rows, segment, span, this.sums, this.weights, this.weight, this.norm, this.output, trim, used, final, this.held, scale, mean, this.peaks);
    this.held = used - final;
    const data = kernels.f32(this.output + trim * Float32Array.BYTES_PER_ELEMENT, (rows - 1) * segment + final);
    const block = { start: this.windowStart, length: final, stride: segment, data, peaks: kernels.f32(this.peaks, rows) };
    this.windowStart += final;
    return block;
  }
}

/** What an OverlapAdd lays out in its kernel's memory (see the constructor), with alignment to spare. */
function overlapAddBytes(rows: number, segment: number, span: number, packedHere: boolean): number {
  const floats = rows * segment + rows * span + segment + 2 * span + rows;
  return floats * Float32Array.BYTES_PER_ELEMENT + (packedHere ? packRoomBytes(segment) : 0) + 8 * 16;
}

/**
 * Averages the shift passes on the track's timeline. Passes finish samples at different times;
 * a sample leaves once every pass has delivered it. Memory is bounded because the caller
 * interleaves the passes by track position, keeping their frontiers within about a segment.
 */
export class PassAverage {
  private start = 0; // track position of sums[.., 0]
  private end = 0; // track position past the last sample any pass has added
  private capacity: number;
  private sums: Float64Array; // [K*2, capacity]
  private readonly frontier: number[];
  /** With a single pass there is nothing to average: its blocks wait here, trimmed to the track. */
  private readonly single: Block[] = [];

  constructor(
    private readonly rows: number,
    private readonly passes: number,
    private readonly length: number, // track length
    initialCapacity: number,
  ) {
    this.capacity = passes === 1 ? 0 : initialCapacity;
    this.sums = new Float64Array(rows * this.capacity);
    this.frontier = new Array<number>(passes).fill(0);
  }

  /** Adds a pass' finished block given on the track timeline; samples outside the track are dropped. */
  add(pass: number, block: Block): void {
    const from = Math.max(block.start, this.start);
    const to = Math.min(block.start + block.length, this.length);
    if (to > from && this.passes === 1) this.single.push(trim(block, from, to));
    else if (to > from) {
      this.reserve(to - this.start);
      const { sums, capacity } = this;
      for (let r = 0; r < this.rows; r++) {
        const into = r * capacity - this.start;
        const source = r * block.stride - block.start;
        for (let t = from; t < to; t++) sums[into + t] = (sums[into + t] as number) + (block.data[source + t] as number);
      }
      this.end = Math.max(this.end, to);
    }
    this.frontier[pass] = Math.max(this.frontier[pass] as number, to);
  }

  /** The averaged samples every pass has delivered since the last call, if any. */
  take(): Block | undefined {
    const count = Math.min(...this.frontier) - this.start;
    if (count <= 0) return undefined;
    if (this.passes === 1) return this.takeSingle(count);
    const { sums, capacity, passes } = this;
    // Only [start, end) holds sums; the rest of the capacity is zeros and need not move.
    const held = Math.max(this.end - this.start, count);
    const data = new Float32Array(this.rows * count);
    for (let r = 0; r < this.rows; r++) {
      const row = r * capacity;
      for (let i = 0; i < count; i++) data[r * count + i] = (sums[row + i] as number) / passes;
      sums.copyWithin(row, row + count, row + held);
      sums.fill(0, row + held - count, row + held);
    }
    const block = { start: this.start, length: count, stride: count, data };
    this.start += count;
    return block;
  }

  private takeSingle(count: number): Block {
    const blocks = this.single.splice(0);
    const block = blocks.length === 1 ? (blocks[0] as Block) : concat(blocks, this.rows);
    if (block.start !== this.start || block.length !== count) throw new Error('a single pass delivered blocks out of order');
    this.start += count;
    return block;
  }

  private reserve(size: number): void {
    if (size <= this.capacity) return;
    const capacity = Math.max(size, 2 * this.capacity);
    const sums = new Float64Array(this.rows * capacity);
    for (let r = 0; r < this.rows; r++) sums.set(this.sums.subarray(r * this.capacity, (r + 1) * this.capacity), r * capacity);
    this.sums = sums;
    this.capacity = capacity;
  }
}

/**
 * Samples `[from, to)` of a block (track positions), as a view of the same memory with the same
 * row stride: the first and the last block reach outside the track, and a copy of them cost
 * megabytes of fresh memory. The block's peaks are dropped: they cover samples outside the range.
 */
function trim(block: Block, from: number, to: number): Block {
  if (from === block.start && to === block.start + block.length) return block;
  return { start: from, length: to - from, stride: block.stride, data: block.data.subarray(from - block.start) };
}

/** Consecutive blocks joined into one. */
function concat(blocks: readonly Block[], rows: number): Block {
  const length = blocks.reduce((n, b) => n + b.length, 0);
  const data = new Float32Array(rows * length);
  for (let r = 0, at = 0; r < rows; r++) {
    for (const b of blocks) {
      data.set(b.data.subarray(r * b.stride, r * b.stride + b.length), at);
      at += b.length;
    }
  }
  return { start: (blocks[0] as Block).start, length, stride: length, data };
}
