import { describe, expect, it } from 'vitest';
import { floatToInt, lameInt16, packSamples, PACKED_FRAME_BYTES, type SampleKind } from '../../../worker/audio/pcm.js';
import { Kernels } from '../../../worker/wasm/kernels.js';

/** What each kind must be, sample by sample, from the scalar references. */
function reference(left: Float32Array, right: Float32Array, kind: SampleKind): Buffer {
  const out = Buffer.alloc(left.length * PACKED_FRAME_BYTES[kind]);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < left.length; i++) {
    for (const [c, x] of [left[i] as number, right[i] as number].entries()) {
      const frame = i * PACKED_FRAME_BYTES[kind];
      const half = PACKED_FRAME_BYTES[kind] / 2;
      if (kind === 'f32') view.setFloat32(frame + c * half, x, true);
      if (kind === 'pcm16') view.setInt16(frame + c * half, floatToInt(x, 15), true);
      if (kind === 'pcm24') view.setInt32(frame + c * half, floatToInt(x, 23) * 256, true);
      if (kind === 'lame16') view.setInt16(frame + c * half, lameInt16(x), true);
    }
  }
  return out;
}

/** Samples an encoder meets and the ones made to sit on every rounding and clipping edge. */
function awkwardSamples(count: number): Float32Array {
  const edges = [
    0, -0, 1, -1, 0.99, -0.99, 1.5, -1.5, 1e30, -1e30, Infinity, -Infinity, Number.NaN, 1e-45, -1e-45,
    32767 / 32768, 32767.5 / 32768, -32768.5 / 32768, 0.5 / 32768, 1.5 / 32768, 2.5 / 32768, -0.5 / 32768, -2.5 / 32768,
    8388607.5 / 8388608, 0.5 / 8388608, 1.5 / 8388608, -8388608.5 / 8388608, 12344.99999 / 32767, 0.3,
  ];
  const samples = new Float32Array(count);
  let seed = 7;
  for (let i = 0; i < count; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    samples[i] = i < edges.length ? (edges[i] as number) : (seed / 2 ** 32) * 2.4 - 1.2;
  }
  return samples;
}

describe('packSamples', () => {
  // 1003 frames: the kernels' 4- and 8-frame steps and their scalar tails both run.
  const left = awkwardSamples(1003);
  const right = awkwardSamples(1003).reverse();

  it.each(['f32', 'pcm16', 'pcm24', 'lame16'] as const)('packs %s exactly as the per-sample reference', (kind) => {
    expect(packSamples([left, right], kind).equals(reference(left, right, kind))).toBe(true);
  });

  it('packs blocks of every length up to 17 frames, and views into larger buffers', () => {
    const big = awkwardSamples(64);
    for (let n = 0; n <= 17; n++) {
      const l = big.subarray(3, 3 + n);
      const r = big.subarray(40, 40 + n);
      expect(packSamples([l, r], 'pcm16').equals(reference(l, r, 'pcm16'))).toBe(true);
    }
  });

  it('packs into a reused buffer, and keeps what a larger block packed before correct', () => {
    const first = packSamples([left, right], 'pcm16');
    const again = packSamples([left.subarray(0, 10), right.subarray(0, 10)], 'pcm16', first.buffer as ArrayBuffer);
    expect(again.buffer).toBe(first.buffer);
    expect(again.equals(reference(left.subarray(0, 10), right.subarray(0, 10), 'pcm16'))).toBe(true);
  });

  it.each(['f32', 'pcm16', 'pcm24', 'lame16'] as const)('packs %s samples lying in kernel memory with room there, leaving them as they were', (kind) => {
    const kernels = new Kernels();
    const at = kernels.reserve(2 * left.length * Float32Array.BYTES_PER_ELEMENT);
    kernels.reservePackRoom(left.length);
    // Rows at an odd float offset, as the engine's trimmed blocks lie.
    const l = kernels.f32(at + 4, left.length - 1);
    const r = kernels.f32(at + 4 * left.length, left.length - 1);
    l.set(left.subarray(1));
    r.set(right.subarray(1));
    const { packRoom } = kernels;
    if (!packRoom) throw new Error('no pack room');
    // Poisoned: the packed bytes must come from this call, not lie there already.
    kernels.bytes(packRoom.at, packRoom.bytes).fill(0xa5);
    expect(packSamples([l, r], kind).equals(reference(left.subarray(1), right.subarray(1), kind))).toBe(true);
    expect(kernels.bytes(packRoom.at, 4)).not.toEqual(new Uint8Array([0xa5, 0xa5, 0xa5, 0xa5]));
    expect([...l]).toEqual([...left.subarray(1)]);
  });

  it('refuses anything but two channels of equal length', () => {
    expect(() => packSamples([left], 'pcm16')).toThrow(RangeError);
    expect(() => packSamples([left, right.subarray(1)], 'pcm16')).toThrow(RangeError);
  });
});
