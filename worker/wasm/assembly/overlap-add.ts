// AssemblyScript, one of the entries of kernels.wasm (`npm run build:wasm`).
// The busiest loop of the engine, four samples per instruction: OverlapAdd (worker/engine/overlap-add.ts)
// keeps its state in this module's memory and calls `add` once per chunk. Pointers are byte offsets
// into that memory; the output's rows are `segment` floats apart, the sums' `span`. Arithmetic is float32, as demucs' own tensors.

/** First byte the caller may use: below it lies this module's own static data. */
export function heapBase(): usize {
  return __heap_base;
}

/**
 * One chunk's overlap-add, as OverlapAdd.add documents: `output` holds the model's `[rows, segment]`
 * result; samples [0, final) of the window are final and are written back in place (each row's
 * from `output + trim`) divided by their summed weight and de-normalised (`x * scale + mean`),
 * with each row's peak |x| (NaN if any sample is NaN) in `peaks`; samples [final, used) are summed
 * into `sums`/`weights`, slid to the window's start. Only the `held` samples the previous chunk
 * left there are read from `sums`/`weights`, so those rows need `span` floats, the most any chunk
 * leaves (segment - stride), and nothing past `held` needs clearing.
 */
export function add(
  rows: i32, segment: i32, span: i32, sums: usize, weights: usize, weight: usize, norm: usize, output: usize,
  trim: i32, used: i32, final: i32, held: i32, scale: f32, mean: f32, peaks: usize,
): void {
  const overlapped = min(held, final);
  const scales = f32x4.splat(scale);
  const means = f32x4.splat(mean);
  let i = 0;
  for (; i + 4 <= overlapped; i += 4) {
    const at = <usize>i << 2;
    v128.store(norm + at, f32x4.div(scales, f32x4.add(v128.load(weights + at), v128.load(weight + at))));
  }
  for (; i < overlapped; i++) {
    const at = <usize>i << 2;
    store<f32>(norm + at, scale / (load<f32>(weights + at) + load<f32>(weight + at)));
  }
  for (let r = 0; r < rows; r++) {
    const rowSums = sums + ((<usize>r * span) << 2);
    const from = output + ((<usize>r * segment + trim) << 2);
    const into = from; // each vector is read before it is written back
    // pmax is one instruction where max, which must return NaN for a NaN, is several: NaNs are
    // caught by a mask of their own instead.
    let peak4 = f32x4.splat(0);
    let nan4 = i32x4.splat(0);
    let peak: f32 = 0;
    i = 0;
    // Covered by earlier chunks too: the running sum plus this chunk, over the summed weight.
    for (; i + 4 <= overlapped; i += 4) {
      const at = <usize>i << 2;
      const sum = f32x4.add(v128.load(rowSums + at), f32x4.mul(v128.load(weight + at), v128.load(from + at)));
      const value = f32x4.add(f32x4.mul(sum, v128.load(norm + at)), means);
      v128.store(into + at, value);
      peak4 = f32x4.pmax(peak4, f32x4.abs(value));
      nan4 = v128.or(nan4, f32x4.ne(value, value));
    }
    for (; i < overlapped; i++) {
      const at = <usize>i << 2;
      const value = (load<f32>(rowSums + at) + load<f32>(weight + at) * load<f32>(from + at)) * load<f32>(norm + at) + mean;
      store<f32>(into + at, value);
      peak = max(peak, abs(value));
    }
    // Covered by this chunk alone: the weight divides out, (w * x) / w = x.
    for (; i + 4 <= final; i += 4) {
      const at = <usize>i << 2;
      const value = f32x4.add(f32x4.mul(v128.load(from + at), scales), means);
      v128.store(into + at, value);
      peak4 = f32x4.pmax(peak4, f32x4.abs(value));
      nan4 = v128.or(nan4, f32x4.ne(value, value));
    }
    for (; i < final; i++) {
      const at = <usize>i << 2;
      const value = load<f32>(from + at) * scale + mean;
      store<f32>(into + at, value);
      peak = max(peak, abs(value));
    }
    // f32.max returns NaN when either side is NaN: a NaN sample makes the peak NaN.
    peak = max<f32>(max<f32>(max<f32>(peak, f32x4.extract_lane(peak4, 0)), f32x4.extract_lane(peak4, 1)), max<f32>(f32x4.extract_lane(peak4, 2), f32x4.extract_lane(peak4, 3)));
    if (v128.any_true(nan4)) peak = NaN;
    store<f32>(peaks + (<usize>r << 2), peak);
    // The part the next chunks overlap slides to the window's start as it is summed: a vector is
    // read whole before it is written final floats lower, so no sample is read after its overwrite.
    // Past `held` the sums hold nothing of earlier chunks (and are not read): this chunk alone.
    const shift = <usize>final << 2;
    const summed = max(final, min(held, used));
    i = final;
    for (; i + 4 <= summed; i += 4) {
      const at = <usize>i << 2;
      v128.store(rowSums + at - shift, f32x4.add(v128.load(rowSums + at), f32x4.mul(v128.load(weight + at), v128.load(from + at))));
    }
    for (; i < summed; i++) {
      const at = <usize>i << 2;
      store<f32>(rowSums + at - shift, load<f32>(rowSums + at) + load<f32>(weight + at) * load<f32>(from + at));
    }
    for (; i + 4 <= used; i += 4) {
      const at = <usize>i << 2;
      v128.store(rowSums + at - shift, f32x4.mul(v128.load(weight + at), v128.load(from + at)));
    }
    for (; i < used; i++) {
      const at = <usize>i << 2;
      store<f32>(rowSums + at - shift, load<f32>(weight + at) * load<f32>(from + at));
    }
  }
  const shift = <usize>final << 2;
  for (i = final; i < used; i++) {
    const at = <usize>i << 2;
    store<f32>(weights + at - shift, (i < held ? load<f32>(weights + at) : 0) + load<f32>(weight + at));
  }
}
