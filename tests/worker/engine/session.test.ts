import { availableParallelism } from 'node:os';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { physicalCores } from '../../../worker/engine/cpu-cores.js';
import { loadModel } from '../../../worker/engine/model.js';
import { sessionOptions } from '../../../worker/engine/session.js';
import { writeModel } from '../../support/onnx-models.js';

function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  return { logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }), lines };
}

const processor = (physical: number, core: number): string => `processor\t: x\nphysical id\t: ${physical}\ncore id\t\t: ${core}\nflags\t\t: fpu\n`;

describe('physicalCores', () => {
  it('counts each (physical id, core id) once, so hyper-threads do not count', () => {
    // Two hyper-threads of one core, then one core on each of two sockets (both with core id 0).
    expect(physicalCores(() => [processor(0, 0), processor(0, 0)].join('\n'))).toBe(1);
    expect(physicalCores(() => [processor(0, 0), processor(0, 0), processor(1, 0), processor(1, 0)].join('\n'))).toBe(Math.min(2, availableParallelism()));
  });

  it('falls back to the logical CPUs where /proc/cpuinfo is missing or has no core ids', () => {
    expect(physicalCores(() => 'processor\t: 0\nBogoMIPS\t: 50.00\n\nprocessor\t: 1\nBogoMIPS\t: 50.00\n')).toBe(availableParallelism());
    expect(
      physicalCores(() => {
        throw new Error('ENOENT');
      }),
    ).toBe(availableParallelism());
  });
});

describe('onnx sessions', () => {
  it('are opened with deliberate options: physical cores by default, a setting overrides', () => {
    const options = sessionOptions('cpu', { device: 'cpu' });
    expect(options).toMatchObject({
      executionProviders: ['cpu'],
      intraOpNumThreads: physicalCores(),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      enableCpuMemArena: true,
      enableMemPattern: true,
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    expect(sessionOptions('cuda', { device: 'auto', intraOpThreads: 3 })).toMatchObject({ executionProviders: ['cuda'], intraOpNumThreads: 3 });
  });

  it('are opened once per model and settings, reused by every later load, and logged once', async () => {
    const path = await writeModel({ contract: 'waveform', kind: 'fractions', segment: 4096 });
    const { logger, lines } = recordingLogger();
    const first = await loadModel(path, { device: 'cpu', intraOpThreads: 2 }, logger);
    const again = await Promise.all([loadModel(path, { device: 'cpu', intraOpThreads: 2 }, logger), loadModel(path, { device: 'cpu', intraOpThreads: 2 }, logger)]);
    for (const model of again) expect(model.session).toBe(first.session);
    const other = await loadModel(path, { device: 'cpu', intraOpThreads: 1 }, logger);
    expect(other.session).not.toBe(first.session);
    const opened = lines.filter((line) => line.msg === 'onnx session opened');
    expect(opened.map((line) => line.intraOpNumThreads)).toEqual([2, 1]);
    expect(opened[0]).toMatchObject({ level: 30, model: 'model.onnx', provider: 'cpu', interOpNumThreads: 1, graphOptimizationLevel: 'all', enableMemPattern: true });
  });
});
