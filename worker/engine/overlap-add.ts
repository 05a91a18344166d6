import { setImmediate as nextTurn } from 'node:timers/promises';

/** A run of finished samples: `data` is `[K,2,length]` (source-major, then channel), float32. */
export interface Block {
  start: number;
  length: number;
  data: Float32Array;
  /** Per row, the largest |sample| in `data` (NaN if any is NaN), when the producer measured it on the way. */
  peaks?: Float32Array;
}

/**
 * demucs' transition weight: a triangle peaking mid-segment, `concat(1..S/2, S-S/2..1) / max`,
 * raised to `power` (the default 1 gives linear cross-fades when overlap < 50 %). float32, as
 * demucs' own tensor.
 */
export function transitionWeight(segment: number, power: number): Float32Array {
  const half = Math.floor(segment / 2);
  const weight = new Float32Array(segment);
  for (let i = 0; i < half; i++) weight[i] = i + 1;
  for (let i = half; i < segment; i++) weight[i] = segment - i;
  const max = Math.max(half, segment - half);
  return weight.map((w) => (w / max) ** power);
}

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
 * Sums are float32 as in demucs' `apply_model` (`out`, `sum_weight`), which also halves the
 * memory traffic of the busiest loop in the engine. De-normalising here rather than after the
 * shift passes are averaged is the same value (the map is affine), and saves a pass over every
 * sample.
 */
export class OverlapAdd {
  private windowStart = 0;
  /** Samples from windowStart that earlier chunks reach into: only these have sums. */
  private held = 0;
  private readonly sums: Float32Array; // [K*2, S]: weighted chunk outputs from windowStart
  private readonly weights: Float32Array; // [S]: summed weights from windowStart
  private readonly norm: Float32Array; // [S]: scale / summed weight, for the held samples
  private released: Float32Array; // [K*2, final]: the last block handed out

  constructor(
    private readonly rows: number, // K * 2 (sources times channels)
    private readonly segment: number,
    private readonly length: number, // the pass' timeline length
    private readonly weight: Float32Array,
    private readonly denormalise: Denormalise = { scale: 1, mean: 0 },
  ) {
    this.sums = new Float32Array(rows * segment);
    this.weights = new Float32Array(segment);
    this.norm = new Float32Array(segment);
    this.released = new Float32Array(0);
  }

  /**
   * Adds a model output `[K,2,S]` centre-trimmed to `used` samples (demucs `center_trim`) at
   * `offset`, weighted by the first `used` weights as demucs does (`weight[:chunk_length]`), and
   * returns the samples now final: up to `next` (the next chunk's offset), or to the end of the
   * pass for its last chunk. The block's data is reused by the next call: consume it first.
   */
  async add(offset: number, output: Float32Array, used: number, next: number | undefined): Promise<Block> {
    if (offset !== this.windowStart) throw new Error(`chunk at ${offset} does not follow the released samples (${this.windowStart})`);
    const final = Math.min(used, (next ?? this.length) - offset);
    const overlapped = Math.min(this.held, final); // final samples that earlier chunks also cover
    const trim = Math.floor((this.segment - used) / 2);
    const { sums, weights, weight, norm, segment } = this;
    const { scale, mean } = this.denormalise;
    if (this.released.length < this.rows * final) this.released = new Float32Array(this.rows * final);
    const data = this.released.subarray(0, this.rows * final);
    for (let i = 0; i < overlapped; i++) norm[i] = scale / ((weights[i] as number) + (weight[i] as number));
    // Locals, not `this.` fields, in the loops: V8 then keeps the typed arrays in registers.
    // The rows' peaks are taken as the samples are made: the stems' clip decision then needs no
    // pass of its own over every sample.
    const peaks = new Float32Array(this.rows);
    for (let r = 0; r < this.rows; r++) {
      // A source's two rows at a time, then a turn of the event loop: a whole chunk at htdemucs'
      // segment is tens of ms of arithmetic, too long to keep chat and queue work waiting.
      if (r > 0 && r % 2 === 0) await nextTurn();
      const row = r * segment;
      const from = row + trim;
      const into = r * final;
      let peak = 0;
      for (let i = 0; i < overlapped; i++) {
        const value = ((sums[row + i] as number) + (weight[i] as number) * (output[from + i] as number)) * (norm[i] as number) + mean;
        data[into + i] = value;
        const level = Math.abs(value);
        if (level > peak || level !== level) peak = level;
      }
      // Covered by this chunk alone: the weight divides out, (w * x) / w = x.
      for (let i = overlapped; i < final; i++) {
        const value = (output[from + i] as number) * scale + mean;
        data[into + i] = value;
        const level = Math.abs(value);
        if (level > peak || level !== level) peak = level;
      }
      peaks[r] = peak;
      // The part the next chunks overlap slides to the window's start as it is summed: position
      // i - final is written only after position i was read.
      for (let i = final; i < used; i++) sums[row + i - final] = (sums[row + i] as number) + (weight[i] as number) * (output[from + i] as number);
      sums.fill(0, row + Math.max(0, used - final), row + Math.max(this.held, used));
    }
    for (let i = final; i < used; i++) weights[i - final] = (weights[i] as number) + (weight[i] as number);
    weights.fill(0, Math.max(0, used - final), Math.max(this.held, used));
    this.held = used - final;
    const block = { start: this.windowStart, length: final, data, peaks };
    this.windowStart += final;
    return block;
  }
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
    if (to > from && this.passes === 1) this.single.push(slice(block, from, to, this.rows));
    else if (to > from) {
      this.reserve(to - this.start);
      const { sums, capacity } = this;
      for (let r = 0; r < this.rows; r++) {
        const into = r * capacity - this.start;
        const source = r * block.length - block.start;
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
    const block = { start: this.start, length: count, data };
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

/** Samples `[from, to)` of a block (track positions); the block itself when that is all of it. */
function slice(block: Block, from: number, to: number, rows: number): Block {
  if (from === block.start && to === block.start + block.length) return block;
  const length = to - from;
  const data = new Float32Array(rows * length);
  for (let r = 0; r < rows; r++) {
    const at = r * block.length + from - block.start;
    data.set(block.data.subarray(at, at + length), r * length);
  }
  return { start: from, length, data };
}

/** Consecutive blocks joined into one. */
function concat(blocks: readonly Block[], rows: number): Block {
  const length = blocks.reduce((n, b) => n + b.length, 0);
  const data = new Float32Array(rows * length);
  for (let r = 0, at = 0; r < rows; r++) {
    for (const b of blocks) {
      data.set(b.data.subarray(r * b.length, (r + 1) * b.length), at);
      at += b.length;
    }
  }
  return { start: (blocks[0] as Block).start, length, data };
}
