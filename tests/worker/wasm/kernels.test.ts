import { describe, expect, it } from 'vitest';
import { prepareKernels, takeKernels } from '../../../worker/wasm/kernels.js';

describe('prepared kernel instances', () => {
  it('hand the next user of their size memory already grown and touched, so the chunk loop pays no page faults', async () => {
    const bytes = 3 * 2 ** 20 + 4096; // an odd size no other test uses
    await prepareKernels(bytes);
    const kernels = takeKernels(bytes);
    expect(kernels.fresh).toBe(false);
    expect(kernels.exports.memory.buffer.byteLength).toBeGreaterThanOrEqual(bytes);
    // Its regions start over: the first reserve gets the start of the heap again.
    expect(kernels.reserve(16)).toBeLessThan(4096);
    // Another size is not served by it.
    expect(takeKernels(bytes + 65536).fresh).toBe(true);
  });
});
