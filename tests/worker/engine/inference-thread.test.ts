import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { createThreadedSession } from '../../../worker/engine/inference-thread.js';
import { HTDEMUCS_SEGMENT } from '../../../worker/engine/registry.js';
import { FRACTIONS, writeModel } from '../../support/onnx-models.js';

const S = HTDEMUCS_SEGMENT;
const options: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: 1 };

async function htdemucsShaped() {
  return createThreadedSession(await readFile(await writeModel({ contract: 'waveform', kind: 'fractions', segment: S })), options);
}

describe('the inference thread', () => {
  it('runs a chunk off this thread: the event loop turns while the model works', async () => {
    const session = await htdemucsShaped();
    const input = new ort.Tensor('float32', new Float32Array(2 * S).fill(0.5), [1, 2, S]);
    const turns: string[] = [];
    const running = session.run({ [session.inputNames[0]!]: input }).then(() => turns.push('run done'));
    setImmediate(() => turns.push('event loop turned'));
    await running;
    // On the main thread, onnxruntime-node's run blocks from its own setImmediate until it is done.
    expect(turns).toEqual(['event loop turned', 'run done']);
    expect(session.lastRunMs).toBeGreaterThan(0);
  });

  it('gives the model’s results, filling a preallocated output in place', async () => {
    const session = await htdemucsShaped();
    const input = new Float32Array(2 * S).map((_, i) => Math.sin(i));
    const output = new Float32Array(4 * 2 * S);
    const fetch = new ort.Tensor('float32', output, [1, 4, 2, S]);
    const results = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, [1, 2, S]) }, { [session.outputNames[0]!]: fetch });
    expect(results[session.outputNames[0]!]).toBe(fetch);
    FRACTIONS.forEach((fraction, k) => expect(output[k * 2 * S + 12345]).toBeCloseTo(Math.fround(input[12345]!) * fraction, 6));
    expect(input[12345]).toBeCloseTo(Math.sin(12345), 6); // the caller's input is copied, not moved
  });

  it('fills recycled outputs with each new run’s results, never an earlier run’s', async () => {
    const session = await htdemucsShaped();
    const [inputName, outputName] = [session.inputNames[0]!, session.outputNames[0]!];
    const shapes = { [outputName]: [1, 4, 2, S] };
    const run = async (value: number): Promise<Float32Array> => {
      const input = new ort.Tensor('float32', new Float32Array(2 * S).fill(value), [1, 2, S]);
      return (await session.run({ [inputName]: input }, { [outputName]: null }, shapes))[outputName]!.data as Float32Array;
    };
    const first = await run(0.25);
    expect(first[4 * 2 * S - 1]).toBeCloseTo(0.25 * FRACTIONS[3]!, 6);
    session.recycle([first]);
    expect(first.length).toBe(0); // moved back to the thread: this side cannot read it any more
    for (const value of [0.5, -0.75]) {
      const output = await run(value);
      FRACTIONS.forEach((fraction, k) => expect(output[k * 2 * S + 7]).toBeCloseTo(value * fraction, 6));
      session.recycle([output]);
    }
  });

  it('moves inputs from inputBuffer to the thread and back, uncopied, and they serve again', async () => {
    const session = await htdemucsShaped();
    const [inputName, outputName] = [session.inputNames[0]!, session.outputNames[0]!];
    for (const value of [0.5, -0.25, 0.125]) {
      const input = session.inputBuffer(2 * S).fill(value);
      const results = await session.run({ [inputName]: new ort.Tensor('float32', input, [1, 2, S]) });
      expect(input.length).toBe(0); // moved, not copied: this side's view is detached
      FRACTIONS.forEach((fraction, k) => expect((results[outputName]!.data as Float32Array)[k * 2 * S + 99]).toBeCloseTo(value * fraction, 6));
    }
    expect(session.inputBuffer(2 * S).length).toBe(2 * S);
  });

  it('times a run queued behind another from when the thread took it up: neither is timed as both', async () => {
    const [first, second] = await Promise.all([htdemucsShaped(), htdemucsShaped()]);
    const feed = (session: typeof first) => ({ [session.inputNames[0]!]: new ort.Tensor('float32', session.inputBuffer(2 * S).fill(0.25), [1, 2, S]) });
    // Sent in the same turn: the thread computes the first while the second waits in its queue.
    await Promise.all([first.run(feed(first)), second.run(feed(second))]);
    for (const session of [first, second]) {
      expect(session.lastSpanMs).toBeGreaterThanOrEqual(session.lastRunMs);
      expect(session.lastHandoffMs).toBeGreaterThanOrEqual(0);
    }
    // The wait behind the first run is neither work on the second nor its hand-off.
    expect(second.lastSpanMs - second.lastRunMs).toBeLessThan(first.lastRunMs);
    expect(second.lastHandoffMs).toBeLessThan(first.lastRunMs);
  });

  it('refuses a file that is not a model with onnxruntime’s reason, and stays usable', async () => {
    await expect(createThreadedSession(new TextEncoder().encode('not onnx'), options)).rejects.toThrow(/protobuf|parse|model/i);
    expect((await htdemucsShaped()).usable).toBe(true);
  });
});
