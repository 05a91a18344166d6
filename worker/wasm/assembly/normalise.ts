// AssemblyScript, one of the entries of kernels.wasm (`npm run build:wasm`).

/**
 * demucs' input normalisation on a run of the spooled track: interleaved stereo frames at
 * `frames` become planar `[left][right]` at `left` and `right`, each sample `(x - mean) / scale`
 * in float32, as demucs computes `(wav - ref.mean()) / (ref.std() + 1e-8)` on float32 tensors.
 */
export function normalise(frames: usize, n: i32, mean: f32, scale: f32, left: usize, right: usize): void {
  const means = f32x4.splat(mean);
  const scales = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    const a = v128.load(frames + (at << 1)); // l0 r0 l1 r1
    const b = v128.load(frames + (at << 1) + 16); // l2 r2 l3 r3
    v128.store(left + at, f32x4.div(f32x4.sub(v128.shuffle<f32>(a, b, 0, 2, 4, 6), means), scales));
    v128.store(right + at, f32x4.div(f32x4.sub(v128.shuffle<f32>(a, b, 1, 3, 5, 7), means), scales));
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    store<f32>(left + at, (load<f32>(frames + (at << 1)) - mean) / scale);
    store<f32>(right + at, (load<f32>(frames + (at << 1) + 4) - mean) / scale);
  }
}
