import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { inverseInPool, spectrogramInPool, workerEntry } from '../../../worker/engine/stft-pool.js';
import { addInverseSpectrogram, SPEC_BINS, spectrogramChannel, specFrames } from '../../../worker/engine/stft.js';

const exec = promisify(execFile);
const S = 20_000;
const T = specFrames(S);
const shared = (length: number): Float32Array => new Float32Array(new SharedArrayBuffer(length * 4));
const signal = (): Float32Array => {
  const x = shared(S);
  for (let i = 0; i < S; i++) x[i] = 0.5 * Math.sin(i * 0.021) + 0.2 * Math.cos(i * 0.37);
  return x;
};

describe('the STFT pool', () => {
  it('starts its workers from the compiled JS in dist/, and from the TypeScript sources through tsx', () => {
    const compiled = workerEntry('file:///app/dist/worker/engine/stft-pool.js');
    expect(compiled).toEqual({ filename: '/app/dist/worker/engine/stft-worker.js', execArgv: [] });
    const sources = workerEntry(pathToFileURL(fileURLToPath(new URL('../../../worker/engine/stft-pool.ts', import.meta.url))).href);
    expect(sources.filename).toMatch(/worker\/engine\/stft-worker\.ts$/);
    expect(sources.execArgv).toEqual(['--require', expect.stringMatching(/node_modules\/tsx\/dist\/cjs\/index\.cjs$/)]);
  });

  it('computes on worker threads exactly what the functions compute on the main thread, in shared memory', async () => {
    const x = signal();
    const spec = shared(2 * SPEC_BINS * T);
    await spectrogramInPool(x, spec);
    const direct = new Float32Array(2 * SPEC_BINS * T);
    spectrogramChannel(x, direct);
    expect(spec).toEqual(direct);

    const stereoSpec = shared(4 * SPEC_BINS * T);
    stereoSpec.set(spec);
    stereoSpec.set(spec.map((v) => -0.5 * v), 2 * SPEC_BINS * T);
    const out = shared(2 * S).fill(9); // overwritten, not added to
    await inverseInPool(stereoSpec, S, out);
    const expected = [new Float32Array(S), new Float32Array(S)];
    addInverseSpectrogram(stereoSpec, S, expected);
    expect(out.subarray(0, S)).toEqual(expected[0]);
    expect(out.subarray(S)).toEqual(expected[1]);
  });

  it('refuses buffers that are not shared, whose results the worker could not hand back', async () => {
    await expect(spectrogramInPool(new Float32Array(S), shared(2 * SPEC_BINS * T))).rejects.toThrow(/SharedArrayBuffer/);
  });

  it('runs from the build in plain node, without tsx', async () => {
    // dist/ is built by the suite's global setup (tests/support/build-cli.ts), as `npm run build` does.
    const pool = new URL('../../../dist/worker/engine/stft-pool.js', import.meta.url).href;
    const script = `
      const { spectrogramInPool } = await import(${JSON.stringify(pool)});
      const x = new Float32Array(new SharedArrayBuffer(${S} * 4));
      for (let i = 0; i < ${S}; i++) x[i] = 0.5 * Math.sin(i * 0.021) + 0.2 * Math.cos(i * 0.37);
      const out = new Float32Array(new SharedArrayBuffer(${2 * SPEC_BINS * T} * 4));
      await spectrogramInPool(x, out);
      process.stdout.write(JSON.stringify(Array.from(out.subarray(0, 64))));`;
    const { stdout } = await exec(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_OPTIONS: '' } });
    const direct = new Float32Array(2 * SPEC_BINS * T);
    spectrogramChannel(signal(), direct);
    expect(JSON.parse(stdout)).toEqual(Array.from(direct.subarray(0, 64)));
  });
});
